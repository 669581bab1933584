"""Word (.docx): heading styles (and wholly bold short lines), lists, tables with their header
row, and the core properties, through python-docx."""
from __future__ import annotations

import io
import re
import zipfile

from .record import Parsed, Skip, TextBuilder, inline

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def _style_name(p) -> str:
    try:
        return p.style.name or "" if p.style is not None else ""
    except (KeyError, ValueError):
        return ""


def _is_list(p, style: str) -> bool:
    ppr = p._p.pPr
    return "list" in style.lower() or (ppr is not None and ppr.numPr is not None)


def _all_bold(p) -> bool:
    runs = [r for r in p.runs if r.text.strip()]
    return bool(runs) and all(r.bold for r in runs)


def _rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(p.text for p in cell.paragraphs))
        rows.append(cells)
    return rows


def load(data: bytes) -> Parsed:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise Skip(f"unreadable Word file ({e})") from e
    out = TextBuilder()
    level = 0  # of the last styled heading: a bold line below it is one level deeper
    for block in document.iter_inner_content():
        if not hasattr(block, "runs"):
            out.table(_rows(block))
            continue
        text, style = block.text, _style_name(block)
        m = _HEADING_STYLE.match(style)
        if m or style.lower() == "title":
            level = int(m.group(1)) if m else 1
            out.heading(text, level)
        elif _is_list(block, style):
            out.item(text)
        elif _all_bold(block) and len(inline(text)) <= 100 and not inline(text).endswith("."):
            out.heading(text, min(level + 1, 6))
        else:
            out.para(text)
    core = document.core_properties
    props = {"title": inline(core.title or ""), "author": inline(core.author or "")}
    when = core.created or core.modified
    if when is not None and when.year > 1990:
        props["created"] = when.strftime("%Y-%m-%d")
    return out.result({k: v for k, v in props.items() if v})
