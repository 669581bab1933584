"""Sentences: where the chunker may cut a long block, and the units that are highlighted and
embedded on their own.

A sentence ends at . ! ? or ; followed by space and something that can start one, so "e.g. the"
and "£179.5m" stay whole. As highlight units, list items, table cells' bullets, lines and
clauses ended by a semicolon count as sentences too: in the plans they carry one point each.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .bm25 import tokenize

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(£•])|\s+(?=•\s)")
_UNIT = re.compile(r"[^\n•;]+;?")
_PRONOUN = re.compile(r"(it|its|they|their|he|she)\b", re.I)


@dataclass(frozen=True)
class Sentence:
    start: int  # offsets within the passage text
    end: int
    terms: frozenset


def split_sentences(text: str, base: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of running text, offset by base."""
    spans, a = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > a:
            spans.append((base + a, base + m.start()))
        a = m.end()
    if a < len(text):
        spans.append((base + a, base + len(text)))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each highlight unit of a passage's text, trimmed; the whole text if none."""
    out = []
    for m in _UNIT.finditer(text):
        for a, b in split_sentences(m.group(), m.start()):
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                out.append((a, b))
    return out or [(0, len(text))]


def sentences(text: str, spans: list[tuple[int, int]]) -> list[Sentence]:
    """Sentences with the terms they are about. One opening with a pronoun ("It is responsible
    for ...") is about its predecessor's subject too, so it takes that sentence's terms."""
    out: list[Sentence] = []
    for a, b in spans:
        terms = frozenset(tokenize(text[a:b]))
        if out and _PRONOUN.match(text, a):
            terms |= out[-1].terms
        out.append(Sentence(a, b, terms))
    return out
