"""Build, save and load the passage index: documents, passages, dense vectors, BM25 weights.

Layout under the index folder (txtai-style: one folder per build, named by a pointer file):

    CURRENT               the name of the live build folder, replaced atomically
    build-<stamp>/        manifest.json, documents.json, passages.json, vectors.faiss,
                          sentences.npz, bm25.npz, vocab.json, glossary.json

A build writes a new folder and only then swaps CURRENT, so an interrupted or failed build
leaves the previous index in place and loadable.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .bm25 import SparseBM25, tokenize
from .chunk import SECTION_SEP, Passage, chunk, section_path
from .config import Settings
from .glossary import Glossary
from .ingest import DocRecord, corpus_hashes, read_corpus
from .sentences import sentence_spans

FORMAT = 5  # 2: sentence vectors; 3: sentences keep "£179.5m" whole; 4: dates, contacts no headings
# 5: pages, origins, doc ids with extension
POINTER = "CURRENT"


class IndexError_(Exception):
    """The index is missing, corrupt, stale or built for another model."""


class IndexMissing(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexOutdated(IndexMissing):
    """Written by an older planqa in a format this one does not read: rebuilt like a missing one."""


class ModelMismatch(IndexError_):
    pass


def indexed_text(p: Passage, doc: DocRecord, glossary: Glossary, title: bool = True) -> str:
    """What a retriever sees for a passage: its words, the context it needs, where it stands.

    BM25 gains from the document's title, area and body (their words single out the right
    plan: "... in Herefordshire and Worcestershire") and from the section's opening sentence;
    the embedder loses from them (one title on hundreds of passages pulls their vectors
    together; a letter's "Thank you for meeting us" blurs what a paragraph is about), so
    vectors are made without. Measured in eval/README.md.
    """
    return glossary.expand(_lead(p, doc, title) + p.text)


def _lead(p: Passage, doc: DocRecord, title: bool) -> str:
    """What goes before the passage's own words in its indexed text."""
    meta = (doc.title, doc.area, doc.body) if title else ()
    where = SECTION_SEP.join(x for x in (*meta, section_path(p)) if x)
    context = "\n".join(x for x in (p.opening if title else "", p.context) if x)
    return f"{where}\n{context}\n" if context else f"{where}\n"


@dataclass(eq=False)  # compared and hashed by identity: caches key views by the index served
class Index:
    manifest: dict
    docs: list[DocRecord]
    passages: list[Passage]
    vectors: np.ndarray  # passages x dim, normalised
    sentences: "SentenceVectors"
    bm25: SparseBM25
    glossary: Glossary
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

            _one_thread(faiss)
            idx = faiss.IndexScalarQuantizer(self.vectors.shape[1], faiss.ScalarQuantizer.QT_fp16,
                                             faiss.METRIC_INNER_PRODUCT)
            idx.train(self.vectors)
            idx.add(self.vectors)
            self._faiss = idx
        return self._faiss

    # --- persistence --------------------------------------------------------------------

    def save(self, index_dir: Path) -> Path:
        import faiss

        index_dir.mkdir(parents=True, exist_ok=True)
        # Nanoseconds too: one process may save twice within a second (serve rebuilding).
        name = f"build-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}"
        tmp = index_dir / f".tmp-{name}"
        tmp.mkdir()
        try:
            _write_json(tmp / "manifest.json", self.manifest)
            _write_json(tmp / "documents.json", [asdict(d) for d in self.docs])
            _write_json(tmp / "passages.json", [asdict(p) for p in self.passages])
            _write_json(tmp / "vocab.json", list(self.bm25.vocab))
            _write_json(tmp / "glossary.json", self.glossary.to_json())
            with open(tmp / "bm25.npz", "wb") as f:
                np.savez(f, **self.bm25.to_arrays())
            with open(tmp / "sentences.npz", "wb") as f:
                np.savez(f, **self.sentences.to_arrays())
            exact = faiss.IndexFlatIP(self.vectors.shape[1])
            exact.add(self.vectors)
            faiss.write_index(exact, str(tmp / "vectors.faiss"))
            for f in tmp.iterdir():
                _fsync(f)
            final = index_dir / name
            os.rename(tmp, final)
            pointer_tmp = index_dir / f".{POINTER}.{os.getpid()}"
            pointer_tmp.write_text(name + "\n")
            _fsync(pointer_tmp)
            os.replace(pointer_tmp, index_dir / POINTER)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in index_dir.iterdir():
            if old.is_dir() and old.name != name and (old.name.startswith("build-")
                                                      or old.name.startswith(".tmp-")):
                shutil.rmtree(old, ignore_errors=True)
        self.path = final
        return final

    @classmethod
    def load(cls, index_dir: Path) -> "Index":
        import faiss

        pointer = index_dir / POINTER
        if not pointer.exists():
            raise IndexMissing(f"no index at {index_dir}: run 'qa build' first")
        build = index_dir / pointer.read_text().strip()
        try:
            manifest = json.loads((build / "manifest.json").read_text())
            if manifest.get("format") != FORMAT:
                raise IndexOutdated(f"index at {build} has format {manifest.get('format')}, "
                                   f"this planqa reads format {FORMAT}: run 'qa build'")
            docs = [DocRecord(**d) for d in json.loads((build / "documents.json").read_text())]
            passages = [Passage(**p) for p in json.loads((build / "passages.json").read_text())]
            vocab = json.loads((build / "vocab.json").read_text())
            glossary = Glossary.from_json(json.loads((build / "glossary.json").read_text()))
            with np.load(build / "bm25.npz") as arrays:
                bm25 = SparseBM25.from_arrays({k: arrays[k] for k in arrays.files}, vocab)
            with np.load(build / "sentences.npz") as arrays:
                sentences = SentenceVectors(**{k: arrays[k] for k in arrays.files})
            fidx = faiss.read_index(str(build / "vectors.faiss"))
            vectors = fidx.reconstruct_n(0, fidx.ntotal)
        except IndexError_:
            raise
        except Exception as e:  # json, numpy, faiss and OS errors all mean one thing here
            raise IndexCorrupt(f"index at {build} is unreadable ({type(e).__name__}: {e}); "
                               "run 'qa build' to rebuild it") from e
        if (len(passages) != vectors.shape[0] or bm25.weights.shape[1] != len(passages)
                or not sentences.consistent(len(passages))):
            raise IndexCorrupt(f"index at {build} is inconsistent; run 'qa build' to rebuild it")
        index = cls(manifest, docs, passages, vectors, sentences, bm25, glossary, path=build)
        index.faiss  # built now, so that the first question does not wait for it
        return index

    # --- checks -------------------------------------------------------------------------

    def stale_files(self, corpus_dir: Path) -> list[str]:
        """Corpus files added, removed or changed since this index was built."""
        built = self.manifest.get("files", {})
        now = corpus_hashes(corpus_dir) if corpus_dir.is_dir() else {}
        return sorted(n for n in set(built) | set(now) if built.get(n) != now.get(n))

    def check_model(self, model: str) -> None:
        if self.manifest.get("model") != model:
            raise ModelMismatch(
                f"the index was built with model {self.manifest.get('model')!r} but "
                f"{model!r} is configured; rebuild with 'qa build' or set "
                f"QA_MODEL={self.manifest.get('model')}")


def _one_thread(faiss) -> None:
    # One query scans the vectors faster on one thread: FAISS's OpenMP workers and
    # onnxruntime's spin against each other on two cores (measured: 16 ms a hybrid query at
    # 31,000 passages with two threads, 7 ms with one). Concurrency comes from requests.
    faiss.omp_set_num_threads(1)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False))


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def build(settings: Settings, progress: Callable[[str], None] | None = None,
          encoder=None) -> tuple[Index, list[str]]:
    """Read the corpus, chunk, embed and index it; returns the index and the files skipped."""
    from .embed import get_encoder

    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    documents, skipped = read_corpus(settings.corpus_dir, settings.max_file_bytes)
    warnings = [f"skipped {name}: {reason}" for name, reason in skipped]
    for w in warnings:
        say(f"warning: {w}")
    say(f"read {len(documents)} documents")
    glossary = Glossary.mine(d.text for d in documents)
    records = [d.record() for d in documents]
    passages: list[Passage] = []
    for d in documents:
        passages.extend(chunk(d, settings.chunk))
    say(f"cut {len(passages)} passages; {len(glossary)} acronyms found")
    by_id = {r.doc_id: r for r in records}
    enc = encoder or get_encoder(settings.model, settings.encoder)
    vectors, sentences = _encode_with_progress(enc, passages, by_id, glossary, say)
    bm25 = SparseBM25.fit([tokenize(indexed_text(p, by_id[p.doc_id], glossary))
                           for p in passages])
    manifest = {
        "format": FORMAT,
        "package_version": __version__,
        "model": settings.model,
        "encoder": enc.backend,
        "dimensions": int(vectors.shape[1]),
        "chunker": settings.chunk.as_dict(),
        "files": corpus_hashes(settings.corpus_dir),
        "skipped": warnings,
        "documents": len(records),
        "passages": len(passages),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    return Index(manifest, records, passages, vectors, sentences, bm25, glossary), warnings


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

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"vectors": self.vectors, "spans": self.spans, "ptr": self.ptr}


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


