"""The commitments register: every promise, target and deadline the plans state.

A commitment is a statement of what someone will do, must achieve or aims for ("we will ...",
"aims to", "target", "by March 2019", an imperative in a table of targets), not background,
past events or recommendations for a board to note. Each is an exact span of the stored
document text, cited like a search result.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field

from .bm25 import words
from .chunk import SECTION_SEP, pages_of
from .index import Index
from .sentences import split_sentences

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
CSV_COLUMNS = ("text", "due", "figures", "owner", "topic", "doc_id", "title", "area", "paper",
               "section", "start", "end")


class FilterError(ValueError):
    """A filter that makes no sense (a due date that is not a year, an unknown area)."""


@dataclass
class Commitment:
    text: str
    due: str | None
    figures: list[str]
    owner: str | None
    doc_id: str
    title: str
    area: str
    paper: str
    section: str
    start: int
    end: int
    kind: str = field(default="sentence")  # sentence | bullet | table
    topic: str = ""  # a table item's row label: "Stroke Care" for its targets
    page: int | None = None  # where it stands, for formats with pages

    def to_dict(self) -> dict:
        return asdict(self)


# --- what counts ----------------------------------------------------------------------------

_FUTURE = re.compile(r"\b(will|shall|we'll|going to|is to be|are to be)\b", re.I)
_AIM = re.compile(r"\b(aims? to|aiming to|plans? to|planning to|intends? to|ambition|committed to|"
                  r"commitment to|seeks? to|expects? to|expected to|(?:is|are) due to|"
                  r"proposes? to|targets?|trajectory|should be in place|must|tasked with|"
                  r"underway to)\b", re.I)
_DEADLINE = re.compile(rf"\b(by|before|until|no later than)\s+(the\s+end\s+of\s+)?"
                       rf"((\d{{1,2}}(st|nd|rd|th)?\s+)?{_MONTH}\b|(19|20)\d\d|\d\d/\d\d\b|Q[1-4])", re.I)
_IMPERATIVE = re.compile(
    r"^(deliver|roll out|introduce|expand|increase|reduce|ensure|develop|implement|establish|"
    r"extend|provide|improve|achieve|offer|create|enable|maintain|embed|halve|double|"
    r"eliminate|commission|transform|launch|recruit|train|pilot|agree|diagnose|optimise|"
    r"scope|align|promote|utilise|invest|move|relaunch|support|work with|mainstream)\b", re.I)
_NOT = re.compile(r"\b(asked to note|be noted|is noted|were noted|recommend(s|ed)? (that|to)|"
                  r"recommendations?|resolved|would|could be|may be)\b", re.I)
_QUESTION_WORD = re.compile(r"^(what|how|why|when|where|who|which)\b", re.I)
_TARGET_ROW = re.compile(r"(\S.*?)\s[–-]\s")


def is_commitment(text: str, kind: str) -> bool:
    """Whether a sentence, bullet or table item states what will be done or achieved."""
    t = text.strip().rstrip(";.")
    # Lead-ins ("... will achieve the following key targets:") and headings or questions
    # ("What the first year will look like") introduce commitments rather than make them.
    if (len(t) < 12 or t.endswith("?") or (t.endswith(":") and kind != "row")
            or _NOT.search(t) or _QUESTION_WORD.match(t)):
        return False
    if _FUTURE.search(t) and not re.search(r"\bwill be (an? )?(issue|challenge|problem)", t, re.I):
        return True
    if _AIM.search(t) or _DEADLINE.search(t):
        return True
    # A list or table of deliverables: "Roll out ...", "Establish iSPA", and "Project –
    # creating ..." where a named project is followed by what it will do.
    if kind in ("bullet", "cell", "row"):
        head = _TARGET_ROW.match(t)
        core = t[head.end():] if head else t
        return bool(_IMPERATIVE.match(core) or re.match(r"^(creation of|creating|direct)\b",
                                                          core, re.I))
    return False


# --- due dates and figures ------------------------------------------------------------------

_DUE_FORMS = [
    # "by 1st March 2018", "by the end of June 2016", "in December 2017", "(March 2019)"
    re.compile(rf"(?:\b(?:by|before|until|in|during|end of)\s+|\()(?:the\s+end\s+of\s+)?"
               rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?{_MONTH}\s+((?:19|20)\d\d)\b", re.I),
    # "by 2023/24", "by the end of 19/20": a financial year, which ends in March
    re.compile(r"\b(?:by|before|until|in|during|end of)\s+(?:the\s+end\s+of\s+)?"
               r"((?:19|20)?\d\d)/(\d\d)\b", re.I),
    # "by 2022"
    re.compile(r"\b(?:by|before|until|in|during|end of)\s+(?:the\s+end\s+of\s+)?((?:19|20)\d\d)\b",
               re.I),
    # "Sept 18" alone in a timetable cell
    re.compile(rf"^{_MONTH}\s+(\d\d)\b", re.I),
    # "by October": the year is the document's, or the next if that month has passed
    re.compile(rf"\b(?:by|before|until|in)\s+(?:the\s+end\s+of\s+)?{_MONTH}\b(?!\s+\d)", re.I),
]


def _month_number(name: str) -> int:
    return MONTHS.index(name[:3].lower()) + 1


def due_date(text: str, doc_date: str = "") -> str | None:
    """The deadline a statement gives, as "YYYY" or "YYYY-MM"; None when it states none."""
    for form, m in ((i, f.search(text)) for i, f in enumerate(_DUE_FORMS)):
        if not m:
            continue
        if form == 0:
            return f"{int(m.group(2)):04d}-{_month_number(m.group(1)):02d}"
        if form == 1:
            start = int(m.group(1)) % 100
            end = int(m.group(2))
            if end != (start + 1) % 100:
                continue
            return f"{2000 + end if end < 90 else 1900 + end:04d}-03"
        if form == 2:
            return m.group(1)
        if form == 3:
            return f"{2000 + int(m.group(2)):04d}-{_month_number(m.group(1)):02d}"
        if doc_date[:4].isdigit():
            month = _month_number(m.group(1))
            year = int(doc_date[:4])
            if len(doc_date) >= 7 and month < int(doc_date[5:7]):
                year += 1
            return f"{year:04d}-{month:02d}"
    return None


_MONEY = re.compile(r"£\s?(\d[\d,]*(?:\.\d+)?)\s?(m|bn|k|million|billion|thousand)?\b", re.I)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_FOLD = re.compile(r"\b(\w+)-fold\b", re.I)
_SCALE = {"m": "m", "million": "m", "bn": "bn", "billion": "bn", "k": "k", "thousand": "k"}


def figures(text: str) -> list[str]:
    """Money, percentages and multiples the text names, normalised: £13.8m, 85%, ten-fold."""
    out = []
    for m in _MONEY.finditer(text):
        value = m.group(1).replace(",", "")
        if float(value) == 0:
            continue  # "£000s" in a table heading
        out.append(f"£{value}{_SCALE.get((m.group(2) or '').lower(), '')}")
    out += [f"{m.group(1)}%" for m in _PERCENT.finditer(text)]
    out += [f"{m.group(1).lower()}-fold" for m in _FOLD.finditer(text)]
    return list(dict.fromkeys(out))


_BODY_WORDS = (r"(?:workstream|work stream|board|group|team|ccgs?|trust|council|partnership|"
               r"alliance|programme|hub|forum|committee|network|pmo|office|service)")
_OWNER = re.compile(rf"^(?:the\s+|our\s+)?((?:[A-Z][\w&'/-]*\s+){{0,8}}?{_BODY_WORDS}|PEG|LWAB|"
                    rf"STP|CCGs?|NHS England|NHS Improvement|NHSE|[A-Z]{{2,6}})\s+"
                    rf"(?:will|has agreed|have agreed|aims?|plans?|intends?|is to|are to|seeks?)\b",
                    re.I)
_ANAPHOR = re.compile(r"^(this|the)\s+(work\s?stream|programme|project|group)\b", re.I)
_NUMBERING = re.compile(r"^[\d.]+\s+")


def owner(text: str, section: str) -> str | None:
    """Who the text says will do it; for "this workstream will ...", the section it sits in."""
    t = text.strip()
    m = _OWNER.match(t)
    if m and not _ANAPHOR.match(t) and not m.group(1).lower().startswith(("this ", "it ")):
        return m.group(1).strip()
    if _ANAPHOR.match(t) and section:
        return _NUMBERING.sub("", section.split(SECTION_SEP)[-1]).strip()
    return None


# --- splitting passages into statements -----------------------------------------------------

_BULLET_MARK = re.compile(r"^\s*(?:[-–•*·]\s+|\(?[a-z0-9ivx]{1,4}[.)]\s+|\d{1,2}(?:\.\d{1,2})*\.?\s+)")


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in " \t•-–;":
        a += 1
    while b > a and text[b - 1] in " \t;,":
        b -= 1
    return a, b


def _lines(text: str) -> list[tuple[int, int]]:
    """Spans of the non-empty lines, a sentence broken across lines by the PDF extraction
    ("... all the main" / "elements of the new service ...") joined into one."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        if not line.strip():
            continue
        prev = text[spans[-1][0]:spans[-1][1]] if spans else ""
        if (prev and "\t" not in prev and "\t" not in line and prev.rstrip()[-1:].isalnum()
                and line.lstrip()[:1].islower()):
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


