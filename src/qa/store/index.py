"""The index search reads: every document's passages, vectors and BM25 weights, merged.

Row i of `passages`, `vectors`, the sentence vectors and the BM25 matrix's columns is one
passage: rows are what search uses internally and may differ from build to build;
`passage_ids[i]` ("<doc_id>#<n>", the n-th passage of its document) is the public id, stable
while the document is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bm25 import SparseBM25
from ..chunk import SECTION_SEP, Passage, section_path
from ..glossary import Glossary
from ..ingest import DocRecord, corpus_hashes
from .errors import ModelMismatch


def indexed_text(p: Passage, doc: DocRecord, title: bool = True) -> str:
    """What a retriever sees for a passage: its words, the context it needs, where it stands.

    BM25 gains from the document's title, area and body (their words single out the right
    plan: "... in Herefordshire and Worcestershire") and from the section's opening sentence;
    the embedder loses from them (one title on hundreds of passages pulls their vectors
    together; a letter's "Thank you for meeting us" blurs what a paragraph is about), so
    vectors are made without. Measured in eval/README.md. A function of the document alone:
    what other documents say (the glossary) is applied to the question, so a new paper never
    changes another's vectors or term counts.
    """
    return _lead(p, doc, title) + p.text


def _lead(p: Passage, doc: DocRecord, title: bool) -> str:
    """What goes before the passage's own words in its indexed text."""
    meta = (doc.title, doc.area, doc.body) if title else ()
    where = SECTION_SEP.join(x for x in (*meta, section_path(p)) if x)
    context = "\n".join(x for x in (p.opening if title else "", p.context) if x)
    return f"{where}\n{context}\n" if context else f"{where}\n"


def lead_chars(p: Passage, doc: DocRecord) -> int:
    """Where the passage's own words begin in its embedded text."""
    return len(_lead(p, doc, title=False))


@dataclass(eq=False)  # compared and hashed by identity: caches key views by the index served
class Index:
    manifest: dict
    docs: list[DocRecord]
    passages: list[Passage]
    vectors: np.ndarray  # passages x dim, normalised
    sentences: "SentenceVectors"
    bm25: SparseBM25
    glossary: Glossary
    passage_ids: list[str]
    path: Path | None = None

    def __post_init__(self):
        self.doc_by_id = {d.doc_id: d for d in self.docs}
        self._faiss = None

    @property
    def faiss(self):
        """The vectors in FAISS, for search. Half-precision scalar quantisation reads half the
        bytes of a flat index: a third of its time at 31,000 passages, cosines within about
        0.001. Only the candidates come from it: the exact vectors score them."""
        if self._faiss is None:
            import faiss

            idx = faiss.IndexScalarQuantizer(self.vectors.shape[1], faiss.ScalarQuantizer.QT_fp16,
                                             faiss.METRIC_INNER_PRODUCT)
            idx.train(self.vectors)
            idx.add(self.vectors)
            self._faiss = idx
        return self._faiss

    def nearest(self, vectors: np.ndarray, depth: int,
                mask: np.ndarray | None = None) -> np.ndarray:
        """The rows of the `depth` nearest passages to each vector (within the mask), once each."""
        import faiss

        # One query scans faster on one thread: FAISS's OpenMP workers and onnxruntime's spin
        # against each other on two cores (16 ms a hybrid query at 31,000 passages with two,
        # 7 ms with one); concurrency comes from requests. The count is a setting of the
        # calling thread, and a server's worker threads start with a worker a core (their
        # FAISS scans took 10 ms, not 0.5), so every call sets it.
        faiss.omp_set_num_threads(1)
        params = (None if mask is None else
                  faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(mask))))
        _, ids = self.faiss.search(vectors, depth, params=params)
        return np.unique(ids[ids >= 0])

    @classmethod
    def load(cls, index_dir: Path) -> "Index":
        from .disk import load

        return load(index_dir)

    def stale_files(self, corpus_dir: Path) -> list[str]:
        return stale_files(self.manifest, corpus_dir)

    def built_otherwise(self, settings) -> list[str]:
        """What its vectors and passages were made with (encoder, chunker) that these settings
        make otherwise: questions encoded by another encoder than the passages were (an
        upgrade from the float32 default to int8, a new onnxruntime) match them less well."""
        from .segment import fingerprint  # segment imports this module

        fp = fingerprint(settings)
        return [k for k in ("encoder", "chunker") if self.manifest.get(k) != fp[k]]

    def mismatch(self, settings) -> str:
        """built_otherwise in words, for a warning or an error; empty when there is none."""
        otherwise = self.built_otherwise(settings)
        return ("the index was built with another "
                f"{' and '.join(otherwise)} ({self.manifest.get(otherwise[0])}) than is set "
                "now" if otherwise else "")

    def check_model(self, model: str) -> None:
        if self.manifest.get("model") != model:
            raise ModelMismatch(
                f"the index was built with model {self.manifest.get('model')!r} but "
                f"{model!r} is configured; rebuild with 'qa build' or set "
                f"QA_MODEL={self.manifest.get('model')}")


