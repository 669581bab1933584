"""Cut a cleaned document into passages along its own structure.

A document is read line by line into blocks (headings, paragraphs, bullets, table rows),
split into papers where one file bundles several (an agenda pack: minutes, briefing notes,
a work programme; a report with appendices), and each paper into sections by its headings.
Passages are runs of blocks inside one section; every passage is an exact span of the
document text. What a passage needs for retrieval but does not itself contain (the table
header its rows belong to, the sentence that introduces a list) goes into its context.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from .config import ChunkSettings
from .dates import MONTHS
from .ingest import Document
from .sentences import split_sentences

SECTION_SEP = " › "


def section_path(item) -> str:
    """Where in its document a passage, hit or commitment stands: paper › headings."""
    return SECTION_SEP.join(x for x in (item.paper, item.section) if x)


@dataclass
class Block:
    kind: str  # heading | para | bullet | row | furniture
    start: int
    end: int
    text: str
    level: int = 0


@dataclass
class Passage:
    doc_id: str
    paper: str
    section: str
    start: int
    end: int
    text: str
    kind: str = "text"  # text | table
    context: str = ""
    # The section's opening sentence, for a passage that is not the section's first: what the
    # passage is about when it does not say so itself (kept apart: it helps word matching,
    # and it blurs an embedding).
    opening: str = ""
    # 1-based page where the passage begins, and where it ends if on a later page; None for
    # formats without pages.
    page: int | None = None
    page_end: int | None = None


@dataclass
class Paper:
    title: str
    blocks: list = field(default_factory=list)


# --- line classification --------------------------------------------------------------------

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")
# A list item's mark at a line's start: a bullet, "(a)", "1)".
BULLET = re.compile(r"^(?:[-–•*·o▪]\s|\(?[a-z]{1,3}\)\s|\(\d{1,2}\)\s|\d{1,2}\)\s)")
_MONTH_WORD = re.compile(r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)
# When a meeting is and how to reach its officers ("Monday, 13 November 2017", "Telephone:
# (024) 7683 3073", an email address), and a report's memo fields ("To: ... Board", "From:
# Prof ...", "Subject: ..."): set apart like headings, but no section of the paper.
_PARTICULARS = re.compile(
    r"^(?:(?:date|tel|telephone|fax|e-?mail|to|from|subject|cc|author|report author|"
    r"contact(?: officer)?|on behalf of)\s*:|\S+@\S+$|yours (?:sincerely|faithfully)\b|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b,?\s+\d|"
    rf"(?:{'|'.join(MONTHS)})\s+\d{{4}}$)", re.I)
# A contents entry's page number: after dot leaders or a wide gap ("Introduction ..... 4"), or
# after a space when the heading without it is one of the document's ("Introduction 4"
# listing "Introduction") or is numbered in plain text ("1. Introduction 4"); never a
# year, nor the end of a range ("Plan 2017-19").
_LEADER_NUMBER = re.compile(r"(?:\s*\.{2,}|\s{2,})\s*\d{1,4}\s*$")
_PAGE_NUMBER = re.compile(r"(?<![-–/\d])\s+\d{1,3}\s*$")
# Lines set apart like headings that no section is named by: a person with their role under
# an agenda ("Martin Yardley, Deputy Chief Executive (Place)"), a notice ("Please note: a
_SIGNATORY = re.compile(r"^(?:(?:Cllr|Dr|Mr|Mrs|Ms|Prof)\.?\s)?[A-Z][a-z'-]+(?:\s[A-Z][a-z'-]+){1,2},\s"
                        r".*\b(?:Chief|Director|Officer|Executive|Manager|Councillor|Chair|Head|"
                        r"Lead|Secretary|Clerk|Leader|Member)\b")
# hearing loop is available"), an empty entry ("Nil", "None").
_NOTICE = re.compile(r"^(?i:please\s|notes?\s*:|n\.?b\.?[\s:])|"
                     r"^(?i:nil|none|n/?a|tb[ca])\.?$")


def _lines(text: str):
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def _plausible_next(nums: tuple, cur: tuple | None) -> bool:
    """Whether heading number `nums` can follow heading number `cur` (4.3 -> 4.4, 5, 5.1, 4.3.1)."""
    if cur is None:
        return True
    d = len(nums)
    prefix, last = nums[:-1], nums[-1]
    if prefix == cur[:d - 1] and len(cur) >= d - 1:
        prev = cur[d - 1] if len(cur) >= d else 0
        return prev < last <= prev + 2
    return d > 1 and last in (0, 1) and _plausible_next(prefix, cur)


def _heading_number(line: str) -> tuple | None:
    m = _NUMBERED.match(line)
    if not m:
        return None
    nums = tuple(int(n) for n in m.group(1).split("."))
    if len(nums) > 1 and nums[-1] == 0:  # "6.0 BUILDING ..." is section 6
        nums = nums[:-1]
    rest = m.group(2)
    if not rest[0].isalpha() or _MONTH_WORD.match(rest):
        return None
    return nums


# A report's request to its readers, often left without a full stop ("The board is asked to
# note this report and its contents"): a sentence, however short, not a heading.
_REQUEST = re.compile(r"\b(?:is|are)\s+(?:asked|invited|requested|recommended)\s+to\b", re.I)


def _is_short_title(line: str) -> bool:
    s = line.strip()
    return (2 <= len(s) <= 80 and len(s.split()) <= 12 and s[0].isupper()
            and s[-1] not in ".;,:" and not BULLET.match(s) and not _REQUEST.search(s))


def _furniture(text: str) -> set[str]:
    """Short lines repeated on many pages (running headers, 'DRAFT'): noise, never content."""
    counts = Counter(ln.strip() for ln in text.split("\n") if 0 < len(ln.strip()) <= 80)
    return {ln for ln, n in counts.items() if n >= 3 and "\t" not in ln and not ln[0] in "-•"}


# --- papers ---------------------------------------------------------------------------------

_MINUTES = re.compile(r"^Minutes of the meeting of (.+?)(?: held)?(?: at .+?)? on (.+)$", re.I)
_APPENDIX = re.compile(r"^(Appendix|Annex)\s+\w{1,4}\b[:.\s–-]*(.{0,80})$", re.I)
_BRIEFING = re.compile(r"^Briefing note\s*$", re.I)
_BLANK_PAGE = re.compile(r"^this page is intentionally left blank", re.I)
_SUBJECT = re.compile(r"^Subject:\s*(.+)$", re.I)
_PROGRAMME = re.compile(r"\b(Work Programme|Forward Plan|Action Plan|Terms of Reference)\b", re.I)
_AGENDA_PAGES = re.compile(r"\(Pages? \d+", re.I)
_HEADER_ONLY = re.compile(r"^(Agenda Item \d+\w?|.{0,40}\b(Council|CCG|NHS Trust)|Report)$", re.I)


def _paper_starts(lines: list[tuple[int, str]]) -> list[int]:
    """Line indices at which a new paper begins (the first is always 0)."""
    starts = [0]
    pending = False
    for i, (_, line) in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        if _BLANK_PAGE.match(s):
            pending = True
            continue
        begins = pending or _MINUTES.match(s) or _BRIEFING.match(s) or (
            _APPENDIX.match(s) and len(s) <= 90 and not s.endswith("."))
        pending = False
        if not begins:
            continue
        j = i
        # Pull in the letterhead lines just above ("Agenda Item 3", "Coventry City Council").
        for k in range(i - 1, max(i - 6, starts[-1]) - 1, -1):
            ks = lines[k][1].strip()
            if not ks:
                continue
            if _HEADER_ONLY.match(ks):
                j = k
            else:
                break
        if j > starts[-1]:  # else the paper already begun just above takes this line
            starts.append(j)
    return starts


def _paper_title(lines: list[tuple[int, str]], first: bool) -> str:
    texts = [ln.strip() for _, ln in lines if ln.strip()][:40]
    for s in texts:
        m = _MINUTES.match(s)
        if m:
            return f"Minutes of the {m.group(1)} meeting, {m.group(2)}"
    subject = next((m.group(1) for m in map(_SUBJECT.match, texts) if m), "")
    if subject and not first:
        briefing = any(_BRIEFING.match(s) for s in texts[:10])
        return f"Briefing note: {subject}" if briefing else subject
    for i, s in enumerate(texts[:3]):
        m = _APPENDIX.match(s)
        if m:
            if m.group(2).strip():
                return s
            # Its title on the next line ("Appendix 1" / "Quarter 1 Stocktake letter"), not
            # the first sentence of its text.
            nxt = texts[i + 1] if i + 1 < len(texts) else ""
            return f"{s.rstrip(':')}: {nxt}" if _is_short_title(nxt) else s.rstrip(":")
    if first:
        # The opening paper is the document itself, unless the file is an agenda pack.
        return "Agenda" if sum(bool(_AGENDA_PAGES.search(s)) for s in texts) >= 2 else ""
    prog = next((s for s in texts if _PROGRAMME.search(s) and _is_short_title(s)), "")
    if prog:
        return prog
    return next((s for s in texts if _is_short_title(s)), "")


# --- blocks ---------------------------------------------------------------------------------

def _marked_blocks(doc: Document, lines: list[tuple[int, str]]) -> list[Block]:
    """Blocks of a format that marks its own headings: the loader's headings are the
    headings, and a numbered line is a list item."""
    levels = {h.start: h.level for h in doc.headings}
    blocks: list[Block] = []
    for pos, line in lines:
        s = line.strip()
        if not s:
            continue
        start = pos + len(line) - len(line.lstrip())
        end = pos + len(line)
        if "\t" in line:
            kind = "row"
        elif pos in levels:
            blocks.append(Block("heading", start, end, s, level=levels[pos]))
            continue
        else:
            kind = "bullet" if BULLET.match(s) or _NUMBERED.match(s) else "para"
        blocks.append(Block(kind, start, end, s))
    return blocks


def _blocks(doc: Document, lines: list[tuple[int, str]], furniture: set[str]) -> list[Block]:
    if doc.headings is not None:
        return _marked_blocks(doc, lines)
    blocks: list[Block] = []
    cur: tuple | None = None
    n = len(lines)
    for i, (pos, line) in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        end = pos + len(line)
        lead = len(line) - len(line.lstrip())
        start = pos + lead
        if "\t" in line:
            blocks.append(Block("row", start, end, line[lead:]))
            continue
        if s in furniture:
            blocks.append(Block("furniture", start, end, s))
            continue
        if _PARTICULARS.match(s) or _SIGNATORY.match(s) or _NOTICE.match(s):
            blocks.append(Block("para", start, end, s))
            continue
        bold = pos in doc.bold_lines
        blank_before = i == 0 or not lines[i - 1][1].strip()
        blank_after = i + 1 >= n or not lines[i + 1][1].strip()
        nums = _heading_number(s)
        if nums is not None and _plausible_next(nums, cur) and (cur is not None or bold or
                                                                 nums[0] <= 1):
            title = _NUMBERED.match(s).group(2)
            # A heading stands apart from the lines above it; "5. Practice infrastructure"
            # straight after "4. Workload management" is a list.
            if (len(title) <= 100 and s[-1] not in ".;," and (blank_before or bold)
                    and not (len(title) > 60 and s.endswith(":"))):
                cur = nums
                blocks.append(Block("heading", start, end, s, level=len(nums)))
                continue
            if blank_before and len(nums) > 1:
                # "2.1 The system remains ..." still moves the numbering on; "5. Patient
                # experience: ..." is more often item 5 of a list than section 5.
                cur = nums
        if (bold and len(s) <= 150 and s[-1] not in ".;,") or (
                _is_short_title(s) and blank_before and blank_after and nums is None):
            level = len(cur) + 1 if cur else 1
            blocks.append(Block("heading", start, end, s, level=level))
            continue
        kind = "bullet" if BULLET.match(s) or (nums is not None and not blank_before) else "para"
        blocks.append(Block(kind, start, end, s))
    return _join_wrapped_headings(blocks)


_WRAPPED = re.compile(r"(?:[-–/&,]|\b(?:and|of|for|the|to|in|on|with))$", re.I)


def _join_wrapped_headings(blocks: list[Block]) -> list[Block]:
    """A heading cut at a line break ("24. Better Care Fund Plan 2017-" / "19") with its
    continuation: the heading's last word asks for more and the next line, short and not a
    sentence, follows it directly."""
    out: list[Block] = []
    for b in blocks:
        prev = out[-1] if out else None
        if (prev is not None and prev.kind == "heading" and b.kind == "para"
                and b.start == prev.end + 1 and _WRAPPED.search(prev.text)
                and len(b.text) <= 60 and not b.text.endswith(".")):
            glue = "" if prev.text.endswith(("-", "–", "/")) else " "
            out[-1] = Block("heading", prev.start, b.end, prev.text + glue + b.text, prev.level)
            continue
        out.append(b)
    return out


def parse(doc: Document) -> list[Paper]:
    """The document's papers, each with its blocks."""
    lines = list(_lines(doc.text))
    furniture = _furniture(doc.text)
    starts = _paper_starts(lines) + [len(lines)]
    papers = []
    for k, (a, b) in enumerate(zip(starts, starts[1:])):
        seg = lines[a:b]
        if not any(ln.strip() for _, ln in seg):
            continue
        title = _paper_title(seg, first=(k == 0))
        parent = next((p for p in reversed(papers) if not _APPENDIX.match(p.title)), None)
        if _APPENDIX.match(title) and parent and parent.title and parent is not papers[0]:
            title = f"{parent.title} – {title}"
        papers.append(Paper(title=title, blocks=_blocks(doc, seg, furniture)))
    return papers


