"""What is known of each candidate passage for one question: the retrievers' scores and the
evidence the rankers weigh (how much of the question it holds, whether a sentence of it holds
what the question asks for). Computed once per search; the rankers are pure functions of it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..bm25 import SparseBM25, tokenize
from ..chunk import SECTION_SEP
from ..store import Index, SentenceCosines
from ..sentences import Sentence, sentences
from . import answer_type
from .query import Query


@dataclass(frozen=True)
class PassageFacts:
    """What is known of a passage whatever the question."""

    sentences: list[Sentence]
    terms: frozenset          # BM25 terms of all its sentences
    kinds: list[frozenset]    # for each sentence, the answer kinds it holds
    section: frozenset        # BM25 terms of its section headings
    # Its sentence that is only its section's heading ("4.5 Place Based Care", an HTML
    # <h1>), if one is, and its labels (sentences of fewer than LABEL_WORDS words: "Stroke
    # Care" opening a table row): they hold the question's words without answering anything.
    heading: int | None = None
    labels: frozenset = frozenset()


class PassageCache:
    """Each passage's facts, worked out on first use, or all at once by warm()."""

    def __init__(self, index: Index):
        self.index = index
        number = {d.doc_id: i for i, d in enumerate(index.docs)}
        self.doc = np.fromiter((number[p.doc_id] for p in index.passages), np.int64,
                               len(index.passages))
        self.length = np.fromiter((len(p.text) for p in index.passages), np.float32,
                                  len(index.passages))
        self._facts: dict[int, PassageFacts] = {}

    def facts(self, pid: int) -> PassageFacts:
        found = self._facts.get(pid)
        if found is None:
            p = self.index.passages[pid]
            sents = sentences(p.text, self.index.sentences.of(pid).tolist())
            kinds = [frozenset(k for k in answer_type.KINDS
                               if answer_type.holds(k, p.text[x.start:x.end])) for x in sents]
            found = self._facts[pid] = PassageFacts(
                sents, frozenset().union(*(x.terms for x in sents)), kinds,
                frozenset(tokenize(p.section)), _heading_sentence(p, sents),
                frozenset(i for i, x in enumerate(sents)
                          if sum("_" not in t for t in x.terms) < LABEL_WORDS))
        return found

    def warm(self) -> None:
        for pid in range(len(self.index.passages)):
            self.facts(pid)


@dataclass
class Candidates:
    """Candidate passages (rows of the index) and, aligned with them, what ranking reads.
    A retriever that did not run leaves its scores at zero."""

    ids: np.ndarray
    doc: np.ndarray         # the document's number in the index, for diversity
    bm25: np.ndarray        # BM25 of the question's own terms and its acronyms' other forms
    bm25_syn: np.ndarray    # BM25 of the expansions of phrases the plans never use
    bm25_also: np.ndarray   # BM25 of the expansions of phrases the plans use too
    cos: np.ndarray         # passage cosine to the question
    sent: np.ndarray        # best sentence's cosine to the question
    cos_x: np.ndarray       # the same to the question in the plans' words (= cos without)
    sent_x: np.ndarray
    coverage: np.ndarray    # idf share of the question's words the passage holds
    covered: np.ndarray     # the same, counting words the passage holds a rewording of
    sent_share: np.ndarray  # the same for its best sentence
    answer: np.ndarray      # sent_share of its best sentence holding what the question asks for
    section: np.ndarray     # idf share of the question's words in its section headings
    # For a question asking for a sum, a duration or a count (query.precise): of the passage's
    # sentences holding one, the most of the question's words one holds, weighed by
    # exact_weights. Read by the no-answer test only.
    precise: np.ndarray
    defining: np.ndarray    # 1 when it spells out the acronym asked about
    length: np.ndarray      # characters
    sims: SentenceCosines | None = None  # sentence cosines to the question, for highlights

    def take(self, rows: np.ndarray) -> "Candidates":
        """The candidates at the given rows (evaluation narrows a deep pool this way)."""
        arrays = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "sims"}
        return replace(self, sims=None, **arrays)

    def __len__(self) -> int:
        return len(self.ids)


# Fewer distinct words than this (stop words aside; a sentence's terms hold word pairs too)
# make a label, not a sentence.
LABEL_WORDS = 3


def _heading_sentence(p, sents: list[Sentence]) -> int | None:
    """Which of the passage's sentences is its section's own heading, if one is."""
    heading = _plain(p.section.rsplit(SECTION_SEP, 1)[-1])
    return next((i for i, x in enumerate(sents)
                 if heading and _plain(p.text[x.start:x.end]) == heading), None)


