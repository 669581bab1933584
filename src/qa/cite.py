"""A citation as a reader quotes it: the words, where they come from, and a link."""
from __future__ import annotations

import re

from .chunk import section_path
from .dates import MONTHS
_ISO = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def uk_date(value: str) -> str:
    """"2017-11-21" -> "21 November 2017" ("2017-11" -> "November 2017"); else as given."""
    m = _ISO.match(value or "")
    if not m or not 1 <= int(m[2] or 1) <= 12:
        return value or ""
    year, month, day = m[1], m[2], m[3]
    if not month:
        return year
    return " ".join(x for x in (day and str(int(day)), MONTHS[int(month) - 1], year) if x)


def pages(item) -> str:
    """"p. 12" or "pp. 12–13" for a hit that knows its pages; "" for formats without."""
    if not item.page:
        return ""
    return f"pp. {item.page}–{item.page_end}" if item.page_end else f"p. {item.page}"


def public_link(path: str, public_url: str) -> str:
    """A link readers can follow from anywhere: the configured public address and the path,
    or the path alone (relative) when none is configured."""
    return f"{public_url}{path}" if public_url else path


def citation(hit, quote: str, link: str, source_url: str = "") -> str:
    """“Quoted words” — title, body, date, section, page. link (original: source_url)"""
    parts = [hit.title, hit.body, uk_date(hit.date),
             (where := section_path(hit)) and f"section: {where}", pages(hit)]
    source = ", ".join(p for p in parts if p)
    text = f"“{quote}” — {source}. {link}" if quote else f"{source}. {link}"
    return f"{text} (original: {source_url})" if source_url else text