def statements(text: str, base: int) -> list[tuple[int, int, str]]:
    """Exact (start, end, kind) spans of the sentences, bullets and table items in a text.
    A table row is one item ("row") unless its cells hold bullets; the bullets of one cell
    share the kind "cell:<offset>", so they can be judged together."""
    out: list[tuple[int, int, str]] = []
    for a0, line_end in _lines(text):
        line = text[a0:line_end]
        if "\t" in line:
            cells, c = [], a0
            for cell in line.split("\t"):
                cells.append((c, c + len(cell)))
                c += len(cell) + 1
            items = []
            for ca, cb in cells:
                marks = [ca + m.start() for m in re.finditer("•", text[ca:cb])]
                # "Stroke Care\t• Introduce ... • Deliver ...": one item a bullet
                items += [(a, b, f"cell:{ca}") for a, b in zip(marks, marks[1:] + [cb])]
            if items:
                out += [(*_trim(text, a, b), kind) for a, b, kind in items]
            else:  # a timetable row: "Establish iSPA\tSept 18" is one item
                out.append((*_trim(text, a0, line_end), "row"))
            continue
        m = _BULLET_MARK.match(line)
        kind = "bullet" if m else "sentence"
        start = a0 + (m.end() if m else 0)
        for sa, sb in split_sentences(text[start:line_end], start):
            out.append((*_trim(text, sa, sb), kind))
    return [(base + a, base + b, k) for a, b, k in out if b - a >= 3]


