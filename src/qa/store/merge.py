"""The collection from its segments: what no single document can know, computed at load.

Collection-wide are: BM25's document frequencies, IDF and length normalisation (a passage's
weight for a term depends on how many passages hold it and on the average passage length),
the glossary (a paper may use an acronym another defines), FAISS (one structure to search)
and the row order. All are cheap sums and concatenations of the segments' parts: no text is
parsed and nothing is embedded here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import sparse

from ..bm25 import SparseBM25, tokenize
from ..glossary import Glossary
from .index import Index, SentenceVectors
from .segment import Segment


def merge(segments: list[Segment], manifest: dict, path: Path | None = None) -> Index:
    """The index of these segments, in their order (the manifest's: by file name)."""
    dim = int(manifest["dimensions"])
    passages = [p for s in segments for p in s.passages]
    ids = [f"{s.doc.doc_id}#{n}" for s in segments for n in range(len(s.passages))]
    vectors = (np.vstack([s.vectors for s in segments]).astype(np.float32, copy=False)
               if passages else np.zeros((0, dim), np.float32))
    glossary = Glossary.from_candidates(s.acronyms for s in segments)
    return Index(manifest, [s.doc for s in segments], passages, vectors,
                 SentenceVectors.concat([s.sentences for s in segments], dim),
                 bm25_from_counts([(s.terms, s.counts) for s in segments], glossary),
                 glossary, ids, path)


def bm25_from_counts(parts: list[tuple[list[str], sparse.csr_matrix]],
                     glossary: Glossary | None = None, k1: float = 1.2,
                     b: float = 0.75) -> SparseBM25:
    """Okapi BM25 weights (as rank-bm25's BM25Okapi computes them: a negative IDF floored at a
    quarter of the average) from each segment's vocabulary and passage x term counts, with
    each passage also counted as holding the other form of each acronym or long form it holds
    (see `glossary_counts`)."""
    forms = [(tokenize(a), tokenize(lf)) for a, lf in (glossary.entries.items() if glossary
                                                        else ())]
    # One sort of every segment's terms gives the vocabulary and each term's place in it
    # (numpy's string order is Python's: by code point).
    every = [t for terms, _ in parts for t in terms] + [t for a, lf in forms for t in a + lf]
    vocab_arr, places = np.unique(np.array(every, dtype=str), return_inverse=True)
    vocab_list = vocab_arr.tolist()
    vocab = dict(zip(vocab_list, range(len(vocab_list))))
    rows, cols, tfs, offset, at = [], [], [], 0, 0
    for terms, counts in parts:
        glob = places[at:at + len(terms)].astype(np.int64)
        at += len(terms)
        coo = counts.tocoo()
        rows.append(glob[coo.col])
        cols.append(coo.row.astype(np.int64) + offset)
        tfs.append(coo.data.astype(np.float64))
        offset += counts.shape[0]
    n = offset
    if not n or not vocab_list:
        return SparseBM25(vocab, np.zeros(len(vocab), np.float32),
                          sparse.csr_matrix((len(vocab), n), dtype=np.float32))
    counts = sparse.csr_matrix((np.concatenate(tfs), (np.concatenate(rows),
                                                     np.concatenate(cols))), shape=(len(vocab), n))
    if forms:
        counts = (counts + glossary_counts(counts, forms, vocab)).tocsr()
    counts = counts.tocoo()
    rows, cols, tf = counts.row.astype(np.int64), counts.col.astype(np.int64), counts.data
    doc_len = np.bincount(cols, weights=tf, minlength=n)
    df = np.bincount(rows, minlength=len(vocab_list))
    idf = np.log(n - df + 0.5) - np.log(df + 0.5)
    idf[idf < 0] = 0.25 * idf.mean()
    norm = k1 * (1 - b + b * doc_len / doc_len.mean())
    vals = idf[rows] * tf * (k1 + 1) / (tf + norm[cols])
    weights = sparse.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=(len(vocab), n))
    return SparseBM25(vocab, idf.astype(np.float32), weights)


def glossary_counts(counts: sparse.csr_matrix, forms: list[tuple[list[str], list[str]]],
                    vocab: dict[str, int]) -> sparse.csr_matrix:
    """The terms each passage gains from the glossary: a passage holding an acronym's terms
    but not its long form's counts the long form's once, and the other way round. Done on the
    term counts at merge, so a newly defined acronym changes BM25 without re-reading or
    re-embedding any passage (vectors never see the glossary: the question is expanded)."""
    n = counts.shape[1]

    def holding(term_ids: list[int]) -> np.ndarray:
        mask = np.ones(n, bool)
        for t in term_ids:
            row = np.zeros(n, bool)
            row[counts.indices[counts.indptr[t]:counts.indptr[t + 1]]] = True
            mask &= row
        return mask

    rows, cols = [], []
    for a, lf in forms:
        if not a or not lf:
            continue
        ids_a, ids_lf = [vocab[t] for t in a], [vocab[t] for t in lf]
        has_a, has_lf = holding(ids_a), holding(ids_lf)
        for gain, ids in ((has_a & ~has_lf, ids_lf), (has_lf & ~has_a, ids_a)):
            where = np.flatnonzero(gain)
            rows.append(np.repeat(ids, len(where)))
            cols.append(np.tile(where, len(ids)))
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=counts.shape)