def _plain(text: str) -> str:
    return " ".join(text.split()).strip(" :.").lower()


def compute(cache: PassageCache, q: Query, ids: np.ndarray,
            bm25: np.ndarray | None, bm25_syn: np.ndarray | None,
            bm25_also: np.ndarray | None, vectors: np.ndarray | None) -> Candidates:
    """The candidates' features. vectors: the question's vector and, when it has one, the
    rephrased question's (rows); None when the dense side does not run."""
    index, n = cache.index, len(ids)
    zeros = np.zeros(n, dtype=np.float32)
    cos = sent = cos_x = sent_x = zeros
    sims = None
    if vectors is not None:
        cos = index.vectors[ids] @ vectors[0]
        sims = index.sentences.cosines(vectors[0], ids)
        sent = sims.best()
        cos_x, sent_x = cos, sent
        if len(vectors) > 1:
            cos_x = index.vectors[ids] @ vectors[1]
            sent_x = index.sentences.cosines(vectors[1], ids).best()
    words = {t: w for t, w in q.weights.items() if "_" not in t}  # words, not pairs
    total = sum(words.values()) or 1.0
    asked, weight = frozenset(words), words.__getitem__
    coverage, covered, sent_share, answer, section, precise = (np.zeros(n, dtype=np.float32)
                                                               for _ in range(6))
    exact = exact_weights(q, index.bm25) if q.precise else {}
    exact_total, exact_words = sum(exact.values()) or 1.0, frozenset(exact)
    # What a passage holds or rewords: a word the plans hold only in other words weighs (see
    # Query.held_weights); with its idf of 0, a question of that word alone was covered by
    # no passage at all.
    cover = {t: w for t, w in q.held_weights.items() if "_" not in t}
    cover_total = sum(cover.values()) or 1.0
    # Set intersections in C, sums over the few words found: this loop runs for every
    # candidate of every search, and most candidates hold few of the question's words.
    for j, pid in enumerate(ids.tolist()):
        f = cache.facts(pid)
        heads = f.section & asked
        if heads:
            section[j] = sum(map(weight, heads)) / total
        held = f.terms & asked
        reworded = held_in(f.terms, asked, q.rewordings) if q.rewordings else held
        if reworded:
            covered[j] = sum(map(cover.__getitem__, reworded)) / cover_total
        if q.precise:
            precise[j] = max((sum(map(exact.get, held_in(x.terms, exact_words, q.rewordings)))
                              for x, kinds in zip(f.sentences, f.kinds) if q.precise in kinds),
                             default=0.0) / exact_total
        if not held:
            continue
        coverage[j] = sum(map(weight, held)) / total
        shares = [sum(map(weight, x.terms & held)) / total for x in f.sentences]
        sent_share[j] = max(shares)
        if q.wants:
            answer[j] = max((x for x, k in zip(shares, f.kinds) if q.wants in k), default=0.0)
    passages = index.passages
    defines = index.glossary.defines
    return Candidates(
        ids=ids,
        doc=cache.doc[ids],
        bm25=zeros if bm25 is None else bm25, bm25_syn=zeros if bm25_syn is None else bm25_syn,
        bm25_also=zeros if bm25_also is None else bm25_also,
        cos=cos, sent=sent, cos_x=cos_x, sent_x=sent_x, coverage=coverage, covered=covered,
        sent_share=sent_share, answer=answer, section=section, precise=precise,
        defining=(np.fromiter((defines(passages[i].text, q.acronym) for i in ids), np.float32, n)
                  if q.acronym else zeros),
        length=cache.length[ids],
        sims=sims)


def exact_weights(q: Query, bm25: SparseBM25) -> dict[str, float]:
    """The question's words (stems) and their idf, a word no passage holds weighing as the
    index's rarest: a sentence that lacks "hip" in "the wait for a hip replacement" lacks the
    question's most specific word, not one of no weight."""
    return {t: (w if t in bm25.vocab else bm25.rarest) for t, w in q.weights.items()
            if "_" not in t}


def held_in(terms: frozenset, asked: frozenset,
            rewordings: list[tuple[frozenset, list[frozenset]]]) -> frozenset:
    """The question's words (asked) a text of these terms holds, itself or in a wording the
    vocabulary gives (Query.rewordings). Both sets are frozensets: an intersection with a
    dict's keys would build a set of the passage's every term, once per candidate of every
    search."""
    held = terms & asked
    for source, wordings in rewordings:
        if any(w <= terms for w in wordings):
            held |= source & asked
    return held