def _encode_with_progress(enc, passages: list[Passage], by_id: dict, glossary: Glossary,
                          say: Callable[[str], None]) -> tuple[np.ndarray, SentenceVectors]:
    """Passage vectors (without the title: see indexed_text) and their sentences' vectors."""
    step = 256
    vecs, pooled, spans = [], [], []
    for a in range(0, len(passages), step):
        texts, batch_spans = [], []
        for p in passages[a:a + step]:
            at = len(_lead(p, by_id[p.doc_id], title=False))  # where p.text starts in its text
            own = sentence_spans(p.text)
            texts.append(indexed_text(p, by_id[p.doc_id], glossary, title=False))
            batch_spans.append([(at + s, at + e) for s, e in own])
            spans.extend(own)
        v, per_passage = enc.encode_spans(texts, batch_spans)
        vecs.append(v)
        pooled.extend(per_passage)
        say(f"embedded {min(a + step, len(passages))}/{len(passages)} passages")
    dim = vecs[0].shape[1] if vecs else 384
    counts = [len(x) for x in pooled]
    return (np.vstack(vecs).astype(np.float32) if vecs else np.zeros((0, dim), np.float32),
            SentenceVectors(
                vectors=(np.vstack(pooled).astype(np.float32) if pooled
                         else np.zeros((0, dim), np.float32)),
                spans=np.asarray(spans, dtype=np.int32).reshape(-1, 2),
                ptr=np.concatenate(([0], np.cumsum(counts))).astype(np.int64)))