# --- passages -------------------------------------------------------------------------------

def _split_long(start: int, end: int, text: str, cfg: ChunkSettings) -> list[tuple[int, int]]:
    """A block longer than max_chars as sentence runs of about target_chars, overlapping."""
    sents = split_sentences(text[start:end], start)
    pieces, i = [], 0
    while i < len(sents):
        j = i
        while j + 1 < len(sents) and sents[j + 1][1] - sents[i][0] <= cfg.target_chars:
            j += 1
        pieces.append((sents[i][0], sents[j][1]))
        if j + 1 >= len(sents):
            break
        i = max(j + 1 - cfg.overlap_sentences, i + 1)
    return pieces


def _heading_label(block: Block, headings: frozenset[str], plain: bool) -> str:
    """A heading as a section's name: "Phase 1", "Strategy 2024" and "Appendix 1" keep their
    numbers; a contents entry loses its page number. headings: the document's headings;
    plain: the document is plain text, where contents pages keep their numbered lines."""
    text = _LEADER_NUMBER.sub("", block.text)
    bare = _PAGE_NUMBER.sub("", text)
    if bare != text and (bare.strip() in headings or (plain and _heading_number(text))):
        text = bare
    return text.rstrip(":").strip()


@dataclass
class _Context:
    """What the passage being built needs from outside itself, as the section unfolds."""

    lead_in: str = ""  # a paragraph ending in ':' that introduces the bullets after it
    header: str = ""  # the first row of the current table
    caption: str = ""  # the line just above the current table
    topic: str = ""  # the bold lead-in label of the last labelled paragraph or bullet
    # The section's opening sentence ("The main focus of this workstream is Medicines
    # Optimisation."): what later paragraphs of the section are about, often unsaid.
    opening: str = ""
    opening_at: int = -1

    def opening_for(self, group: list[Block]) -> str:
        return self.opening if group[0].kind != "row" and group[0].start > self.opening_at else ""

    def for_group(self, group: list[Block], labels: dict) -> str:
        if group[0].kind == "row":
            parts = [self.caption] if self.caption else []
            if self.header and group[0].text != self.header:
                parts.append(self.header)
            return "\n".join(parts)
        parts = [self.topic] if self.topic and group[0].start not in labels else []
        if group[0].kind == "bullet" and self.lead_in:
            parts.append(self.lead_in)
        return "\n".join(parts)


