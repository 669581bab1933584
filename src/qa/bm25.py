"""BM25 over passages: rank-bm25 computes the statistics, a sparse matrix does the scoring.

rank-bm25 scores a query by looping over every document in Python, which grows linearly with
the corpus. The same Okapi weights, precomputed once per (term, passage) into a CSR matrix,
score a query as the sum of a few matrix rows.
"""
from __future__ import annotations

import re
import threading
from functools import cached_property

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[a-z0-9£%]+(?:\.[0-9]+)?")
STOPWORDS = frozenset("""a about above after again all also am an and any are as at be been before
being below between both but by can could did do does doing down during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more most my
no nor not of off on once only or other our ours out over own same she should so some such than that
the their theirs them then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours""".split())


_local = threading.local()


def _stemmer():
    # PyStemmer's stemmers must not be called from two threads at once; the server answers
    # requests on several, so each thread gets its own.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


# Words that frame a question rather than say what it is about ("what does the plan *say*
# about", "how *many*", "what does LWAB *stand* for"); they match noise in passages.
QUESTION_WORDS = frozenset("""say says said saying tell many much mean means meaning stand
stands happen happens kind sort""".split())


# Words that only ask for a definition ("what is the full form of ...").
DEFINITION_WORDS = frozenset("acronym abbreviation full form definition define defined".split())


def content_words(text: str) -> list[str]:
    """The question's words as written, less stop words and the words that frame it."""
    return [w for w in _TOKEN.findall(text.lower())
            if w not in STOPWORDS and w not in QUESTION_WORDS and w not in DEFINITION_WORDS]


# English plurals a stemmer leaves apart from their singulars ("children" and "child",
# "women" and "woman"), and Greek nouns whose singular stems apart from both its plural and
# its verb ("diagnosis"; "diagnoses", "diagnosed"): each folded to one form before stemming.
# Not "lives": it is a verb too ("who lives alone"), which would then stop matching "live".
FOLD = {**dict(pair.split(":") for pair in """children:child women:woman men:man
wives:wife knives:knife teeth:tooth feet:foot halves:half selves:self criteria:criterion
phenomena:phenomenon mice:mouse geese:goose""".split()),
        **{f"{stem}sis": f"{stem}ses" for stem in """diagno progno analy cri hypothe synthe
        paraly dialy""".split()}}


def fold(word: str) -> str:
    return FOLD.get(word, word)


def words(text: str) -> list[str]:
    """Lower-cased, stop words out, irregular forms folded (FOLD), Snowball-stemmed."""
    return _stemmer().stemWords([fold(w) for w in _TOKEN.findall(text.lower())
                                 if w not in STOPWORDS])


def _terms(ws: list[str]) -> list[str]:
    # Adjacent-word pairs reward passages that hold the question's phrases ("stroke model",
    # "wider determinants"), not just its words scattered.
    return ws + [f"{a}_{b}" for a, b in zip(ws, ws[1:])]


def tokenize(text: str) -> list[str]:
    """The BM25 terms of a passage: stemmed words and adjacent-word pairs."""
    return _terms(words(text))


def query_terms(text: str) -> list[str]:
    """The BM25 terms of a question: as for passages, less the words that only frame it."""
    question = {w for w in _TOKEN.findall(text.lower()) if w in QUESTION_WORDS}
    return _terms(words(" ".join(w for w in _TOKEN.findall(text.lower()) if w not in question)))


class SparseBM25:
    def __init__(self, vocab: dict[str, int], idf: np.ndarray, weights: sparse.csr_matrix):
        self.vocab = vocab
        self.idf_values = idf
        self.weights = weights  # terms x passages

    @classmethod
    def fit(cls, corpus_tokens: list[list[str]], k1: float = 1.2, b: float = 0.75) -> "SparseBM25":
        from rank_bm25 import BM25Okapi

        stats = BM25Okapi(corpus_tokens, k1=k1, b=b)
        vocab = {t: i for i, t in enumerate(sorted(stats.idf))}
        rows, cols, vals = [], [], []
        for d, freqs in enumerate(stats.doc_freqs):
            norm = k1 * (1 - b + b * stats.doc_len[d] / stats.avgdl)
            for term, tf in freqs.items():
                rows.append(vocab[term])
                cols.append(d)
                vals.append(stats.idf[term] * tf * (k1 + 1) / (tf + norm))
        w = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                              shape=(len(vocab), len(corpus_tokens)))
        idf = np.asarray([stats.idf[t] for t in vocab], dtype=np.float32)
        return cls(vocab, idf, w)

    def term_ids(self, tokens: list[str]) -> list[int]:
        return [self.vocab[t] for t in tokens if t in self.vocab]

    def scores(self, tokens: list[str]) -> np.ndarray:
        ids = self.term_ids(tokens)
        n = self.weights.shape[1]
        if not ids:
            return np.zeros(n, dtype=np.float32)
        # Repeated query terms count once per repeat, as in rank-bm25's get_scores. The rows
        # are read straight from the CSR arrays: scipy's row indexing costs more than the sum.
        w = self.weights
        cols, vals = [], []
        for t in ids:
            a, b = w.indptr[t], w.indptr[t + 1]
            cols.append(w.indices[a:b])
            vals.append(w.data[a:b])
        return np.bincount(np.concatenate(cols), weights=np.concatenate(vals),
                           minlength=n).astype(np.float32)

    def idf(self, token: str) -> float:
        i = self.vocab.get(token)
        return 0.0 if i is None else float(self.idf_values[i])

    @cached_property
    def rarest(self) -> float:
        """The idf of the index's rarest term: what a word no passage holds weighs where its
        absence (or its presence in other words) must count, since it has no idf of its own."""
        return float(self.idf_values.max()) if len(self.idf_values) else 1.0
