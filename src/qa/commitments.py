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
from typing import Callable

from .bm25 import words
from .chunk import SECTION_SEP, pages_of
from .cite import uk_date
from .config import MAX_QUERY_CHARS, whole
from .dates import MONTH_PATTERN, month_number
from .store import Index
from .sentences import split_sentences

_MONTH = rf"({MONTH_PATTERN})"  # every use compiles with re.I
# What a spreadsheet user reads, in the order they read it; offsets and ids stay in the JSON.
CSV_COLUMNS = ("commitment", "due", "figures", "owner", "topic", "document", "publisher",
               "document date", "section", "page", "link")
PAGE_SIZE = 50
# The register's orders, with what the page calls them: by document (as the plans read),
# deadline, area.
SORTS = {"document": "Document", "due": "Due date", "area": "Area"}


class FilterError(ValueError):
    """A filter that makes no sense (a due date that is not a year, an unknown area)."""


@dataclass
class Commitment:
    """One commitment, cited with the fields a search hit has (title, body, date, paper,
    section, page, page_end), so one citation function serves both."""

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
    body: str = ""  # the publishing body
    date: str = ""  # the document's date, ISO: "2017-11-21", "2019-03", "2019"
    page: int | None = None  # 1-based, where the document has pages
    page_end: int | None = None  # only when the item runs onto a later page

    def to_dict(self) -> dict:
        return asdict(self)


# --- what counts ----------------------------------------------------------------------------

_FUTURE = re.compile(r"\b(will|shall|we'll|going to|is to be|are to be)\b", re.I)
# "Ambition" only as a stated aim ("our ambition is to ..."): "expresses our shared ambition"
# describes one. Who "can expect to live" so long is a statistic, not an expectation set.
_AIM = re.compile(r"\b(aims? to|aiming to|plans? to (?=[a-z]+\b)|planning to|intends? to|ambitions? (?:is|are) to|"
                  r"committed to|commits? to|commitment to|seeks? to|(?<!can )expects? to|"
                  r"expected to|(?:is|are) due to|"
                  r"proposes? to|targets?|trajectory|should be in place|must|tasked with|"
                  r"underway to)\b", re.I)
_SEASON = r"(?:(?:early|late|mid-?)\s*)?(?:spring|summer|autumn|winter)"
_DEADLINE = re.compile(rf"\b(by|before|until|no later than)\s+(the\s+end\s+of\s+)?"
                       rf"((\d{{1,2}}(st|nd|rd|th)?\s+)?{_MONTH}\b|{_SEASON}\s+(19|20)\d\d|(19|20)\d\d|"
                       rf"\d\d/\d\d\b|Q[1-4])", re.I)
_NOT = re.compile(r"\b(asked to note|be noted|is noted|were noted|recommend(s|ed)? (that|to)|"
                  r"recommendations?|resolved|would|could be|may be)\b", re.I)
_FORECAST = re.compile(r"\b(likely|unlikely|projections?|projected|forecasts?|forecasted|predicted|"
                       r"predicts?|estimated to|estimates? suggest|indicates? that|"
                       r"anticipate that)\b", re.I)
_CONCESSION = re.compile(r"^(?:whilst|while|although|though|even if)\b[^,]*,", re.I)
_NEED = re.compile(r"\bwill (?:also |still )?(?:need|require|be required|be needed)\b", re.I)
_QUESTION_WORD = re.compile(r"^(what|how|why|when|where|who|which)\b", re.I)


