"""Build, save and load the passage index: documents, passages, dense vectors, BM25 weights.

Layout under the index folder (txtai-style: one folder per build, named by a pointer file):

    CURRENT               the name of the live build folder, replaced atomically
    build-<stamp>/        manifest.json, documents.json, passages.json, vectors.faiss,
                          bm25.npz, vocab.json

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
from .chunk import Passage, chunk
from .config import Settings
from .glossary import Glossary
from .ingest import DocRecord, corpus_hashes, read_corpus

FORMAT = 1
POINTER = "CURRENT"


class IndexError_(Exception):
    """The index is missing, corrupt, stale or built for another model."""


class IndexMissing(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


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
    meta = (doc.title, doc.area, doc.body) if title else ()
    where = " › ".join(x for x in (*meta, p.paper, p.section) if x)
    context = "\n".join(x for x in (p.opening if title else "", p.context) if x)
    body = f"{context}\n{p.text}" if context else p.text
    return glossary.expand(f"{where}\n{body}")


@dataclass
class Index:
    manifest: dict
    docs: list[DocRecord]
    passages: list[Passage]
    vectors: np.ndarray  # passages x dim, normalised
    bm25: SparseBM25
    glossary: Glossary
    path: Path | None = None

    def __post_init__(self):
        self.doc_by_id = {d.doc_id: d for d in self.docs}
        self._faiss = None

    @property
    def faiss(self):
        if self._faiss is None:
            import faiss

            _one_thread(faiss)
            idx = faiss.IndexFlatIP(self.vectors.shape[1])
            idx.add(self.vectors)
            self._faiss = idx
        return self._faiss

    # --- persistence --------------------------------------------------------------------

    def save(self, index_dir: Path) -> Path:
        import faiss

        index_dir.mkdir(parents=True, exist_ok=True)
        name = f"build-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
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
            faiss.write_index(self.faiss, str(tmp / "vectors.faiss"))
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
                raise IndexCorrupt(f"index at {build} has format {manifest.get('format')}, "
                                   f"this planqa reads format {FORMAT}: run 'qa build'")
            docs = [DocRecord(**d) for d in json.loads((build / "documents.json").read_text())]
            passages = [Passage(**p) for p in json.loads((build / "passages.json").read_text())]
            vocab = json.loads((build / "vocab.json").read_text())
            glossary = Glossary.from_json(json.loads((build / "glossary.json").read_text()))
            with np.load(build / "bm25.npz") as arrays:
                bm25 = SparseBM25.from_arrays({k: arrays[k] for k in arrays.files}, vocab)
            fidx = faiss.read_index(str(build / "vectors.faiss"))
            vectors = fidx.reconstruct_n(0, fidx.ntotal)
        except IndexError_:
            raise
        except Exception as e:  # json, numpy, faiss and OS errors all mean one thing here
            raise IndexCorrupt(f"index at {build} is unreadable ({type(e).__name__}: {e}); "
                               "run 'qa build' to rebuild it") from e
        if len(passages) != vectors.shape[0] or bm25.weights.shape[1] != len(passages):
            raise IndexCorrupt(f"index at {build} is inconsistent; run 'qa build' to rebuild it")
        index = cls(manifest, docs, passages, vectors, bm25, glossary, path=build)
        _one_thread(faiss)
        index._faiss = fidx
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
    documents, warnings = read_corpus(settings.corpus_dir)
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
    vectors = _encode_with_progress(
        enc, [indexed_text(p, by_id[p.doc_id], glossary, title=False) for p in passages], say)
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
    return Index(manifest, records, passages, vectors, bm25, glossary), warnings


def _encode_with_progress(enc, texts: list[str], say: Callable[[str], None]) -> np.ndarray:
    step = 256
    parts = []
    for a in range(0, len(texts), step):
        parts.append(enc.encode(texts[a:a + step]))
        say(f"embedded {min(a + step, len(texts))}/{len(texts)} passages")
    return np.vstack(parts).astype(np.float32) if parts else np.zeros((0, 384), np.float32)
