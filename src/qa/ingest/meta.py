"""Metadata a person would have written: from the format's own properties first, then the file
name, then the text; the catalog overrides all of it. Each field remembers where it came from."""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..dates import MONTHS, month_number
from .record import META_FIELDS

_MONTH_RE = "|".join(m[:3] + r"\w*" for m in MONTHS)
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE}),?\s+((?:19|20)\d\d)\b", re.I)
_DATE_MY = re.compile(rf"\b({_MONTH_RE})\s+((?:19|20)\d\d)\b", re.I)
_DATE_NUM = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})\b")
_DATE_ISO = re.compile(r"(?<!\d)((?:19|20)\d\d)-(\d\d)(?:-(\d\d))?(?!\d)")


def _dates(text: str):
    """Every date stated in the text, as (start, end, ISO date)."""
    for m in _DATE_ISO.finditer(text):
        y, mo, d = int(m.group(1)), int(m.group(2)), m.group(3)
        if 1 <= mo <= 12 and (d is None or 1 <= int(d) <= 31):
            yield m.start(), m.end(), f"{y:04d}-{mo:02d}" + (f"-{int(d):02d}" if d else "")
    for m in _DATE_DMY.finditer(text):
        day, month, year = int(m.group(1)), month_number(m.group(2)), int(m.group(3))
        if 1 <= day <= 31:
            yield m.start(), m.end(), f"{year:04d}-{month:02d}-{day:02d}"
    for m in _DATE_NUM.finditer(text):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        year += 2000 if year < 100 else 0
        if 1 <= day <= 31 and 1 <= month <= 12 and 1990 <= year <= 2100:
            yield m.start(), m.end(), f"{year:04d}-{month:02d}-{day:02d}"
    for m in _DATE_MY.finditer(text):
        yield m.start(), m.end(), f"{int(m.group(2)):04d}-{month_number(m.group(1)):02d}"


# A date after one of these words is a deadline or a period ("by March 2019", "will open
# from June 2027", "until 2020"), not when the paper was written.
_TIMED = re.compile(r"\b(?:by|from|until|till|before|after|starting|between|to)\s+"
                    r"(?:the\s+)?(?:(?:end|start|beginning|middle)\s+of\s+)?$", re.I)
# A date in a sentence that says what will happen ("the ward will open in October 2028") is
# a plan's, not the paper's.
_PLANNED = re.compile(r"\b(?:will|shall)\b[^.!?\n]*$", re.I)


def find_date(text: str, near: int = 0) -> str:
    """The date stated nearest after position `near` (a title), else nearest before, that is
    no deadline, period or plan; the most precise where two start at one place ("23 May 2018"
    over "May 2018"). ISO, or ''."""
    stated = list(_dates(text))
    timed = [(a, b) for a, b, _ in stated if _TIMED.search(text[max(a - 30, 0):a])
             or _PLANNED.search(text[max(a - 200, 0):a])]
    # "by 23 May 2027" holds "May 2027", which no "by" stands before: it goes with its date.
    found = sorted(((a, iso) for a, b, iso in stated
                    if not any(ta <= a and b <= tb for ta, tb in timed)),
                   key=lambda d: (d[0] < near, abs(d[0] - near), -len(d[1])))
    return found[0][1] if found else ""


_BODY = re.compile(r"^(?:[A-Z][\w&'-]*\s){0,5}(?:City|County|District|Borough)\s+Council\b.*$|"
                   r"^(?:[A-Z][\w&'-]*\s){0,6}(?:CCG|NHS Trust|NHS Foundation Trust|"
                   r"Clinical Commissioning Group|Health and Care Partnership)$",
                   re.I | re.M)
_BODY_IN_NAME = re.compile(r"\b((?:[A-Z][\w&'-]*\s){0,5}(?:City|County|District|Borough)\s+Council|"
                           r"(?:[A-Z][\w&'-]*\s){1,5}(?:CCG|NHS Trust))\b")
_AREA = re.compile(r"\b((?:[A-Z][a-z]+|[A-Z]+)(?:\s(?:and|&|AND)\s(?:[A-Z][a-z]+|[A-Z]+)){1,2}"
                   r"(?:\s(?:[A-Z][a-z]+|[A-Z]+))?)\s+(?:STP|Sustainability\s+(?:and|&)\s+Transformation|"
                   r"SUSTAINABILITY|Health and Care Partnership)", re.I)
# What a file name says of its kind; first match wins.
_KINDS = (("minutes", r"\bminutes\b"), ("briefing", r"\bbriefing\b"), ("letter", r"\bletter\b"),
          ("plan", r"\bplan\b|\bSTP\b|\bstrategy\b"),
          ("report", r"\breport\b|\bboard papers?\b|\bagenda\b|\bpapers?\b"))