def is_commitment(text: str, kind: str, pledged: bool = False, doc_date: str = "") -> bool:
    """Whether a sentence, bullet or table item states what will be done or achieved.
    `pledged`: the item continues a lead-in that itself commits ("This commits to" followed by
    "- providing an acute frailty service ..."); `doc_date`: the document's, to tell past
    events from plans."""
    t = _NUMBERING_MARKS.sub("", text.strip()).rstrip(";.")
    listed = kind in ("bullet", "cell", "row")
    # Lead-ins ("... will achieve the following key targets:") and headings or questions
    # ("What the first year will look like") introduce commitments rather than make them;
    # a listed task with its own doer ("Executive Nurses ... to lead the work:") still counts.
    if (len(t) < 12 or t.endswith("?") or _NOT.search(t) or _QUESTION_WORD.match(t)
            or (t.endswith(":") and kind != "row" and not (listed and _doer_to(t)))):
        return False
    # A forecast of the world is no undertaking: "Projections suggest that there will be over
    # 21,000 people aged 65+ living alone by 2025", "this issue is likely to increase by 2025",
    # "We anticipate that by 2025 there will be ...", "Modelling ... indicates that the gap ...".
    if _FORECAST.search(t):
        return False
    # "will" undertakes in the main clause, not in a concession ("Whilst members of the Board
    # will represent their organisations, ...") nor where it states a need ("... will require
    # an approach", "will need to be").
    main = _NEED.sub(" ", _CONCESSION.sub("", t))
    if _FUTURE.search(main) and not re.search(r"\bwill be (an? )?(issue|challenge|problem)", t, re.I):
        return True
    aim = _AIM.search(t)
    if aim and aim.group(1).lower().startswith("plan"):
        # "a plan to NHSE" is a document sent, "plans to review" an intention.
        following = _WORD.findall(t[aim.end():aim.end() + 30])[:1]
        aim = aim if following and following[0] in _readings(following[0])["VERB"].get(
            "VERB", ()) else None
    if aim or _DEADLINE.search(t):
        return True
    if doc_date and _dated_before(t, doc_date):
        return False  # progress already made: "Delivery of ... to NHSE in October 2017"
    if not listed:
        return False
    # A list or table of deliverables: "Roll out ...", "Core 24: Implement ...", "Project –
    # creating ..." where a named project is followed by what it will do; "Directors of Finance
    # to commission ..."; and, after a committing lead-in, "providing ...", "introducing ...".
    head = _LIST_HEAD.match(t)
    core = t[head.end():] if head and imperative(t[head.end():]) else t
    if head and re.match(r"^(creation of|creating)\b", t[head.end():], re.I):
        return True
    return bool(imperative(core) or _doer_to(t)
                or (pledged and (core[:1].islower() or _gerund(core))))


# "July 2017", and "July, 2017" as the minutes write it: the month and the year as groups.
_MONTH_AND_YEAR = rf"{_MONTH}(?:,\s*|\s+)((?:19|20)\d\d)"
_MONTH_YEAR = re.compile(rf"\b{_MONTH_AND_YEAR}\b", re.I)


def _dated_before(text: str, doc_date: str) -> bool:
    """Whether every month the text names ("in October 2017") is before the document's date."""
    if len(doc_date) < 7:
        return False
    when = [(int(m.group(2)), month_number(m.group(1))) for m in _MONTH_YEAR.finditer(text)]
    return bool(when) and max(when) < (int(doc_date[:4]), int(doc_date[5:7]))


_NUMBERING_MARKS = re.compile(r"^(?:[-–•*·]\s+|\(?[a-z0-9]{1,3}[.)]\s+)+", re.I)
# "Core 24: ", "Urgent care dashboards – ": the name of a task before what it is.
_LIST_HEAD = re.compile(r"^[^:–]{1,80}?(?::|\s[–-])\s+")
_WORD = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*")
# A noun, not a verb, stands first when the next word is one of these: "Date to be determined".
_AFTER_NOUN = {"to", "of", "is", "are", "was", "were", "has", "have", "had", "for", "and"}
_DETERMINERS = {"the", "a", "an", "all", "our", "their", "its", "this", "these", "those", "each",
                "every", "more", "new", "local", "existing", "further", "greater", "and"}


def _readings(word: str) -> dict:
    from lemminflect import getAllLemmas

    return {pos: getAllLemmas(word.lower(), upos=pos) for pos in ("VERB", "NOUN", "ADJ")}


def imperative(text: str) -> bool:
    """Whether a text opens with a verb's bare form, as a task does ("Expand ...", "Support the
    ..."). A word that may also be a noun or adjective ("Stroke Care", "Total Headcount",
    "Better care") counts only before a lower-case word or an acronym that a verb could take."""
    words = _WORD.findall(text[:120])
    if len(words) < 2 or "-" in words[0]:
        return False
    first, nxt = words[0].lower(), words[1]
    r = _readings(first)
    if first not in r["VERB"].get("VERB", ()):
        return False
    if not r["NOUN"] and not r["ADJ"]:
        return True
    # ... and in a task of four words or more: "Career pathways" is a heading.
    if not (nxt[:1].islower() or nxt.isupper()) or nxt in _AFTER_NOUN or len(words) < 4:
        return False
    return nxt in _DETERMINERS if r["ADJ"] else True


