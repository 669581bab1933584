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
from collections import Counter
from dataclasses import dataclass, field

from .config import ChunkSettings
from .ingest import Document, find_date

SECTION_SEP = " › "


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


@dataclass
class Paper:
    title: str
    start: int
    date: str = ""
    blocks: list = field(default_factory=list)


# --- line classification --------------------------------------------------------------------

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")
_BULLET = re.compile(r"^(?:[-–•*·o▪]\s|\(?[a-z]{1,3}\)\s|\(\d{1,2}\)\s|\d{1,2}\)\s)")
_MONTH_WORD = re.compile(r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)
_PAGE_NUMBER = re.compile(r"\s*\d+\s*$")


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


def _is_short_title(line: str) -> bool:
    s = line.strip()
    return (2 <= len(s) <= 80 and len(s.split()) <= 12 and s[0].isupper()
            and s[-1] not in ".;,:" and not _BULLET.match(s))


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


_DATE_LINE = re.compile(r"^Date:\s*(.+)$", re.I)


def _paper_date(lines: list[tuple[int, str]]) -> str:
    texts = [ln.strip() for _, ln in lines if ln.strip()][:40]
    for s in texts:
        m = _DATE_LINE.match(s) or _MINUTES.match(s)
        if m:
            return find_date(m.group(m.lastindex))
    return ""


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
            nxt = texts[i + 1] if i + 1 < len(texts) else ""
            return f"{s.rstrip(':')}: {nxt}" if nxt and len(nxt) <= 80 else s.rstrip(":")
    if first:
        # The opening paper is the document itself, unless the file is an agenda pack.
        return "Agenda" if sum(bool(_AGENDA_PAGES.search(s)) for s in texts) >= 2 else ""
    prog = next((s for s in texts if _PROGRAMME.search(s) and _is_short_title(s)), "")
    if prog:
        return prog
    return next((s for s in texts if _is_short_title(s)), "")


# --- blocks ---------------------------------------------------------------------------------

def _blocks(doc: Document, lines: list[tuple[int, str]], furniture: set[str]) -> list[Block]:
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
        bold = pos in doc.bold_lines
        blank_before = i == 0 or not lines[i - 1][1].strip()
        blank_after = i + 1 >= n or not lines[i + 1][1].strip()
        nums = _heading_number(s)
        if nums is not None and _plausible_next(nums, cur) and (cur is not None or bold or
                                                                 nums[0] <= 1):
            title = _NUMBERED.match(s).group(2)
            if len(title) <= 100 and s[-1] not in ".;," and not (len(title) > 60 and s.endswith(":")):
                cur = nums
                blocks.append(Block("heading", start, end, s, level=len(nums)))
                continue
            if blank_before:
                cur = nums  # a numbered paragraph still moves the numbering on
        if (bold and len(s) <= 150 and s[-1] not in ".;,") or (
                _is_short_title(s) and blank_before and blank_after and nums is None):
            level = len(cur) + 1 if cur else 1
            blocks.append(Block("heading", start, end, s, level=level))
            continue
        kind = "bullet" if _BULLET.match(s) or (nums is not None and not blank_before) else "para"
        blocks.append(Block(kind, start, end, s))
    return blocks


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
        papers.append(Paper(title=title, start=seg[0][0], date=_paper_date(seg) if title else "",
                            blocks=_blocks(doc, seg, furniture)))
    return papers


# --- passages -------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(£•])|\s+(?=•\s)")


def _sentences(text: str, base: int) -> list[tuple[int, int]]:
    spans, a = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > a:
            spans.append((base + a, base + m.start()))
        a = m.end()
    if a < len(text):
        spans.append((base + a, base + len(text)))
    return spans


def _split_long(start: int, end: int, text: str, cfg: ChunkSettings) -> list[tuple[int, int]]:
    """A block longer than max_chars as sentence runs of about target_chars, overlapping."""
    sents = _sentences(text[start:end], start)
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