# Lines that are no title: where a text came from, page furniture, a bare date or number.
_NOT_TITLE = re.compile(r"^(?:source|url|retrieved|downloaded|page|agenda item|date|from|to)\b"
                        r"|^\W*\d[\d\s./-]*$|https?://|^\S+@\S+$", re.I)


def _title_case(s: str) -> str:
    return " ".join(w if w in ("and", "&") else w.capitalize() for w in s.lower().split())


def _kind_of(s: str) -> str:
    return next((k for k, pat in _KINDS if re.search(pat, s, re.I)), "")


def from_name(name: str) -> dict:
    """What the file name says: a date (2018-05-23, 23.05.2018, May_2018), a kind ("minutes",
    "board papers"), a body, and the name itself as a title when it reads as one."""
    stem = PurePosixPath(name).stem
    words = re.sub(r"[_+]+", " ", stem).strip()
    out = {}
    found = sorted((a, iso) for a, _, iso in _dates(words))
    if found:
        out["date"] = max((d for d in found if d[0] == found[0][0]), key=lambda d: len(d[1]))[1]
    kind = _kind_of(words)
    if kind:
        out["type"] = kind
    body = _BODY_IN_NAME.search(words)
    if body:
        out["body"] = body.group(1)
    # A title is words; "000_39354a0ede1fe7a3" or "scan0003" is not one.
    title = re.sub(r"\s{2,}", " ", _DATE_ISO.sub("", words)).strip(" -–,")
    letters = sum(c.isalpha() for c in title)
    if len(title.split()) >= 2 and letters >= 8 and not re.search(r"[0-9a-f]{10,}", title):
        out["title"] = title
    return out


def from_text(text: str, headings: list | None) -> dict:
    """Best guesses from a document's opening: its title (the first top heading, else the
    first line that reads as one), the publishing body, the area, a date near the title."""
    head = text[:4000]
    title, at = "", 0
    if headings:
        top = min(h.level for h in headings[:10])
        h = next(h for h in headings if h.level == top)
        title, at = text[h.start:h.end].strip(), h.start
    if not title:
        pos = 0
        for line in head.split("\n"):
            s = line.strip()
            if s.lower().startswith("subject:") and len(s) > 12:
                title, at = s.split(":", 1)[1].strip(), pos
                break
            if not title and 8 <= len(s) <= 120 and "\t" not in s and not _NOT_TITLE.search(s):
                title, at = s, pos
            pos += len(line) + 1
    out = {"title": title} if title else {}
    body = _BODY.search(head)
    if body:
        out["body"] = body.group(0).strip()
    area = _AREA.search(text[:20000])
    if area:
        out["area"] = _title_case(area.group(1))
    # Near the title: the first date anywhere is as often a meeting referred to or a target;
    # a date in a table row is data.
    near = re.sub(r"[^\n]*\t[^\n]*", lambda m: " " * len(m.group(0)),
                  text[max(at - 200, 0):at + 400])
    date = find_date(near, near=min(at, 200))
    if date:
        out["date"] = date
    low = head.lower()
    kind = ("minutes" if "minutes of the" in low else
            "briefing" if "briefing" in low[:1500] else
            "plan" if re.search(r"\bplan\b", title.lower()) else
            "letter" if re.search(r"^dear\s", low, re.M) else "")
    if kind:
        out["type"] = kind
    return out


_ORGANISATION = re.compile(r"\b(?:Council|CCG|NHS|Trust|Partnership|Board|Commissioning|"
                           r"Authority|STP|ICS|ICB|Alliance|Healthwatch)\b")


def from_props(props: dict) -> dict:
    """The format's metadata a person set: a title, an author that is an organisation (a
    person's name is no publishing body), a date."""
    out = {k: props[k] for k in ("title", "date") if props.get(k)}
    kind = _kind_of(props.get("title", ""))
    if kind:
        out["type"] = kind
    if _ORGANISATION.search(props.get("author", "")):
        out["body"] = props["author"]
    return out


def infer(name: str, text: str, headings: list | None, props: dict,
          entry: dict | None) -> tuple[dict, dict]:
    """Each metadata field and where it came from: the catalog entry, the format's properties,
    the file name, the text, in that order of trust. A file's creation time (PDF, Word) is
    when it was saved, not the paper's date: it is taken only when nothing else gives one.
    `type` falls back to "report"."""
    meta = {f: "" for f in META_FIELDS}
    origins: dict[str, str] = {}
    layers = (("properties", {"date": props.get("created", "")}),
              ("text", from_text(text, headings)), ("file name", from_name(name)),
              ("properties", from_props(props)),
              ("catalog", {k: v for k, v in (entry or {}).items() if k in META_FIELDS}))
    for origin, values in layers:
        for k, v in values.items():
            if v:
                meta[k], origins[k] = str(v).strip(), origin
    if not meta["type"]:
        meta["type"] = "report"
    if not meta["title"]:
        meta["title"], origins["title"] = PurePosixPath(name).stem, "file name"
    return meta, origins