def _gerund(text: str) -> bool:
    words = _WORD.findall(text[:60])
    return bool(words) and words[0].lower().endswith("ing") and bool(
        _readings(words[0])["VERB"])


_DOER_TO_FORM = re.compile(r"^[A-Z][\w&'/()]*(?:,?\s+[\w&'/()]+){0,12}?\s+to\s+([a-z]+)\b")


def _doer_to(text: str) -> bool:
    """A task given to someone: "Directors of Finance to commission ...", "Existing regional
    work to continue as now" (a named doer, then "to" and a verb)."""
    m = _DOER_TO_FORM.match(text)
    if not m or imperative(text):
        return False
    doer = _WORD.findall(text[:m.start(1)])[:-1]
    # A doer is a short name ("Directors of Finance"); a longer run before "to" is a clause
    # ("The CCG monitors a range of indicators to assure ...").
    return (2 <= len(doer) <= 4 and not _FINITE & {w.lower() for w in doer}
            and "(" not in text[:m.start(1)]
            and m.group(1) in _readings(m.group(1))["VERB"].get("VERB", ()))


_FINITE = {"is", "are", "was", "were", "be", "been", "has", "have", "had", "will", "would",
           "do", "does", "did", "can", "could", "may", "might", "must", "should", "shall", "not"}


# --- due dates and figures ------------------------------------------------------------------

# "13th ", "the 13th ", "early ": what may stand between a deadline's word and its month.
_DAY = r"(?:the\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:(?:early|mid-?|late)\s*)?"
# Each form of a deadline, by what it gives; the first form to match wins, so a deadline
# ("submitted by 11th September, 2017") comes before a date in passing ("available in July").
_DUE_FORMS = [
    # "by 1st March 2018", "by the end of June 2016"
    ("month_year", re.compile(rf"\b(?:by|before|until|no later than)\s+(?:the\s+end\s+of\s+)?"
                              rf"{_DAY}{_MONTH_AND_YEAR}\b", re.I)),
    # "in December 2017", "(March 2019)"
    ("month_year", re.compile(rf"(?:\b(?:in|during|end of|on)\s+|\()(?:the\s+end\s+of\s+)?"
                              rf"{_DAY}{_MONTH_AND_YEAR}\b", re.I)),
    # "by 2023/24", "by the end of 19/20": a financial year, which ends in March
    ("financial_year", re.compile(r"\b(?:by|before|until|in|during|end of)\s+"
                                  r"(?:the\s+end\s+of\s+)?((?:19|20)?\d\d)/(\d\d)\b", re.I)),
    # "by 2022", "by autumn 2020": the year alone
    ("year", re.compile(rf"\b(?:by|before|until|in|during|end of)\s+(?:the\s+end\s+of\s+)?"
                        rf"(?:{_SEASON}\s+)?((?:19|20)\d\d)\b", re.I)),
    # "Sept 18" alone in a timetable cell
    ("month_short_year", re.compile(rf"^{_MONTH}\s+(\d\d)\b", re.I)),
    # "by October": the year is the document's, or the next if that month has passed
    ("month", re.compile(rf"\b(?:by|before|until|in)\s+(?:the\s+end\s+of\s+)?{_MONTH}\b"
                         rf"(?!\s+\d|,\s*(?:19|20)\d\d\b)", re.I)),
    # A timetable's cell holding a date alone: "June 2025", "2025/26"
    ("month_year", re.compile(rf"(?:^|\t)\s*(?:(?:by|end of)\s+)?{_MONTH_AND_YEAR}"
                              rf"\s*(?=\t|$)", re.I)),
    ("financial_year", re.compile(r"(?:^|\t)\s*((?:19|20)?\d\d)/(\d\d)\s*(?=\t|$)")),
]


