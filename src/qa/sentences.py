"""A passage's sentences: the units that are highlighted and embedded on their own.

List items, table cells' bullets and clauses ended by a semicolon count as sentences: in the
plans they carry one point each.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .bm25 import tokenize

_SENT = re.compile(r"[^.!?\n•;]+(?:[.!?;]+|$)")


@dataclass(frozen=True)
class Sentence:
    start: int  # offsets within the passage text
    end: int
    terms: frozenset


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a passage's text, trimmed; the whole text if none."""
    out = []
    for m in _SENT.finditer(text):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out or [(0, len(text))]


def sentences(text: str, spans: list[tuple[int, int]]) -> list[Sentence]:
    return [Sentence(a, b, frozenset(tokenize(text[a:b]))) for a, b in spans]
