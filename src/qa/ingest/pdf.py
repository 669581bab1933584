"""PDF: text by lines with their font size and weight, through PDFium (pypdfium2); tables
through pdfplumber, on the pages that draw ruling lines only (eval/pdf_libraries.py: PDFium
reads text about a hundred times faster; only pdfplumber finds tables).

Headings are lines set larger than the body text (levels by size), or wholly bold short lines
of body size; running headers, footers and page numbers (short lines at the top or bottom
that repeat across pages) are dropped; lines are joined back into paragraphs and list items;
tables are found from their ruling lines and written row by row. A PDF with no text layer
(a scan) is refused as such rather than indexed empty.
"""
from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

from .record import Parsed, Skip, TextBuilder, inline

_PAGE_NO = re.compile(r"^(?:page\s*)?[-–(]?\s*\d{1,4}\s*[-–)]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_BULLET = re.compile(r"^[•●▪■◦‣⁃–\-*o]\s+(?=\S)")
# Glyphs the font maps to no character (U+FFFE/FFFF from PDFium, private-use symbols): at the
# start of a line, a bullet.
_CID = re.compile(r"[\ufffd\ufffe\uffff\ue000-\uf8ff]")
_CID_BULLET = re.compile(r"^\s*[\ufffd\ufffe\uffff\ue000-\uf8ff]\s*")
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.I)
MARGIN = 0.1  # share of the page height at top and bottom where running lines sit


@dataclass
class _Line:
    text: str
    size: float
    bold: bool
    top: float  # distance from the top of the page, in points
    bottom: float
    page: int
    table: list | None = None  # a table's rows, when this "line" is a whole table


def _font(tp, i: int, buf) -> tuple[float, bool]:
    """Size and weight of the character at index i of a text page."""
    import ctypes

    import pypdfium2.raw as raw

    size = raw.FPDFText_GetFontSize(tp.raw, i)
    raw.FPDFText_GetFontInfo(tp.raw, i, buf, len(buf), ctypes.byref(ctypes.c_int()))
    bold = raw.FPDFText_GetFontWeight(tp.raw, i) >= 600 or bool(_BOLD_FONT.search(
        buf.value.decode("latin-1", "replace")))
    return round(size * 2) / 2, bold