def due_date(text: str, doc_date: str = "") -> str | None:
    """The deadline a statement gives, as "YYYY" or "YYYY-MM"; None when it states none."""
    for kind, m in ((kind, form.search(text)) for kind, form in _DUE_FORMS):
        if not m:
            continue
        if kind == "month_year":
            return f"{int(m.group(2)):04d}-{month_number(m.group(1)):02d}"
        if kind == "financial_year":
            start = int(m.group(1)) % 100
            end = int(m.group(2))
            if end != (start + 1) % 100:
                continue
            return f"{2000 + end if end < 90 else 1900 + end:04d}-03"
        if kind == "year":
            return m.group(1)
        if kind == "month_short_year":
            return f"{2000 + int(m.group(2)):04d}-{month_number(m.group(1)):02d}"
        if doc_date[:4].isdigit():
            month = month_number(m.group(1))
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
               r"alliance|programme|hub|forum|committee|network|pmo|office|service|commissioner)")
# A named doer: capitalised words ("Local Maternity System Board", "The Strategic
# Commissioner", "NHS England"), never a pronoun or a sentence's opening clause.
_OWNER = re.compile(rf"^(?:[Tt]he\s+|[Oo]ur\s+)?((?:[A-Z][\w&'/-]*\s+(?:(?:of|and|for|&)\s+)?){{0,8}}?"
                    rf"(?i:{_BODY_WORDS})|PEG|LWAB|STP|CCGs?|NHS England|NHS Improvement|NHSE|"
                    rf"[A-Z]{{2,6}})\s+(?i:will|has agreed|have agreed|aims?|plans?|intends?|is to|"
                    rf"are to|seeks?|is tasked)\b")
_ANAPHOR = re.compile(r"^(this|the)\s+(work\s?stream|programme|project|group)\b", re.I)
_PRONOUN = re.compile(r"^(this|that|these|those|they|there|it|its|he|she|we|our|us|you)\b", re.I)
# "We will ...", "In the longer term, we will ...", "Recognising ..., we will offer ...": the
# writers speak for themselves.
_WE = re.compile(r"\b(?:we\s+(?:\w+\s+)?(?:will|aim|plan|intend|are|have|commit|seek|want|"
                 r"expect|propose|continue)|our\s+(?:aim|ambition|plan|intention|commitment)s?)\b",
                 re.I)
_WORKSTREAM = re.compile(r"work\s?streams?", re.I)
_NUMBERING = re.compile(r"^[\d.]+\s+")


def owner(text: str, section: str, body: str = "") -> str | None:
    """Who will do it, as a body or workstream, never a pronoun: the doer the text names; for
    "this workstream will ..." or "we will ..." the section's heading where the section is a
    workstream (under a "... Workstreams" heading) or names that programme; for "we" outside
    one, the publishing body; None when the text names no one."""
    t = text.strip()
    parts = section.split(SECTION_SEP) if section else []
    heading = _NUMBERING.sub("", parts[-1]).strip() if parts else ""
    m = _OWNER.match(t)
    anaphor = _ANAPHOR.match(t)
    if m and m.group(1)[0].isupper() and not anaphor and not _PRONOUN.match(m.group(1)):
        return m.group(1).strip()
    in_workstream = any(_WORKSTREAM.search(p) for p in parts[:-1])
    if anaphor:
        named = re.sub(r"\s", "", anaphor.group(2).lower()) in re.sub(r"\s", "", heading.lower())
        return heading if heading and (in_workstream or named) else None
    if _WE.search(t):
        return heading if heading and in_workstream else (body or None)
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
            filled = [(ca, cb) for ca, cb in cells if text[ca:cb].strip()]
            if items:
                out += [(*_trim(text, a, b), kind) for a, b, kind in items]
            elif len({text[ca:cb].strip() for ca, cb in filled}) == 1 < len(filled):
                # One cell's text repeated across the row (a merged cell the extraction
                # copied into each column): the item once.
                out.append((*_trim(text, *filled[0]), "row"))
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
        first, last = pages_of(doc.pages, a, b)
        out.append(Commitment(text=text, due=due, figures=figures(text),
                              owner=owner(text, p.section, doc.body), doc_id=p.doc_id,
                              title=doc.title, area=doc.area, paper=p.paper, section=p.section,
                              start=a, end=b, kind="table" if kind in ("row", "cell") else kind,
                              topic=first_cell.strip(), body=doc.body, date=doc.date,
                              page=first, page_end=last))
    return out