def _heading_label(block: Block) -> str:
    return _PAGE_NUMBER.sub("", block.text).rstrip(":").strip()


def chunk(doc: Document, cfg: ChunkSettings) -> list[Passage]:
    text = doc.text
    out: list[Passage] = []
    for paper in parse(doc):
        stack: list[Block] = []
        group: list[Block] = []  # blocks of the passage being built
        heads: list[Block] = []  # headings not yet placed at the top of a passage
        lead_in = ""
        table_header = ""
        table_caption = ""

        def emit(kind: str, context: str) -> None:
            nonlocal heads
            if not group:
                return
            first = heads[0] if heads else group[0]
            a, b = first.start, group[-1].end
            section = SECTION_SEP.join(_heading_label(h) for h in stack)
            if b - a > cfg.max_chars and len(group) == 1 and kind == "text":
                spans = _split_long(group[0].start, b, text, cfg)
                spans[0] = (a, spans[0][1])
                for x, y in spans:
                    out.append(Passage(doc.doc_id, paper.title, section, x, y, text[x:y], kind,
                                       context))
            elif kind == "table" and len(group) == 1 and b - a > cfg.max_chars:
                row = group[0]
                label = row.text.split("\t", 1)[0].strip()
                for x, y in _split_long(row.start, b, text, cfg):
                    x = a if x == row.start else x
                    ctx = context if x == a else f"{context}\n{label}".strip()
                    out.append(Passage(doc.doc_id, paper.title, section, x, y, text[x:y], kind,
                                       ctx))
            else:
                out.append(Passage(doc.doc_id, paper.title, section, a, b, text[a:b], kind,
                                   context))
            group.clear()
            heads = []

        def size_with(block: Block) -> int:
            first = heads[0] if heads else (group[0] if group else block)
            return block.end - first.start

        for block in paper.blocks:
            if block.kind == "furniture":
                emit(_kind(group), _ctx(group, lead_in, table_header, table_caption))
                continue
            if block.kind == "heading":
                emit(_kind(group), _ctx(group, lead_in, table_header, table_caption))
                while stack and stack[-1].level >= block.level:
                    stack.pop()
                # Headings with no body of their own ride on top of the next passage.
                stack.append(block)
                heads.append(block)
                lead_in = table_header = ""
                continue
            if group and (_kind(group) == "table") != (block.kind == "row"):
                emit(_kind(group), _ctx(group, lead_in, table_header, table_caption))
            if block.kind == "row":
                if not group and not table_header:
                    table_header = block.text
                elif group and size_with(block) > cfg.target_chars:
                    emit("table", _ctx(group, lead_in, table_header, table_caption))
                group.append(block)
                continue
            table_header = ""
            table_caption = block.text if len(block.text) <= 120 else ""
            if group and size_with(block) > cfg.target_chars:
                emit("text", _ctx(group, lead_in, table_header, table_caption))
            if block.kind == "para" and block.text.endswith(":"):
                lead_in = block.text
            elif block.kind == "para":
                lead_in = ""
            group.append(block)
        emit(_kind(group), _ctx(group, lead_in, table_header, table_caption))
        # A paper ending in headings alone (a title page) still gets its words indexed.
        if heads:
            a, b = heads[0].start, heads[-1].end
            out.append(Passage(doc.doc_id, paper.title,
                               SECTION_SEP.join(_heading_label(h) for h in stack[:-1]),
                               a, b, text[a:b], "text", ""))
    return out


def _kind(group: list[Block]) -> str:
    return "table" if group and group[0].kind == "row" else "text"


def _ctx(group: list[Block], lead_in: str, header: str, caption: str) -> str:
    """What the passage needs from outside itself: the table's header, or the list's lead-in."""
    if not group:
        return ""
    if group[0].kind == "row":
        parts = [caption] if caption else []
        if header and group[0].text != header:
            parts.append(header)
        return "\n".join(parts)
    if group[0].kind == "bullet" and lead_in:
        return lead_in
    return ""
