"""The searcher: an open index, its encoder, and one search run through the steps."""
from __future__ import annotations

import time
import unicodedata
import warnings
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..config import FUSIONS, MAX_K, MAX_QUERY_CHARS, MODES, RANKERS, Settings
from ..memo import per_object
from ..store import Index
from . import features, no_answer
from . import rank as ranking
from .highlight import best_sentence
from .query import Query, analyse


class QueryError(ValueError):
    """The request cannot be answered as asked (empty query, bad k, unknown mode or filter)."""


@dataclass
class Hit:
    rank: int
    score: float
    passage_id: str  # "<doc_id>#<n>": stable while the document is unchanged
    doc_id: str
    title: str
    body: str
    date: str
    area: str
    paper: str
    section: str
    start: int
    end: int
    text: str
    highlights: list = field(default_factory=list)
    page: int | None = None  # 1-based page where the passage begins; None without pages
    page_end: int | None = None  # the page it ends on, when later


@dataclass
class Definition:
    acronym: str
    expansion: str


@dataclass
class SearchResult:
    query: str
    mode: str
    k: int
    took_ms: float
    no_answer: bool
    results: list[Hit]
    # What the acronym the question asks about stands for, as the plans spell it out.
    definition: Definition | None = None
    # What the vocabulary added to the question: [{"from": "bed blocking", "to": [...]}].
    expansions: list = field(default_factory=list)
    # The question's words that no document holds in any form.
    missing_terms: list = field(default_factory=list)

    def to_dict(self) -> dict:
        # By hand: asdict deep-copies every field of every hit, which cost a served search
        # more than its JSON encoding. Hits and Definition hold only plain values and lists.
        out = {name: getattr(self, name) for name in _RESULT_FIELDS}
        out["results"] = [{name: getattr(h, name) for name in _HIT_FIELDS} for h in self.results]
        out["definition"] = self.definition and asdict(self.definition)
        return out


_HIT_FIELDS = tuple(f.name for f in fields(Hit))
_RESULT_FIELDS = tuple(f.name for f in fields(SearchResult))


def clean_query(text: str) -> str:
    """A question as it is searched. Control characters (a NUL, an escape) carry no words but
    may stand between two ("stroke%00care"), as a zero-width space does: each parts words as
    a space does. Other format characters (a soft hyphen or zero-width joiner pasted inside a
    word, a byte-order mark) are invisible: dropped. A question of nothing else is empty.
    Compatibility forms are read as their letters: the "ﬁ" ligature a PDF pastes is "fi"."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():  # the rare question holding any (a tab, a NUL, ...)
        text = "".join(" " if c == "\u200b" or unicodedata.category(c) == "Cc" else c
                       for c in text if c == "\u200b" or unicodedata.category(c) != "Cf")
    return " ".join(text.split())


def has_words(query: str) -> bool:
    """Whether a question holds anything to search for: a letter or a digit ("???" does not;
    the OpenAPI's pattern for q says the same)."""
    return any(c.isalnum() for c in query)


def validate(query, k, mode: str, fusion: str | None = None) -> tuple[str, int]:
    if isinstance(query, str):
        query = clean_query(query)
    if not isinstance(query, str) or not query:
        raise QueryError("the query is empty: ask a question, e.g. \"what is the stroke model?\"")
    if not has_words(query):
        raise QueryError("the query has no words: ask a question, e.g. "
                         "\"what is the stroke model?\"")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query):,} characters long; the limit is "
                         f"{MAX_QUERY_CHARS:,}")
    if isinstance(k, str) and k.isascii() and k.isdigit():
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        # Only ASCII digits: int() would also read "1_0", " 5 " and other scripts' digits.
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if fusion is not None and fusion not in FUSIONS:
        raise QueryError(f"unknown fusion {fusion!r}: use one of {', '.join(FUSIONS)}")
    return query, k