def extract(index: Index) -> list[Commitment]:
    """Every commitment in the index's documents, in document order."""
    out: list[Commitment] = []
    for p, a, b, kind in _section_statements(index):
        doc = index.doc_by_id[p.doc_id]
        text = doc.text[a:b]
        row_start = doc.text.rfind("\n", 0, a) + 1
        row = _line(doc.text, a)
        first_cell = doc.text[row_start:doc.text.find("\t", row_start)] if kind == "cell" else ""
        # A timetable row's deadline may stand in its own cell: "Implement ...\tSept 18 for health".
        due = due_date(text, doc.date) or (due_date(row, doc.date) if kind == "row" else None)
        out.append(Commitment(text=text, due=due, figures=figures(text),
                              owner=owner(text, p.section), doc_id=p.doc_id, title=doc.title,
                              area=doc.area, paper=p.paper, section=p.section, start=a, end=b,
                              kind="table" if kind in ("row", "cell") else kind,
                              topic=first_cell.strip(), page=pages_of(doc.pages, a, b)[0]))
    return out


def _section_statements(index: Index):
    """(passage, start, end, kind) of each commitment, read section by section: a section's
    passages joined again, so that a sentence the chunker cut at a page break is whole."""
    sections: dict[tuple, list] = {}
    for p in index.passages:
        sections.setdefault((p.doc_id, p.paper, p.section), []).append(p)
    for (doc_id, _, _), ps in sections.items():
        text = index.doc_by_id[doc_id].text
        a, b = min(p.start for p in ps), max(p.end for p in ps)
        found = statements(text[a:b], a)
        kinds = ["cell" if k.startswith("cell:") else k for _, _, k in found]
        verdicts = [is_commitment(text[s:e].split("\t")[0], kind)
                    for (s, e, _), kind in zip(found, kinds)]
        cells: dict[str, list[bool]] = {}
        for (s, e, k), v in zip(found, verdicts):
            if k.startswith("cell:"):
                cells.setdefault(k, []).append(v)
        for (s, e, k), kind, v in zip(found, kinds, verdicts):
            # In a cell listing targets, an item with no verb ("More primary care staff
            # trained ...") is a target all the same.
            votes = cells.get(k, [])
            if v or (len(votes) >= 3 and sum(votes) >= 2 * len(votes) / 3):
                owner_passage = next(p for p in ps if p.start <= s < p.end or p is ps[-1])
                yield owner_passage, s, e, kind


