"""PDF: text by lines with their font size and weight, through pdfplumber (pdfminer's layout
analysis; chosen over pypdfium2 for its tables and per-character fonts, see eval/README.md).

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
_BULLET = re.compile(r"^[•●▪■◦‣⁃–\-*o]\s+")
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.I)
MARGIN = 0.1  # share of the page height at top and bottom where running lines sit


@dataclass
class _Line:
    text: str
    size: float
    bold: bool
    top: float
    bottom: float
    x0: float
    page: int
    table: list | None = None  # a table's rows, when this "line" is a whole table


def _lines_of(page, n: int) -> list[_Line]:
    tables = [t for t in page.find_tables() if len(t.rows) >= 2]
    boxes = [t.bbox for t in tables]

    def in_table(w) -> bool:
        cx, cy = (w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2
        return any(x0 <= cx <= x1 and t <= cy <= b for x0, t, x1, b in boxes)

    words = [w for w in page.extract_words(extra_attrs=["size", "fontname"], use_text_flow=True)
             if not in_table(w)]
    lines: list[_Line] = []
    cur: list = []
    for w in words:
        if cur and abs(w["top"] - cur[0]["top"]) > 0.5 * max(w["size"], 1):
            lines.append(_join(cur, n))
            cur = []
        cur.append(w)
    if cur:
        lines.append(_join(cur, n))
    for t in tables:
        rows = [[c or "" for c in row] for row in t.extract()]
        lines.append(_Line("", 0, False, t.bbox[1], t.bbox[3], t.bbox[0], n, rows))
    return sorted(lines, key=lambda ln: ln.top)


def _join(words: list, n: int) -> _Line:
    words = sorted(words, key=lambda w: w["x0"])
    sizes = Counter()
    for w in words:
        sizes[round(w["size"] * 2) / 2] += len(w["text"])
    return _Line(" ".join(w["text"] for w in words), sizes.most_common(1)[0][0],
                 all(_BOLD_FONT.search(w["fontname"]) for w in words),
                 min(w["top"] for w in words), max(w["bottom"] for w in words),
                 words[0]["x0"], n)


def _running(pages: list[list[_Line]], heights: list[float]) -> set[str]:
    """Lines at the top or bottom of pages that recur, numbers aside, on many pages."""
    seen: Counter = Counter()
    for lines, h in zip(pages, heights):
        keys = {re.sub(r"\d+", "#", ln.text) for ln in lines
                if ln.table is None and (ln.top < h * MARGIN or ln.bottom > h * (1 - MARGIN))}
        seen.update(keys)
    need = max(2, len(pages) * 0.4)
    return {k for k, c in seen.items() if c >= need}


def _is_furniture(ln: _Line, h: float, running: set[str]) -> bool:
    edge = ln.top < h * MARGIN or ln.bottom > h * (1 - MARGIN)
    return edge and (bool(_PAGE_NO.match(ln.text.strip()))
                     or re.sub(r"\d+", "#", ln.text) in running)


def _props(pdf) -> dict:
    meta = pdf.metadata or {}
    props = {}
    for key, name in (("Title", "title"), ("Author", "author")):
        v = meta.get(key)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if isinstance(v, str) and inline(v) and not re.match(r"^(untitled|microsoft word)", v, re.I):
            props[name] = inline(v)
    created = meta.get("CreationDate")
    if isinstance(created, bytes):
        created = created.decode("latin-1")
    m = re.match(r"^(?:D:)?((?:19|20)\d\d)(\d\d)(\d\d)", created or "")
    if m:
        props["date"] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    return props


def load(data: bytes) -> Parsed:
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
        pages = [_lines_of(p, i) for i, p in enumerate(pdf.pages)]
        heights = [float(p.height) for p in pdf.pages]
        props = _props(pdf)
    except PDFPasswordIncorrect as e:
        raise Skip("encrypted PDF (save it without a password)") from e
    except Exception as e:  # pdfminer raises many types for a damaged file; all mean one thing
        raise Skip(f"unreadable PDF ({type(e).__name__}: {e})"[:200]) from e
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
    for lines in kept:
        out.page()
        _write_page(out, lines, levels, body_size)
    return out.result(props)


def _level(ln: _Line, levels: dict, body_size: float) -> int:
    if ln.size in levels:
        return levels[ln.size]
    if ln.bold and abs(ln.size - body_size) < 1 and len(ln.text) <= 100 and \
            not ln.text.rstrip().endswith((".", ",", ";")):
        return len(levels) + 1
    return 0


def _write_page(out: TextBuilder, lines: list[_Line], levels: dict, body_size: float) -> None:
    """Lines back into headings, paragraphs, list items and tables."""
    buf: list[str] = []
    kind, level, prev = "", 0, None

    def flush():
        s = _unwrap(buf)
        if s:
            {"heading": lambda: out.heading(s, level), "item": lambda: out.item(s),
             "para": lambda: out.para(s)}[kind]()
        buf.clear()

    for ln in lines:
        if ln.table is not None:
            flush()
            out.table(ln.table)
            kind, prev = "", None
            continue
        lv = _level(ln, levels, body_size)
        text = ln.text.strip()
        gap = ln.top - prev.bottom if prev else 1e9
        near = prev is not None and gap < 0.8 * ln.size
        if lv:
            # A heading wrapped onto a second line ("Better Care Fund Plan 2017-" / "19") is
            # one heading.
            if not (kind == "heading" and lv == level and near):
                flush()
                kind, level = "heading", lv
        elif _BULLET.match(text):
            flush()
            kind, text = "item", _BULLET.sub("", text)
        elif not (kind in ("para", "item") and near and abs(ln.size - prev.size) < 1):
            flush()
            kind = "para"
        buf.append(text)
        prev = ln
    flush()


def _unwrap(parts: list[str]) -> str:
    """Wrapped lines as one: a line ending in a hyphen runs straight on ("2017-" "19")."""
    s = ""
    for p in parts:
        s += p if not s or s.endswith("-") else " " + p
    return s