def stale_files(manifest: dict, corpus_dir: Path) -> list[str]:
    """Corpus files added, removed or changed since the index of this manifest was built."""
    built = manifest.get("files", {})
    now = corpus_hashes(corpus_dir) if corpus_dir.is_dir() else {}
    return sorted(n for n in set(built) | set(now) if built.get(n) != now.get(n))


@dataclass
class SentenceVectors:
    """A vector for each sentence of each passage, pooled from the passage's own encoding.

    Passage i's sentences are rows ptr[i]:ptr[i + 1] of vectors and spans; spans are offsets
    within the passage text, so they are also the highlight units.
    """

    vectors: np.ndarray  # sentences x dim, normalised
    spans: np.ndarray  # sentences x 2
    ptr: np.ndarray  # passages + 1

    def consistent(self, n_passages: int) -> bool:
        return (len(self.ptr) == n_passages + 1 and int(self.ptr[-1]) == len(self.vectors)
                == len(self.spans) and bool(np.all(np.diff(self.ptr) > 0)))

    def of(self, pid: int) -> np.ndarray:
        return self.spans[self.ptr[pid]:self.ptr[pid + 1]]

    def cosines(self, q: np.ndarray, pids: np.ndarray) -> "SentenceCosines":
        """The cosine to the question vector q of every sentence of the given passages, in one
        product: ranking takes each passage's best, highlighting reads the same figures."""
        starts, counts = self.ptr[pids], self.ptr[pids + 1] - self.ptr[pids]
        firsts = np.cumsum(counts) - counts  # where each passage's run begins in `rows`
        rows = np.arange(int(counts.sum())) + np.repeat(starts - firsts, counts)
        return SentenceCosines(self.vectors[rows] @ q, firsts, counts)

    @classmethod
    def concat(cls, parts: list["SentenceVectors"], dim: int) -> "SentenceVectors":
        """One table of several, in order: each part's pointers shifted past the rows before it."""
        if not parts:
            return cls(np.zeros((0, dim), np.float32), np.zeros((0, 2), np.int32),
                       np.zeros(1, np.int64))
        sizes = np.cumsum([0] + [len(p.vectors) for p in parts[:-1]])
        ptr = np.concatenate([[0]] + [p.ptr[1:] + s for p, s in zip(parts, sizes)])
        return cls(np.vstack([p.vectors for p in parts]), np.vstack([p.spans for p in parts]),
                   ptr.astype(np.int64))


@dataclass
class SentenceCosines:
    """Sentence cosines of some passages, each passage's a run of `sims`."""

    sims: np.ndarray
    firsts: np.ndarray
    counts: np.ndarray

    def best(self) -> np.ndarray:
        """For each passage, the cosine of its sentence nearest to the question."""
        if not len(self.firsts):
            return self.sims
        return np.maximum.reduceat(self.sims, self.firsts)

    def of(self, j: int) -> np.ndarray:
        """The cosines of the j-th passage's sentences."""
        a = self.firsts[j]
        return self.sims[a:a + self.counts[j]]
