"""Markdown: `#` headings, lists, pipe tables and front matter, through markdown-it-py (the
CommonMark parser with GitHub tables); the stored text keeps the words, not the markup."""
from __future__ import annotations

import re

from markdown_it import MarkdownIt

from .record import Parsed, TextBuilder
from .text import decode

_MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n(?:---|\.\.\.)\s*\n", re.S)
_FRONT_FIELD = re.compile(r"^(title|author|date|source_url|url)\s*:\s*['\"]?(.*?)['\"]?\s*$",
                          re.M | re.I)


def _inline_text(token) -> str:
    out = []
    for t in token.children or ():
        if t.type in ("text", "code_inline", "html_inline"):
            out.append(t.content if t.type != "html_inline" else "")
        elif t.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif t.type == "image":
            out.append(t.content)
    return "".join(out)


def _front_matter(src: str) -> tuple[str, dict]:
    """YAML front matter's title, author, date and source address; the rest of the file."""
    m = _FRONT.match(src)
    if not m:
        return src, {}
    props = {}
    for k, v in _FRONT_FIELD.findall(m.group(1)):
        k = k.lower()
        props[{"source_url": "url"}.get(k, k)] = v
    # Blank lines keep the rest of the file where it was for markdown-it's line numbers.
    return "\n" * m.group(0).count("\n") + src[m.end():], props


def load(data: bytes) -> Parsed:
    src, props = _front_matter(decode(data).replace("\r\n", "\n"))
    out = TextBuilder()
    tokens = _MD.parse(src)
    lists: list[list] = []  # open lists: [ordered, next number]
    row: list[str] | None = None
    rows: list[list[str]] = []
    heading = 0
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            heading = int(t.tag[1])
        elif t.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([t.type == "ordered_list_open", int(t.attrs.get("start", 1) or 1)])
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif t.type == "tr_open":
            row = []
        elif t.type == "tr_close":
            rows.append(row)
            row = None
        elif t.type == "table_close":
            out.table(rows)
            rows = []
        elif t.type in ("fence", "code_block"):
            for line in t.content.splitlines():
                out.para(line)
        elif t.type == "inline":
            s = _inline_text(t)
            if row is not None:
                row.append(s)
            elif heading:
                out.heading(s, heading)
                heading = 0
            elif lists and tokens[i - 1].type == "paragraph_open" and \
                    tokens[i - 2].type == "list_item_open":
                ordered = lists[-1]
                if ordered[0]:
                    out.item(s, f"{ordered[1]}.")
                    ordered[1] += 1
                else:
                    out.item(s)
            else:
                out.para(s)
    return out.result(props)