_CONTENTS = re.compile(r"(table of )?contents?", re.I)


def _section_statements(index: Index):
    """(passage, start, end, kind) of each commitment, read section by section: a section's
    passages joined again, so that a sentence the chunker cut at a page break is whole."""
    sections: dict[tuple, list] = {}
    for p in index.passages:
        sections.setdefault((p.doc_id, p.paper, p.section), []).append(p)
    for (doc_id, paper, section), ps in sections.items():
        if _CONTENTS.fullmatch(section.rsplit(SECTION_SEP, 1)[-1].strip()):
            continue  # a contents page lists the sections' headings, not what they commit to
        text = index.doc_by_id[doc_id].text
        a, b = min(p.start for p in ps), max(p.end for p in ps)
        # The section's own headings ("5.7 NHS staff will get the backing they need") name it.
        headings = {_NUMBERING.sub("", h).strip() for h in [paper, *section.split(SECTION_SEP)]}
        found = [f for f in statements(text[a:b], a) if text[f[0]:f[1]].strip() not in headings]
        kinds = ["cell" if k.startswith("cell:") else k for _, _, k in found]
        verdicts = _verdicts([text[s:e] for s, e, _ in found], kinds, index.doc_by_id[doc_id].date)
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


def _verdicts(texts: list[str], kinds: list[str], doc_date: str) -> list[bool]:
    """is_commitment of each statement of a section (its text, a row's cells apart by tabs),
    in order. A table row with a date in a later cell is a timetable's activity. A lead-in (a
    sentence without a full stop that a list or table follows: "This commits to") is no item
    itself; its list's items are pledged when it commits."""
    out, pledged = [], False
    for i, (row, kind) in enumerate(zip(texts, kinds)):
        t, *cells = row.split("\t")
        if kind == "row" and any(_WHEN.match(c) for c in cells):
            out.append(len(t.strip()) >= 12)  # a timetable's activity: "Establish iSPA\tSept 18"
            continue
        if kind == "bullet":
            out.append(is_commitment(t, kind, pledged, doc_date))
            continue
        lead_in = (kind == "sentence" and i + 1 < len(kinds) and kinds[i + 1] != "sentence"
                   and not t.rstrip().endswith((".", "!", "?")))
        verdict = is_commitment(t.rstrip().rstrip(":"), kind, doc_date=doc_date)
        pledged = lead_in and verdict
        out.append(verdict and not lead_in)
    return out


# A timetable cell: "Sept 18 for health", "Apr 18 – Mar 19", "Q3 2019", "autumn 2020".
_WHEN = re.compile(rf"^\s*(?:{_MONTH}|{_SEASON}|Q[1-4])\s+(?:(?:19|20)?\d\d)\b", re.I)


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
           due_after: str | None = None, expansions: list | None = None) -> list[Commitment]:
    """The commitments matching every filter given. "Due before 2020" means the deadline falls
    before 2020 begins; "due after 2020", after it ends; items with no deadline match neither.
    q matches an item holding all its words, where a phrase the vocabulary expands
    (`expansions`, from qa.synonyms: "bed blocking") may be met by any of its terms."""
    if q and len(q) > MAX_QUERY_CHARS:
        raise FilterError(f"q is {len(q):,} characters long; the most allowed is "
                          f"{MAX_QUERY_CHARS:,}")
    areas = {d.area.lower() for d in index.docs if d.area}
    if area and area.strip().lower() not in areas:
        raise FilterError(f"unknown area {area!r}: known areas are "
                          f"{', '.join(sorted({d.area for d in index.docs if d.area}))}")
    if doc and doc not in index.doc_by_id:
        raise FilterError(f"unknown document {doc!r}")
    before = period(due_before, "due_before")[0] if due_before else None
    after = period(due_after, "due_after")[1] if due_after else None
    wanted = _wanted(q or "", expansions or [])
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
        if wanted:
            held = set(words(f"{c.text} {c.topic} {c.section} {c.owner or ''}"))
            if not all(any(alt <= held for alt in alts) for alts in wanted):
                continue
        out.append(c)
    return out