def _line(text: str, pos: int) -> str:
    a = text.rfind("\n", 0, pos) + 1
    b = text.find("\n", pos)
    return text[a:b if b >= 0 else len(text)].split("\t", 1)[-1]


# --- filters --------------------------------------------------------------------------------

_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def period(value: str, what: str = "date") -> tuple[tuple[int, int], tuple[int, int]]:
    """The first and last month of "2020" or "2019-03"; FilterError for anything else."""
    m = _PERIOD.match(value.strip())
    if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise FilterError(f"{what} must be a year (2020) or a year and month (2019-03), "
                          f"not {value!r}")
    year = int(m.group(1))
    if m.group(2):
        return (year, int(m.group(2))), (year, int(m.group(2)))
    return (year, 1), (year, 12)


def select(items: list[Commitment], index: Index, q: str | None = None, area: str | None = None,
           doc: str | None = None, due_before: str | None = None,
           due_after: str | None = None) -> list[Commitment]:
    """The commitments matching every filter given. "Due before 2020" means the deadline falls
    before 2020 begins; "due after 2020", after it ends; items with no deadline match neither."""
    areas = {d.area.lower() for d in index.docs if d.area}
    if area and area.strip().lower() not in areas:
        raise FilterError(f"unknown area {area!r}: known areas are "
                          f"{', '.join(sorted({d.area for d in index.docs if d.area}))}")
    if doc and doc not in index.doc_by_id:
        raise FilterError(f"unknown document {doc!r}")
    before = period(due_before, "due_before")[0] if due_before else None
    after = period(due_after, "due_after")[1] if due_after else None
    q_words = set(words(q)) if q and q.strip() else set()
    out = []
    for c in items:
        if area and c.area.lower() != area.strip().lower():
            continue
        if doc and c.doc_id != doc:
            continue
        if before or after:
            if not c.due:
                continue
            first, last = period(c.due)
            if (before and not last < before) or (after and not first > after):
                continue
        if q_words and not q_words <= set(words(f"{c.text} {c.topic} {c.section} {c.owner or ''}")):
            continue
        out.append(c)
    return out


def to_csv(items: list[Commitment]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for c in items:
        d = c.to_dict()
        d["figures"] = "; ".join(c.figures)
        w.writerow([d[k] if d[k] is not None else "" for k in CSV_COLUMNS])
    return buf.getvalue()