class Searcher:
    """An open index and the encoder for its model: open once, search many times."""

    def __init__(self, index: Index, settings: Settings, encoder=None, synonyms=None):
        index.check_model(settings.model)
        if settings.ranker not in RANKERS:
            raise QueryError(f"unknown ranker {settings.ranker!r}: use one of {', '.join(RANKERS)}")
        self.index = index
        self.settings = settings
        self._encoder = encoder
        self._synonyms = synonyms
        self._areas = sorted({d.area for d in index.docs if d.area})
        # Sentences' terms of passages already shown: highlighting is per query, the terms not.
        self.passages = features.PassageCache(index)

    @classmethod
    def open(cls, settings: Settings | None = None, encoder=None) -> "Searcher":
        settings = settings or Settings.from_env()
        index = Index.load(settings.index_dir)
        mismatch = index.mismatch(settings)
        if mismatch:  # its passages' vectors would not be the questions' (the CLI rebuilds)
            warnings.warn(f"{mismatch}: rebuild it with 'qa build'", stacklevel=2)
        return cls(index, settings, encoder)

    def warm(self) -> None:
        """Ready for a first visitor: the model loaded (one search) and every passage's facts
        worked out. On first use a search may meet dozens of new candidates (0.3 ms each),
        and a server's forked processes would each work them out again: four clients' p95 on
        a fresh 2-process server was 36 ms cold, 17-22 ms warm (eval/README.md, "Round 8").
        About 14 KB of memory a passage."""
        self.search("warm up", k=1)
        self.passages.warm()

    @property
    def encoder(self):
        if self._encoder is None:
            from ..embed import encoder_for

            self._encoder = encoder_for(self.settings, self.settings.encoder_threads)
        return self._encoder

    @property
    def synonyms(self):
        if self._synonyms is None:
            from ..synonyms import Synonyms

            self._synonyms = Synonyms.load(self.settings.synonyms)
        return self._synonyms

    @property
    def areas(self) -> list[str]:
        return self._areas

    def _mask(self, doc: str | None, area: str | None) -> np.ndarray | None:
        if not doc and not area:
            return None
        if doc and doc not in self.index.doc_by_id:
            raise QueryError(f"unknown document {doc!r}")
        if area and area.lower() not in {a.lower() for a in self._areas}:
            raise QueryError(f"unknown area {area!r}: known areas are {', '.join(self._areas)}")
        keep = [i for i, d in enumerate(self.index.docs)
                if (not doc or d.doc_id == doc) and (not area or d.area.lower() == area.lower())]
        return np.isin(_doc_rows(self.index), keep)

    def analyse(self, query: str) -> Query:
        return analyse(query, self.index.bm25, self.index.glossary, self.synonyms)

    def query_vectors(self, q: Query) -> np.ndarray:
        """The question's vector and, when the vocabulary rewords it, the rewording's, in one
        encoder call. The question itself is encoded as asked: appending acronym expansions
        pulls a short question's embedding off its meaning (nDCG 0.81 plain, 0.80 expanded)."""
        texts = [q.text] if q.rephrased is None or self.settings.expansion == "off" \
            else [q.text, q.rephrased]
        return self.encoder.encode(texts)

    def dense_top(self, vectors: np.ndarray, depth: int, mask: np.ndarray | None) -> np.ndarray:
        """Passage ids of the `depth` nearest of each vector, from FAISS, within the mask."""
        return self.index.nearest(vectors, depth, mask)

    def bm25_scores(self, q: Query, mask: np.ndarray | None):
        """BM25 of every passage for the question's own terms (with its acronyms' other forms)
        and, apart, for the vocabulary's expansions of phrases the plans never use and of
        phrases they use too."""
        bm25 = self.index.bm25
        own = bm25.scores(q.bm25_terms)
        if mask is not None:
            own = np.where(mask, own, -np.inf)
        return own, self._expansion_scores(q.synonym_terms), self._expansion_scores(q.also_terms)

    def _expansion_scores(self, expansions: list[list[list[str]]]) -> np.ndarray:
        # An expansion's wordings are alternatives: a passage scores by the one it matches
        # best, so an expansion with many wordings does not outweigh one with a single one.
        out = np.zeros(len(self.index.passages), dtype=np.float32)
        for wordings in expansions:
            out += np.max([self.index.bm25.scores(w) for w in wordings], axis=0)
        return out

    def candidates(self, q: Query, mode: str, depth: int,
                   mask: np.ndarray | None) -> features.Candidates:
        """Each retriever's `depth` best passages, pooled, with their features."""
        n = len(self.index.passages)
        depth = min(depth, n)
        ids = np.zeros(0, dtype=np.int64)
        vectors = own = syn = also = None
        if mode != "bm25":
            vectors = self.query_vectors(q)
            ids = self.dense_top(vectors, depth, mask)
        if mode != "dense":
            own, syn, also = self.bm25_scores(q, mask)
            sparse = ranking.sparse_scores(own, syn, also, self.settings)
            top = np.argpartition(-sparse, depth - 1)[:depth] if depth < n else np.arange(n)
            ids = np.union1d(ids, top[np.isfinite(sparse[top])])
            own, syn, also = own[ids], syn[ids], also[ids]
        return features.compute(self.passages, q, ids, own, syn, also, vectors)

    def search(self, query: str, k: int = 10, mode: str = "hybrid", doc: str | None = None,
               area: str | None = None, fusion: str | None = None) -> SearchResult:
        t0 = time.perf_counter()
        query, k = validate(query, k, mode, fusion)
        fusion = fusion or self.settings.fusion
        mask = self._mask(doc, area)
        q = self.analyse(query)
        # Dense scores are re-scored below, so the dense retriever also puts forward a pool.
        depth = max(k, self.settings.candidate_depth if mode != "bm25" else k)
        c = self.candidates(q, mode, depth, mask)
        final = self.scores(c, mode, fusion)
        order = ranking.diversify(final, c, self.settings.diversity if mode == "hybrid" else 0.0, k)
        if mode == "bm25":  # passages sharing no word with the question are not results
            order = order[final[order] > 0]
        absent = no_answer.absence(q, self.index.bm25)
        silent = self._silent(q, c, absent, mode)
        hits = [self._hit(r + 1, int(c.ids[j]), float(final[j]), q,
                          None if c.sims is None else c.sims.of(j))
                for r, j in enumerate(order)]
        took = (time.perf_counter() - t0) * 1000
        definition = (Definition(q.acronym, self.index.glossary.entries[q.acronym])
                      if q.acronym else None)
        return SearchResult(query, mode, k, round(took, 2), silent, hits, definition,
                            [e.to_dict() for e in q.expansions], absent.terms)

    def scores(self, c: features.Candidates, mode: str, fusion: str) -> np.ndarray:
        if mode == "hybrid" and self.settings.ranker == "ltr":
            return ranking.learned(c, fusion, self.settings)
        return ranking.plain(c, mode, fusion, self.settings)

    def _silent(self, q: Query, c: features.Candidates, absent: no_answer.Absence,
                mode: str) -> bool:
        """True when the plans do not answer: see no_answer. BM25 alone tells only that none
        of the question's words occur, or what of them no document holds."""
        if len(c) == 0:
            return True
        if mode == "bm25":  # a passage holding the question's words, or their rewording
            return (float(np.maximum(c.bm25, c.bm25_syn).max()) <= 0.0
                    or no_answer.unheard_of(absent.share, absent.name, no_answer.fitted()))
        return no_answer.silent(no_answer.signals(q, c, absent), no_answer.fitted())

    def _hit(self, rank: int, i: int, score: float, q: Query, sims: np.ndarray | None) -> Hit:
        p = self.index.passages[i]
        d = self.index.doc_by_id[p.doc_id]
        facts = self.passages.facts(i)
        # Asked what an acronym stands for, a heading that spells it out is the answer.
        heading = None if q.acronym else facts.heading
        return Hit(rank=rank, score=round(score, 4), passage_id=self.index.passage_ids[i],
                   doc_id=p.doc_id, title=d.title, body=d.body, date=d.date, area=d.area,
                   paper=p.paper, section=p.section, start=p.start, end=p.end, text=p.text,
                   page=p.page, page_end=p.page_end,
                   highlights=best_sentence(facts.sentences, q.held_weights, sims,
                                            self.settings.highlight_dense_weight, heading,
                                            facts.labels, q.rewordings))


@per_object
def _doc_rows(index) -> np.ndarray:
    """Each passage's document, as its position in index.docs: a filter is one vector test."""
    at = {d.doc_id: i for i, d in enumerate(index.docs)}
    return np.fromiter((at[p.doc_id] for p in index.passages), np.int32, len(index.passages))