def _wanted(q: str, expansions: list) -> list[list[set[str]]]:
    """What an item must hold to match q: for each part of q, the word sets that meet it (a
    plain word: itself; an expanded phrase: its own words or any term's)."""
    parts, rest = [], q
    for e in expansions:
        rest = rest.replace(e.source, " ")
        parts.append([set(words(x)) for x in (e.source, *e.terms) if words(x)])
    parts += [[{w}] for w in dict.fromkeys(words(rest))]
    return [p for p in parts if p]


def _due_key(c: Commitment) -> tuple:
    # A year's deadline ("by 2020") falls at its end, after "by March 2020"; undated items last.
    return (0, period(c.due)[1]) if c.due else (1, (0, 0))


def order(items: list[Commitment], by: str | None) -> list[Commitment]:
    """The items in the order asked for: "document" (by title, each as the plan reads), "due"
    (soonest deadline first, undated last) or "area"; FilterError for any other order."""
    by = (by or "document").strip().lower()
    if by not in SORTS:
        raise FilterError(f"sort must be one of {', '.join(SORTS)}, not {by!r}")

    def in_document(c: Commitment) -> tuple:
        return c.title.lower(), c.doc_id, c.start

    keys = {"document": in_document,
            "due": lambda c: (_due_key(c), in_document(c)),
            "area": lambda c: (c.area.lower(), in_document(c))}
    return sorted(items, key=keys[by])


@dataclass(frozen=True)
class Page:
    items: list
    number: int  # 1-based
    pages: int  # how many pages in all (1 when there are no items)
    total: int  # items on every page


def page_of(items: list, number: str | int | None, size: int = PAGE_SIZE) -> Page:
    """One page of the items; FilterError for a page that is not a whole number in range."""
    pages = max(1, -(-len(items) // size))
    raw = str(number).strip() if number not in (None, "") else "1"
    try:
        n = whole(1, pages)(raw)  # not str.isdigit(): it passes "²", which int() refuses
    except ValueError:
        raise FilterError(f"page must be a whole number from 1 to {pages}, not {raw!r}") from None
    return Page(items[(n - 1) * size:n * size], n, pages, len(items))


def count(n: int) -> str:
    """"1 commitment", "445 commitments"."""
    return f"{n:,} commitment{'' if n == 1 else 's'}"


def doc_path(c: Commitment) -> str:
    """The document view at the item, as a site path."""
    return f"/doc/{c.doc_id}?start={c.start}&end={c.end}#passage"


_SPACE = re.compile(r"\s+")


def due_words(due: str | None) -> str:
    """A deadline as a spreadsheet keeps it as text: "by September 2017", "by 2020". ("2017-09"
    alone Excel turns into a date; a leading apostrophe shows in every other program.)"""
    return f"by {uk_date(due)}" if due else ""


def to_csv(items: list[Commitment], link: Callable[[Commitment], str]) -> str:
    """The items as CSV for a spreadsheet: UTF-8 with a byte-order mark (so Excel reads "£"),
    the columns of CSV_COLUMNS, every cell on one line. `link` gives an item's address."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for c in items:
        where = SECTION_SEP.join(x for x in (c.paper, c.section) if x)
        page = f"{c.page}–{c.page_end}" if c.page and c.page_end else (c.page or "")
        row = [c.text, due_words(c.due), "; ".join(c.figures), c.owner or "", c.topic, c.title,
               c.body, uk_date(c.date), where, page, link(c)]
        w.writerow([_SPACE.sub(" ", str(v)).strip() for v in row])
    return buf.getvalue()


def file_name(filters: dict, today: str) -> str:
    """What a download holds, from its filters and the day: commitments-hertfordshire-and-west-
    essex-due-before-2020-2026-11-26.csv."""
    parts = ["commitments"]
    for key, label in (("q", ""), ("area", ""), ("doc", ""), ("due_after", "due after"),
                       ("due_before", "due before")):
        if filters.get(key):
            slug = re.sub(r"[^a-z0-9]+", "-", f"{label} {filters[key]}".lower()).strip("-")
            parts.append(slug[:40].strip("-"))
    return "-".join([*[p for p in parts if p], today]) + ".csv"
