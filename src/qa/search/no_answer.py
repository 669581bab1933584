"""Honest silence: the question's words no plan uses, and whether the best passages answer.

A question about a place, service or thing no document mentions ("Solihull", "IVF", "the
weather") is not answered by the closest passage about something else. A word counts as
mentioned when its stem is among the index's terms, or when the vocabulary gives it a
wording the plans use: "family doctors" is not missing from plans that say "GP".
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..bm25 import STOPWORDS, QUESTION_WORDS, DEFINITION_WORDS, SparseBM25, words
from .features import Candidates
from .query import Query

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")

# Words that frame a request to a search box rather than say what it is about: a plan need
# not use them to answer ("is there anything in the documents about ...").
FRAMING = frozenset("""anything something everything information info details detail document
documents paper papers plan plans please tell know find show give list explain describe
mention mentioned mentions currently current latest still going happening really actually
get got""".split())


def missing_terms(q: Query, bm25: SparseBM25) -> list[str]:
    """The question's content words (as written) that no indexed passage holds in any form."""
    covered = [(e.source.lower(), e.terms) for e in q.expansions]
    out: list[str] = []
    for m in _WORD.finditer(q.text):
        w = m.group().strip("'’-")
        low = w.lower()
        if (len(low) < 3 or low in STOPWORDS or low in QUESTION_WORDS
                or low in DEFINITION_WORDS or low in FRAMING or low in out):
            continue
        stems = words(low)
        if not stems or all(s in bm25.vocab for s in stems):
            continue
        # A word the vocabulary rewords counts as present when the plans hold a rewording.
        if any(low in source.split() and any(_held(t, bm25) for t in terms)
               for source, terms in covered):
            continue
        out.append(low)
    return out


def _held(phrase: str, bm25: SparseBM25) -> bool:
    stems = words(phrase)
    return bool(stems) and all(s in bm25.vocab for s in stems)


@dataclass(frozen=True)
class Signals:
    """What the silence test reads, for one question."""

    missing: float      # share of the question's content words that no document holds
    cosine: float       # best passage cosine (best sentence blended) to the question
    coverage: float     # idf share of the question's words held by the top passage
    agree: float        # 1 when the top BM25 passage is among the top 3 dense ones
    answer: float       # the top passage's best sentence holding what is asked, by share
    wants: bool         # whether the question asks for a figure, a date or a body

    def as_row(self) -> list[float]:
        return [self.missing, self.cosine, self.coverage, self.agree, self.answer,
                float(self.wants)]


def signals(q: Query, c: Candidates, final: np.ndarray, missing: list[str]) -> Signals:
    content = {w for w in (m.group().lower() for m in _WORD.finditer(q.text))
               if len(w) >= 3 and w not in STOPWORDS and w not in QUESTION_WORDS
               and w not in FRAMING and w not in DEFINITION_WORDS}
    if len(c) == 0:
        return Signals(1.0 if missing else 0.0, 0.0, 0.0, 0.0, 0.0, q.wants is not None)
    top = int(np.argmax(final))
    dense = np.maximum(c.sent, c.cos)
    agree = float(int(np.argmax(c.bm25)) in np.argsort(-dense)[:3])
    return Signals(missing=len(missing) / max(len(content), 1),
                   cosine=float(dense.max()), coverage=float(c.coverage[top]), agree=agree,
                   answer=float(c.answer[top]), wants=q.wants is not None)


@dataclass(frozen=True)
class Thresholds:
    """When the plans are taken to be silent (fitted by eval/cv.py): any content word missing
    from every document beyond `missing` share, or weak meaning and weak word evidence."""

    missing: float = 0.0
    cosine: float = 0.3
    coverage: float = 0.5
    answer: float = 0.0


def silent(s: Signals, t: Thresholds) -> bool:
    if s.missing > t.missing:
        return True
    if s.wants and s.answer <= t.answer and s.cosine < t.cosine + 0.1:
        return True
    return s.cosine < t.cosine and s.coverage < t.coverage


FITTED = Thresholds()