def _text_lines(page, n: int, tables: list) -> list[_Line]:
    """The page's lines as PDFium reads them, each with the size and weight of its type
    (sampled at its first, middle and last letters), lines inside a table left out."""
    import ctypes

    tp = page.get_textpage()
    height = page.get_height()
    text = tp.get_text_range()
    buf = ctypes.create_string_buffer(128)
    lines, pos = [], 0
    for raw_line in text.split("\r\n"):
        at = pos
        pos += len(raw_line) + 2
        line = _CID_BULLET.sub("• ", raw_line)
        if not line.strip():
            continue
        idx = [at + k for k, c in enumerate(raw_line) if not c.isspace()]
        samples = [_font(tp, i, buf) for i in {idx[0], idx[len(idx) // 2], idx[-1]}]
        size = Counter(sz for sz, _ in samples).most_common(1)[0][0]
        box = tp.get_charbox(idx[0], loose=True)
        top, bottom = height - box[3], height - box[1]
        cx, cy = (box[0] + box[2]) / 2, height - (box[1] + box[3]) / 2
        if any(x0 <= cx <= x1 and t <= cy <= b for x0, t, x1, b in tables):
            continue
        lines.append(_Line(_CID.sub("", line).strip(), size, all(b for _, b in samples),
                           top, bottom, n))
    return lines


def _tables(plumber_page) -> list:
    """Tables drawn with ruling lines, found by pdfplumber: (bbox, rows)."""
    found = []
    for t in plumber_page.find_tables():
        rows = [[c or "" for c in row] for row in t.extract()]
        if len(rows) >= 2:
            found.append((t.bbox, rows))
    return found


def _page_lines(page, n: int, plumber) -> list[_Line]:
    import pypdfium2.raw as raw

    # Only a page with drawn lines can hold a ruled table: pdfplumber, a hundred times slower
    # than PDFium at text, reads those pages alone.
    paths = sum(1 for o in page.get_objects() if o.type == raw.FPDF_PAGEOBJ_PATH)
    tables = _tables(plumber().pages[n]) if paths >= 4 else []
    lines = _text_lines(page, n, [bbox for bbox, _ in tables])
    lines += [_Line("", 0, False, bbox[1], bbox[3], n, rows) for bbox, rows in tables]
    return sorted(lines, key=lambda ln: ln.top)


def _edge(ln: _Line, h: float) -> str | None:
    return "top" if ln.top < h * MARGIN else "bottom" if ln.bottom > h * (1 - MARGIN) else None


def _running(pages: list[list[_Line]], heights: list[float]) -> set[tuple[str, str]]:
    """Lines that recur, numbers aside, at the same edge (top or bottom) of many pages. At
    the same edge: a paragraph's "Sentence 51 ..." at the foot of one page and "Sentence
    52 ..." at the head of the next are text, not a running header."""
    seen: Counter = Counter()
    for lines, h in zip(pages, heights):
        seen.update({(edge, re.sub(r"\d+", "#", ln.text)) for ln in lines
                     if ln.table is None and (edge := _edge(ln, h))})
    need = max(2, len(pages) * 0.4)
    return {k for k, c in seen.items() if c >= need}


def _is_furniture(ln: _Line, h: float, running: set[tuple[str, str]]) -> bool:
    edge = _edge(ln, h)
    return edge is not None and (bool(_PAGE_NO.match(ln.text.strip()))
                                 or (edge, re.sub(r"\d+", "#", ln.text)) in running)


def _props(pdf) -> dict:
    meta = pdf.get_metadata_dict(skip_empty=True)
    props = {}
    for key, name in (("Title", "title"), ("Author", "author")):
        v = inline(meta.get(key, ""))
        if v and not re.match(r"^(untitled|microsoft word)", v, re.I):
            props[name] = v
    m = re.match(r"^(?:D:)?((?:19|20)\d\d)(\d\d)(\d\d)", meta.get("CreationDate", ""))
    if m:
        props["created"] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    return props


def load(data: bytes) -> Parsed:
    import pypdfium2 as pdfium

    plumbed = []

    def plumber():
        import pdfplumber

        if not plumbed:
            plumbed.append(pdfplumber.open(io.BytesIO(data)))
        return plumbed[0]

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise Skip("encrypted PDF (save it without a password)") from e
        raise Skip(f"unreadable PDF ({e})") from e
    try:
        pages, heights = [], []
        for i in range(len(pdf)):
            page = pdf[i]
            pages.append(_page_lines(page, i, plumber))
            heights.append(page.get_height())
        props = _props(pdf)
    except Exception as e:  # PDFium and pdfminer raise many types for a damaged file
        raise Skip(f"unreadable PDF ({type(e).__name__}: {e})"[:200]) from e
    finally:
        for p in plumbed:
            p.close()
        pdf.close()
    if not any(ln.text.strip() or ln.table for lines in pages for ln in lines):
        raise Skip(f"no text layer (a scanned PDF of {len(pages)} page(s)? "
                   "run it through OCR first)")
    running = _running(pages, heights)
    kept = [[ln for ln in lines if ln.table or not _is_furniture(ln, h, running)]
            for lines, h in zip(pages, heights)]
    body = Counter()
    for lines in kept:
        for ln in lines:
            body[ln.size] += len(ln.text)
    body_size = body.most_common(1)[0][0] if body else 0
    larger = sorted({ln.size for lines in kept for ln in lines
                     if ln.text and ln.size >= body_size + 1 and len(ln.text) <= 150}, reverse=True)
    levels = {s: i + 1 for i, s in enumerate(larger[:5])}
    out = TextBuilder()
    writer = _Writer(out, levels, body_size)
    for lines in kept:
        writer.page(lines)
    writer.flush()
    return out.result(props)


def _level(ln: _Line, levels: dict, body_size: float) -> int:
    if ln.size in levels:
        return levels[ln.size]
    if ln.bold and abs(ln.size - body_size) < 1 and len(ln.text) <= 100 and \
            not ln.text.rstrip().endswith((".", ",", ";", ":")):
        return len(levels) + 1
    return 0


class _Writer:
    """Lines back into headings, paragraphs, list items and tables, page after page. A
    paragraph cut by a page break (its last line stops mid-sentence and the next page goes on
    in body type) stays one paragraph, with the page beginning inside it."""

    def __init__(self, out: TextBuilder, levels: dict, body_size: float):
        self.out, self.levels, self.body_size = out, levels, body_size
        self.buf: list[str] = []
        self.breaks: list[int] = []  # indices into buf of lines that begin a page
        self.kind, self.level, self.prev = "", 0, None
        self.header: list[str] | None = None  # of the table last written, while nothing follows it

    def flush(self) -> None:
        s, starts = _unwrap(self.buf)
        if s:
            if self.kind == "heading":
                self.out.heading(s, self.level)
            elif self.kind == "item":
                self.out.item(s)
            else:
                self.out.para(s, [starts[i] for i in self.breaks])
        self.buf, self.breaks = [], []

    def _runs_on(self, first: _Line) -> bool:
        return (self.kind == "para" and bool(self.buf) and first.table is None
                and not _level(first, self.levels, self.body_size)
                and not _BULLET.match(first.text.strip())
                and not self.buf[-1].endswith((".", "!", "?", ":", ";"))
                and abs(first.size - self.prev.size) < 1)

    def page(self, lines: list[_Line]) -> None:
        if lines and lines[0].table is not None and self.header is not None and \
                len(lines[0].table[0]) == len(self.header) and lines[0].table[0] != self.header:
            # The table at the top of this page goes on from the one ending the last page.
            self.flush()
            self.out.page()
            self.out.table(lines[0].table, header=self.header)
            lines = lines[1:]
            for ln in lines:
                self.line(ln)
            return
        if lines and self._runs_on(lines[0]):
            self.breaks.append(len(self.buf))
            self.buf.append(lines[0].text.strip())
            self.prev = lines[0]
            lines = lines[1:]
        else:
            self.flush()
            self.kind, self.prev = "", None
            self.out.page()
        for ln in lines:
            self.line(ln)

    def line(self, ln: _Line) -> None:
        if ln.table is not None:
            self.flush()
            self.out.table(ln.table)
            self.kind, self.prev, self.header = "", None, ln.table[0]
            return
        self.header = None
        lv = _level(ln, self.levels, self.body_size)
        text = ln.text.strip()
        prev = self.prev
        # Lines of a paragraph touch (their boxes span ascent to descent); paragraphs are
        # set apart by a few points.
        near = prev is not None and ln.top - prev.bottom < 0.35 * ln.size
        if lv:
            # A heading wrapped onto a second line ("Better Care Fund Plan 2017-" / "19") is
            # one heading.
            if not (self.kind == "heading" and lv == self.level and near):
                self.flush()
                self.kind, self.level = "heading", lv
        elif _BULLET.match(text):
            self.flush()
            self.kind, text = "item", _BULLET.sub("", text)
        elif not (self.kind in ("para", "item") and near and abs(ln.size - prev.size) < 1):
            self.flush()
            self.kind = "para"
        self.buf.append(text)
        self.prev = ln


def _unwrap(parts: list[str]) -> tuple[str, list[int]]:
    """Wrapped lines as one, and where each line begins in it: a line ending in a hyphen runs
    straight on ("2017-" "19")."""
    s, starts = "", []
    for p in map(inline, parts):
        if s and not s.endswith("-"):
            s += " "
        starts.append(len(s))
        s += p
    return s, starts
