"""Honest silence: the question's words no plan uses, and whether the best passages answer.

A question about a place, service or thing no document mentions ("Solihull", "Botox", "the
weather") is not answered by the closest passage about something else. A word counts as
mentioned when its stem is among the index's terms, or when the vocabulary gives it a
wording the plans use: "family doctors" is not missing from plans that say "GP". A missing
word the asker types as a name ("Botox", "Solihull") says more than a missing everyday word
("grandad", where the plans say "older people"): a name has no rewording the plans could
use instead.

A question asking for a specific fact about a topic the plans do cover ("how much will the
stroke reconfiguration cost") is not answered by passages about the topic either: the answer
would be a sentence holding a sum (a duration, a count) together with the question's words.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..bm25 import STOPWORDS, QUESTION_WORDS, DEFINITION_WORDS, SparseBM25, words
from .features import Candidates
from .query import Query

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
# A possessive or a contraction's ending: "I've" is the word "I", which no plan need hold,
# and its capital is no name's.
_CLITIC = re.compile(r"n['’]t$|['’](s|m|d|ll|re|ve)$", re.I)

# Words that frame a request to a search box rather than say what it is about: a plan need
# not use them to answer ("is there anything in the documents about ...").
FRAMING = frozenset("""anything something everything information info details detail document
documents paper papers plan plans please tell know find show give list explain describe
mention mentioned mentions currently current latest still going happening really actually
get got""".split())


def content(text: str) -> list[str]:
    """The question's words that say what it is about, lower-cased, each once."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        low = _bare(m.group())
        if not (len(low) < 3 or low in STOPWORDS or low in QUESTION_WORDS
                or low in DEFINITION_WORDS or low in FRAMING or low in out):
            out.append(low)
    return out


def _bare(word: str) -> str:
    return _CLITIC.sub("", word.lower()).strip("'’-")


@dataclass(frozen=True)
class Absence:
    """What of the question no document holds, whatever the candidates: worked out once a
    question, for the result's missing_terms and for the silence signals."""

    terms: list[str]    # its content words no indexed passage holds in any form
    share: float        # their share of the question's weight (see missing_share)
    name: bool          # one of them is a word the question types as a name (see names)


def absence(q: Query, bm25: SparseBM25) -> Absence:
    asked = content(q.text)
    missing = missing_terms(q, bm25, asked)
    return Absence(missing, missing_share(asked, missing, bm25),
                   not names(q.text).isdisjoint(missing))


def missing_terms(q: Query, bm25: SparseBM25, asked: list[str]) -> list[str]:
    """The question's content words (asked) that no indexed passage holds in any form."""
    # A word the vocabulary rewords counts as present when the plans hold a rewording; the
    # phrase's words are read as content() reads them ("Alzheimer's" is "alzheimer").
    rewordings = [({_bare(w) for w in _WORD.findall(e.source)}, e.terms) for e in q.expansions]
    return [w for w in asked
            if not _held(w, bm25)
            and not any(w in source and any(_held(t, bm25) for t in terms)
                        for source, terms in rewordings)]


def names(text: str) -> set[str]:
    """The words the question types as names, lower-cased: an acronym ("IVF") or a word with a
    capital that does not open the question ("in Solihull"). A question typed in capitals, or
    in title case (a capital on a word such as "The" or "Is" past the first; not the A of
    "A&E"), says nothing this way."""
    found = [(m.group(), _bare(m.group())) for m in _WORD.finditer(text)]
    if not any(c.islower() for c in text) or any(
            word[0].isupper() and len(bare) > 1 and bare in STOPWORDS for word, bare in found[1:]):
        return set()
    return {bare for i, (word, bare) in enumerate(found)
            if word[0].isupper() and len(bare) > 1 and (i > 0 or word.isupper())}


def _held(phrase: str, bm25: SparseBM25) -> bool:
    stems = words(phrase)
    return bool(stems) and all(s in bm25.vocab for s in stems)


@dataclass(frozen=True)
class Signals:
    """What the silence test reads, for one question."""

    missing: float      # share of the question's weight in words no document holds
    cosine: float       # best cosine (passage or its best sentence) to the question
    coverage: float     # most of the question's word weight one passage holds (or rewords)
    answer: float       # most of it a sentence holding what is asked for holds
    wants: bool         # whether the question asks for a figure, a date or a body
    # Asked for a sum, a duration or a count: of the sentences holding one, the most of the
    # question's words one holds (1 when not so asked).
    precise: float = 1.0
    name: bool = False  # a word it types as a name (see names) is one no document holds


def missing_share(asked: list[str], missing: list[str], bm25: SparseBM25) -> float:
    """The share of the question's weight (its content words, asked) in words no document
    holds. A word's weight is its idf (of its rarest stem); a missing word weighs as the
    rarest word of the index: it is rarer than any."""
    if not asked:
        return 0.0
    weight = {w: bm25.rarest if w in missing
              else max((bm25.idf(s) for s in words(w)), default=0.0) for w in asked}
    total = sum(weight.values())
    return sum(weight[w] for w in missing) / total if total > 0 else 0.0


def signals(q: Query, c: Candidates, absent: Absence) -> Signals:
    """Read over all the candidates, whichever ranker orders them: the best passage for each
    signal."""
    if len(c) == 0:
        return Signals(absent.share, 0.0, 0.0, 0.0, q.wants is not None,
                       0.0 if q.precise else 1.0, absent.name)
    return Signals(missing=absent.share, cosine=float(np.maximum(c.sent, c.cos).max()),
                   coverage=float(c.covered.max()), answer=float(c.answer.max()),
                   wants=q.wants is not None,
                   precise=float(c.precise.max()) if q.precise else 1.0, name=absent.name)


@dataclass(frozen=True)
class Thresholds:
    """When the plans are taken to be silent: more than `missing` of the question's weight in
    words no document holds; or no passage near it in meaning (cosine) that also holds its
    distinctive words (coverage); or, asked for a figure, date or body, no sentence holding one
    that shares `answer` of the question's weight; or, asked for a sum, a duration or a count,
    no sentence holding one that shares `precise` of the question's words (a plan that
    discusses the stroke reconfiguration but never costs it does not answer "how much will it
    cost"); or, with `names`, a word typed as a name that no document holds."""

    missing: float = 1.0
    cosine: float = 0.3
    coverage: float = 0.5
    answer: float = 0.0
    precise: float = 0.0
    names: bool = False


def silent(s: Signals, t: Thresholds) -> bool:
    return (unheard_of(s.missing, s.name, t)
            or (s.cosine < t.cosine and s.coverage < t.coverage)
            or (s.wants and s.answer < t.answer)
            or s.precise < t.precise)


def unheard_of(missing: float, name: bool, t: Thresholds) -> bool:
    """The part of the test that reads only what no document holds, whatever was retrieved
    and however (a BM25-only search reads this much too)."""
    return missing > t.missing or (t.names and name)


# Fitted on the dev set by `eval/silence.py --write` (eval/cv.py fits them too; eval/README.md).
MODEL = "data/no_answer.json"


@lru_cache(maxsize=1)
def fitted() -> Thresholds:
    return Thresholds(**json.loads(resources.files("qa").joinpath(MODEL).read_text("utf-8")))


def write(t: Thresholds, path: Path) -> None:
    path.write_text(json.dumps(asdict(t), indent=1) + "\n", encoding="utf-8")