class _PaperChunker:
    """Packs one paper's blocks into passages; each passage an exact span of the text."""

    def __init__(self, doc: Document, paper: Paper, cfg: ChunkSettings,
                 headings: frozenset[str] = frozenset()):
        self.doc, self.paper, self.cfg, self.headings = doc, paper, cfg, headings
        self.out: list[Passage] = []
        self.stack: list[Block] = []  # the headings above the current block
        self.heads: list[Block] = []  # headings not yet placed at the top of a passage
        self.group: list[Block] = []  # blocks of the passage being built
        self.ctx = _Context()
        # The header row of each table the format marks, by the table's span: a table that
        # runs on over a page break keeps the header its first page gave it.
        self.tables = [(t.start, t.end, "\t".join(t.rows[0])) for t in doc.tables]

    def run(self) -> list[Passage]:
        for block in self.paper.blocks:
            self.add(block)
        self.flush()
        if self.heads:  # a paper ending in headings alone (a title page) is still indexed
            a, b = self.heads[0].start, self.heads[-1].end
            self._passage(a, b, "text", "", self.stack[:-1])
        return self.out

    def add(self, block: Block) -> None:
        ctx, group = self.ctx, self.group
        if block.kind == "furniture":
            self.flush()
            return
        if block.kind == "heading":
            self.flush()
            while self.stack and self.stack[-1].level >= block.level:
                self.stack.pop()
            # Headings with no body of their own ride on top of the next passage.
            self.stack.append(block)
            self.heads.append(block)
            self.ctx = _Context()
            return
        if group and (group[0].kind == "row") != (block.kind == "row"):
            self.flush()
        if block.kind == "row":
            marked = next((h for a, b, h in self.tables if a <= block.start <= b), None)
            if marked is not None:
                ctx.header = marked
            if not group and not ctx.header:
                ctx.header = block.text
            elif group and self._size_with(block) > self.cfg.target_chars:
                self.flush()
            group.append(block)
            return
        ctx.header = ""
        ctx.caption = block.text if len(block.text) <= 120 else ""
        if group and self._size_with(block) > self.cfg.target_chars:
            self.flush()
        if block.start in self.doc.labels:
            ctx.topic = self.doc.labels[block.start]
        if block.kind == "para":
            ctx.lead_in = block.text if block.text.endswith(":") else ""
            if not ctx.opening:
                a, b = split_sentences(block.text)[0]
                ctx.opening, ctx.opening_at = block.text[a:b], block.start
        group.append(block)

    def _size_with(self, block: Block) -> int:
        first = self.heads[0] if self.heads else (self.group[0] if self.group else block)
        return block.end - first.start

    def flush(self) -> None:
        group = self.group
        if not group:
            return
        kind = "table" if group[0].kind == "row" else "text"
        context = self.ctx.for_group(group, self.doc.labels)
        opening = self.ctx.opening_for(group)
        a = (self.heads[0] if self.heads else group[0]).start
        b = group[-1].end
        if len(group) == 1 and b - a > self.cfg.max_chars:
            # One block too long to read at a glance: cut it at sentences. A table row's
            # later pieces keep its first cell, which says what the row is about.
            label = group[0].text.split("\t", 1)[0].strip() if kind == "table" else ""
            spans = _split_long(group[0].start, b, self.doc.text, self.cfg)
            for i, (x, y) in enumerate(spans):
                piece_ctx = context if i == 0 or not label else f"{context}\n{label}".strip()
                self._passage(a if i == 0 else x, y, kind, piece_ctx, self.stack, opening)
        else:
            self._passage(a, b, kind, context, self.stack, opening)
        group.clear()
        self.heads = []

    def _passage(self, a: int, b: int, kind: str, context: str, stack: list[Block],
                 opening: str = "") -> None:
        plain = self.doc.headings is None
        section = SECTION_SEP.join(_heading_label(h, self.headings, plain) for h in stack)
        page, page_end = pages_of(self.doc.pages, a, b)
        self.out.append(Passage(self.doc.doc_id, self.paper.title, section, a, b,
                                self.doc.text[a:b], kind, context, opening, page, page_end))


def pages_of(pages: list[int], start: int, end: int) -> tuple[int | None, int | None]:
    """The 1-based page where text[start:end] begins, and the page it ends on if later."""
    if not pages:
        return None, None
    first, last = bisect_right(pages, start), bisect_right(pages, max(start, end - 1))
    return max(first, 1), (last if last > first else None)


def chunk(doc: Document, cfg: ChunkSettings) -> list[Passage]:
    """The document's passages, paper by paper, in reading order."""
    papers = parse(doc)
    headings = frozenset(b.text.strip() for paper in papers for b in paper.blocks
                         if b.kind == "heading")
    return [p for paper in papers for p in _PaperChunker(doc, paper, cfg, headings).run()]
