"""The document record every stage shares, and what a loader builds it from."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

DOC_TYPES = ("report", "minutes", "briefing", "plan", "letter")
META_FIELDS = ("title", "body", "date", "area", "type")


class CorpusError(Exception):
    """The corpus as a whole cannot be read (missing folder, nothing indexable, bad catalog)."""


class Skip(ValueError):
    """One file cannot be indexed; the reason is said to the user with the file's name."""


@dataclass
class DocRecord:
    """A document as the index keeps it: metadata and the cleaned text passages cite."""

    doc_id: str
    path: str
    title: str
    body: str
    date: str
    area: str
    type: str
    text: str
    # Character offset in `text` where each page begins (page 1 at index 0); empty for
    # formats without pages.
    pages: list = field(default_factory=list)
    source_url: str = ""
    # Where each metadata field came from: "catalog" | "properties" | "file name" | "text".
    origins: dict = field(default_factory=dict)

    def meta(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(DocRecord) if f.name != "text"}
        return {**d, "chars": len(self.text)}

    def record(self) -> "DocRecord":
        return DocRecord(**{f.name: getattr(self, f.name) for f in fields(DocRecord)})


@dataclass(frozen=True)
class Heading:
    start: int
    end: int
    level: int


@dataclass(frozen=True)
class Table:
    """A table as the text holds it: one tab-separated line per row, rows[0] the header."""

    start: int
    end: int
    rows: tuple


@dataclass
class Document(DocRecord):
    """A document as read from the corpus, with what only chunking needs."""

    sha256: str = ""
    # Offsets of lines that were wholly bold in the source: a strong heading signal that the
    # cleaning itself removes.
    bold_lines: frozenset = field(default_factory=frozenset, repr=False)
    # Bold lead-in labels ("- **Medicines Optimisation** - The ..."), by line offset: the
    # topic of the paragraphs that follow, which often never name it again.
    labels: dict = field(default_factory=dict, repr=False)
    # The headings the format marks (Markdown #, Word heading styles, HTML h1-h6, PDF font
    # size); None for plain text, whose headings the chunker finds from the lines themselves.
    headings: list | None = field(default=None, repr=False)
    tables: list = field(default_factory=list, repr=False)


# --- building a loader's text ---------------------------------------------------------------

# Control characters other than tab and newline never reach stored text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACE = re.compile(r"[ \t\u00a0\r\n\f\v\u2028\u2029]+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u00ad": ""})


def inline(s: str) -> str:
    """One line of text: quotes plain, whitespace runs one space, no control characters."""
    return _SPACE.sub(" ", _CONTROL.sub("", s.translate(_QUOTES))).strip()


@dataclass
class Parsed:
    """What a loader returns: the cleaned text and the structure it marks."""

    text: str
    headings: list | None  # None: plain text, headings left to the chunker's line rules
    tables: list
    pages: list
    props: dict  # the format's own metadata: title, author, date, url
    bold_lines: frozenset = frozenset()
    labels: dict = field(default_factory=dict)


class TextBuilder:
    """Writes a structured document as lines of text, recording where its headings, tables and
    pages begin. Paragraphs are set apart by a blank line, list items follow each other, a
    table row is its cells joined by tabs: the line shapes the chunker reads."""

    def __init__(self):
        self.parts: list[str] = []
        self.size = 0
        self.headings: list[Heading] = []
        self.tables: list[Table] = []
        self.pages: list[int] = []
        self._last = ""  # kind of the last block written
        self._pending_pages = 0  # pages begun with no line written on them yet

    def _line(self, s: str, kind: str) -> int:
        if self.parts and not (kind == self._last and kind in ("item", "row")):
            self._put("\n")
        self._last = kind
        start = self.size
        self.pages.extend([start] * self._pending_pages)
        self._pending_pages = 0
        self._put(s + "\n")
        return start

    def _put(self, s: str) -> None:
        self.parts.append(s)
        self.size += len(s)

    def page(self) -> None:
        self._pending_pages += 1

    def heading(self, s: str, level: int) -> None:
        s = inline(s)
        if s:
            start = self._line(s, "heading")
            self.headings.append(Heading(start, start + len(s), max(1, min(level, 6))))

    def para(self, s: str, page_starts: list[int] = ()) -> None:
        """A paragraph; page_starts, offsets within it where a new page begins (a paragraph
        running on over a page break)."""
        s = inline(s)
        if s:
            start = self._line(s, "para")
            self.pages.extend(start + k for k in page_starts)

    def item(self, s: str, marker: str = "•") -> None:
        s = inline(s)
        if s:
            self._line(f"{marker} {s}", "item")

    def table(self, rows: list[list[str]], header: list[str] | None = None) -> None:
        """A table, one line a row; `header`, the header row of the table this one continues
        (a table running on over a page break without repeating it)."""
        rows = [[inline(c) for c in row] for row in rows]
        rows = [r for r in rows if any(r)]
        if not rows:
            return
        if len(rows[0]) == 1 and len(rows) == 1:
            self.para(rows[0][0])
            return
        start = None
        for r in rows:
            at = self._line("\t".join(c or "-" for c in r), "row")
            start = at if start is None else start
        self._last = "table"
        marked = [[inline(c) for c in header]] if header else []
        self.tables.append(Table(start, self.size - 1, tuple(tuple(r) for r in marked + rows)))

    def result(self, props: dict | None = None) -> Parsed:
        text = "".join(self.parts)
        # Trailing pages with no text of their own begin where the text ends.
        pages = self.pages + [max(len(text) - 1, 0)] * self._pending_pages
        if pages:
            pages[0] = 0
        return Parsed(text.rstrip("\n") + "\n" if text.strip() else "", self.headings,
                      self.tables, pages, props or {})
