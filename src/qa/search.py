"""Answer a question with ranked, cited passages: BM25, dense, or the two fused."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .bm25 import content_words, query_terms, tokenize
from .config import FUSIONS, MAX_K, MAX_QUERY_CHARS, MODES, Settings
from .index import Index, SentenceCosines
from .sentences import Sentence, sentences


# Below this cosine the nearest passage is not about the question (the dev set's answerable
# questions all have a passage above 0.28; off-topic questions score about 0.1-0.2).
NO_ANSWER_COSINE = 0.3


class QueryError(ValueError):
    """The request cannot be answered as asked (empty query, bad k, unknown mode or filter)."""


@dataclass
class Hit:
    rank: int
    score: float
    passage_id: int
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

    def to_dict(self) -> dict:
        return asdict(self)


def validate(query, k, mode: str, fusion: str | None = None) -> tuple[str, int]:
    if isinstance(query, str):
        # Control characters carry no words: line breaks and tabs part words as spaces do,
        # the rest (NUL, ESC, DEL, C1) go; a question of nothing else is empty.
        query = "".join(" " if c.isspace() else c for c in query
                        if c.isspace() or not (ord(c) < 32 or 127 <= ord(c) < 160))
    if not isinstance(query, str) or not query.strip():
        raise QueryError("the query is empty: ask a question, e.g. \"what is the stroke model?\"")
    query = query.strip()
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


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


def best_sentence(sents: list[Sentence], q_weights: dict[str, float], sims: np.ndarray | None,
                  dense_weight: float) -> list[list[int]]:
    """Offsets of the sentence that best answers the question: its cosine to the question
    (when the question's vector is known) blended with the share of the question's idf it
    holds (q_weights: each question term's idf). Both lie on 0-1 as they are: rescaled per
    passage, a two-sentence passage would flip wholly to whichever signal ranks the other
    sentence last."""
    total = sum(q_weights.values()) or 1.0
    q_terms, weight = frozenset(q_weights), q_weights.__getitem__
    # A few sentences a passage: plain Python beats numpy's per-call cost here.
    share = [sum(map(weight, s.terms & q_terms)) / total for s in sents]
    if sims is None:
        score = share
        if not share or max(share) <= 0:
            return []
    else:
        score = [dense_weight * c + (1 - dense_weight) * w for c, w in zip(sims.tolist(), share)]
    best = sents[max(range(len(score)), key=score.__getitem__)]
    return [[best.start, best.end]]


def fuse(dense: np.ndarray, sparse: np.ndarray, fusion: str, settings: Settings) -> np.ndarray:
    """One score per candidate from its dense and BM25 scores."""
    if fusion == "rrf":
        c = settings.rrf_k
        rank_d = np.argsort(np.argsort(-dense, kind="stable"), kind="stable")
        rank_b = np.argsort(np.argsort(-sparse, kind="stable"), kind="stable")
        return 1.0 / (c + 1 + rank_d) + 1.0 / (c + 1 + rank_b)
    w = settings.dense_weight
    return w * _minmax(dense) + (1 - w) * _minmax(sparse)


class Searcher:
    """An open index and the encoder for its model: open once, search many times."""

    def __init__(self, index: Index, settings: Settings, encoder=None):
        index.check_model(settings.model)
        self.index = index
        self.settings = settings
        self._encoder = encoder
        self._areas = sorted({d.area for d in index.docs if d.area})
        # Sentences' terms of passages already shown: highlighting is per query, the terms not.
        self._sentences: dict[int, list[Sentence]] = {}

    @classmethod
    def open(cls, settings: Settings | None = None, encoder=None) -> "Searcher":
        settings = settings or Settings.from_env()
        return cls(Index.load(settings.index_dir), settings, encoder)

    @property
    def encoder(self):
        if self._encoder is None:
            from .embed import get_encoder

            self._encoder = get_encoder(self.settings.model, self.settings.encoder,
                                        self.settings.encoder_threads)
        return self._encoder

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
        keep = {d.doc_id for d in self.index.docs
                if (not doc or d.doc_id == doc) and (not area or d.area.lower() == area.lower())}
        return np.fromiter((p.doc_id in keep for p in self.index.passages), bool,
                           len(self.index.passages))

    def query_vector(self, query: str) -> np.ndarray:
        # The question as asked: appending acronym expansions helps BM25 match words but pulls
        # a short question's embedding off its meaning (measured: nDCG 0.81 plain, 0.80 expanded).
        return self.encoder.encode([query])[0]

    def dense_top(self, q: np.ndarray, depth: int, mask: np.ndarray | None) -> np.ndarray:
        """Passage ids of the `depth` nearest vectors, from FAISS, restricted to the mask."""
        import faiss

        params = None
        if mask is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(mask)))
        _, ids = self.index.faiss.search(q[None, :], depth, params=params)
        return ids[0][ids[0] >= 0]

    def bm25_scores(self, query: str, terms: list[str], mask: np.ndarray | None) -> np.ndarray:
        """BM25 over the question's terms and those of each acronym's other form. Each form is
        tokenised on its own: a pair of words spanning the question and a form appended to it
        ("STP plan" + "Sustainability ...": plan_sustain) is no phrase of either."""
        terms = terms + [t for form in self.index.glossary.other_forms(query)
                         for t in tokenize(form)]
        scores = self.index.bm25.scores(terms)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        return scores

    def search(self, query: str, k: int = 10, mode: str = "hybrid", doc: str | None = None,
               area: str | None = None, fusion: str | None = None) -> SearchResult:
        t0 = time.perf_counter()
        query, k = validate(query, k, mode, fusion)
        fusion = fusion or self.settings.fusion
        mask = self._mask(doc, area)
        glossary = self.index.glossary
        acronym = glossary.asked_about(content_words(query))
        terms = query_terms(query)
        n = len(self.index.passages)
        # Dense scores are re-scored below, so the dense retriever also puts forward a pool.
        depth = min(max(k, self.settings.candidate_depth if mode != "bm25" else k), n)
        cand = np.zeros(0, dtype=np.int64)
        q = dense = cosine = sparse = sent = None
        if mode != "bm25":
            q = self.query_vector(query)
            cand = self.dense_top(q, depth, mask)
        if mode != "dense":
            all_sparse = self.bm25_scores(query, terms, mask)
            top_b = np.argpartition(-all_sparse, depth - 1)[:depth] if depth < n else np.arange(n)
            top_b = top_b[np.isfinite(all_sparse[top_b])]
            cand = np.union1d(cand, top_b)
            sparse = all_sparse[cand]
        if mode != "bm25":
            cosine = self.index.vectors[cand] @ q
            sent = self.index.sentences.cosines(q, cand)
            dense = self.dense_scores(cosine, sent)
        if mode == "dense":
            final = dense
        elif mode == "bm25":
            final = sparse
        else:
            final = fuse(dense, sparse, fusion, self.settings) + self._defining(acronym, cand)
        order = np.argsort(-final, kind="stable")[:k]
        if mode == "bm25":  # passages sharing no word with the question are not results
            order = order[final[order] > 0]
        idf = self.index.bm25.idf
        q_weights = {t: idf(t) for t in set(terms)}
        no_answer = self._no_answer(q_weights, cand, cosine, sparse)
        hits = [self._hit(r + 1, int(cand[j]), float(final[j]), q_weights,
                          None if sent is None else sent.of(j))
                for r, j in enumerate(order)]
        took = (time.perf_counter() - t0) * 1000
        definition = Definition(acronym, glossary.entries[acronym]) if acronym else None
        return SearchResult(query, mode, k, round(took, 2), no_answer, hits, definition)

    def _defining(self, acronym: str | None, cand: np.ndarray) -> np.ndarray:
        """1 for a candidate that spells out the acronym the question asks about, else 0: fused
        scores lie in 0-1, so the definition comes first. Asked "what does LWAB stand for",
        the retrievers favour passages that use LWAB most; the reader wants the one defining it."""
        if acronym is None:
            return np.zeros(len(cand))
        defines = self.index.glossary.defines
        return np.fromiter((defines(self.index.passages[i].text, acronym) for i in cand),
                           float, len(cand))

    def dense_scores(self, cosine: np.ndarray, sent: SentenceCosines) -> np.ndarray:
        """A passage's cosine blended with its best sentence's: a passage that answers in one
        sentence and goes on about other things is not diluted by them."""
        w = self.settings.sentence_weight
        if not w:
            return cosine
        return (1 - w) * cosine + w * sent.best()

    def _no_answer(self, q_weights: dict[str, float], cand: np.ndarray, cosine, sparse) -> bool:
        """True when the retrievers found no real evidence: no passage near the question in
        meaning, and none holding most of its distinctive words. BM25 alone can only tell
        that none of the words occur at all."""
        if len(cand) == 0:
            return True
        if cosine is None:
            return float(sparse.max()) <= 0.0
        coverage = None if sparse is None else self._coverage(q_weights, int(cand[np.argmax(sparse)]))
        weak_dense = float(cosine.max()) < NO_ANSWER_COSINE
        return weak_dense and (coverage is None or coverage < 0.5)

    def sentences(self, pid: int) -> list[Sentence]:
        found = self._sentences.get(pid)
        if found is None:
            found = self._sentences[pid] = sentences(self.index.passages[pid].text,
                                                     self.index.sentences.of(pid).tolist())
        return found

    def _coverage(self, q_weights: dict[str, float], pid: int) -> float:
        """The idf-weighted share of the question's words that passage `pid` holds."""
        words = [t for t in q_weights if "_" not in t]  # words, not adjacent-word pairs
        total = sum(q_weights[t] for t in words)
        held = set().union(*(s.terms for s in self.sentences(pid)))
        return sum(q_weights[t] for t in words if t in held) / total if total > 0 else 0.0

    def _hit(self, rank: int, i: int, score: float, q_weights: dict[str, float],
             sims: np.ndarray | None) -> Hit:
        p = self.index.passages[i]
        d = self.index.doc_by_id[p.doc_id]
        return Hit(rank=rank, score=round(score, 4), passage_id=i, doc_id=p.doc_id,
                   title=d.title, body=d.body, date=d.date, area=d.area, paper=p.paper,
                   section=p.section, start=p.start, end=p.end, text=p.text,
                   page=p.page, page_end=p.page_end,
                   highlights=best_sentence(self.sentences(i), q_weights,
                                            sims, self.settings.highlight_dense_weight))
