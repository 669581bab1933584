"""One document's share of the index: a segment, built from the file's bytes alone.

A segment holds what a document contributes to the index and nothing that depends on other
documents: its record, passages, passage vectors, sentence vectors, BM25 term counts (not
weights: IDF is the collection's) and the acronyms it spells out. `make_segment` is a pure
function of (file name, bytes, catalog entry, settings) and the encoder, with no shared state,
so any worker (a thread, a process, a cluster engine's task) can run it; its result is keyed
by `segment_key` of the same inputs, so an unchanged file is never parsed or embedded again.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse

from ..bm25 import tokenize
from ..chunk import Passage, chunk
from ..config import Settings
from ..embed import encoder_id
from ..glossary import candidates
from ..ingest import DocRecord, read_bytes
from ..sentences import sentence_spans
from .index import SentenceVectors, indexed_text, lead_chars

# 2: sentence vectors; 3: sentences keep "£179.5m" whole; 4: dates, contacts no headings;
# 5: pages, origins, doc ids with extension; 6: per-document segments, glossary query-side,
# IDF merged at load; 7: irregular plurals folded; 8: a report's memo fields ("From: ...")
# and requests ("The board is asked to note ...") no headings; "Phase 1" keeps its number;
# a PDF's running lines recur at the same edge.
FORMAT = 8


def fingerprint(settings: Settings) -> dict:
    """The settings a segment depends on: a change to any of them makes every segment anew."""
    return {"format": FORMAT, "model": settings.model,
            "encoder": encoder_id(settings.model, settings.encoder, settings.adapter),
            "chunker": settings.chunk.as_dict()}


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def segment_key(name: str, data_sha256: str, entry: dict | None, fp: dict) -> str:
    """The segment's name: a hash of everything `make_segment` reads."""
    blob = json.dumps([name, data_sha256, entry or {}, fp], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(eq=False)
class Segment:
    key: str
    doc: DocRecord
    passages: list[Passage]
    vectors: np.ndarray  # passages x dim, normalised
    sentences: SentenceVectors  # pointers local to this segment
    terms: list[str]  # the segment's own BM25 vocabulary, sorted
    counts: sparse.csr_matrix  # passages x terms: term frequencies
    acronyms: dict  # acronym -> {long form: times spelt out}, see glossary.candidates


def make_segment(name: str, data: bytes, entry: dict | None, settings: Settings,
                 encoder) -> Segment:
    """Parse, chunk, embed and count one file. Raises ingest.Skip for a file that cannot be
    indexed. Passages are embedded in one batch series of their own, so a document's vectors
    are the same whatever else is built with it (incremental equals full)."""
    doc = read_bytes(name, data, entry)
    record = doc.record()
    passages = chunk(doc, settings.chunk)
    vectors, sents = _embed(encoder, passages, record)
    terms, counts = _term_counts([tokenize(indexed_text(p, record)) for p in passages])
    return Segment(segment_key(name, file_hash(data), entry, fingerprint(settings)), record,
                   passages, vectors, sents, terms, counts, candidates(doc.text))


def _embed(enc, passages: list[Passage], doc: DocRecord) -> tuple[np.ndarray, SentenceVectors]:
    """Passage vectors (without the title: see indexed_text) and their sentences' vectors."""
    texts, spans, local = [], [], []
    for p in passages:
        at = lead_chars(p, doc)  # where p.text starts in its embedded text
        own = sentence_spans(p.text)
        texts.append(indexed_text(p, doc, title=False))
        spans.append([(at + s, at + e) for s, e in own])
        local.extend(own)
    if not texts:
        z = np.zeros((0, enc.dim), np.float32)
        return z, SentenceVectors(z, np.zeros((0, 2), np.int32), np.zeros(1, np.int64))
    vecs, pooled = enc.encode_spans(texts, spans)
    return (np.asarray(vecs, np.float32),
            SentenceVectors(np.vstack(pooled).astype(np.float32),
                            np.asarray(local, dtype=np.int32).reshape(-1, 2),
                            np.concatenate(([0], np.cumsum([len(x) for x in pooled])))
                            .astype(np.int64)))


def _term_counts(tokens: list[list[str]]) -> tuple[list[str], sparse.csr_matrix]:
    terms = sorted({t for ts in tokens for t in ts})
    ids = {t: i for i, t in enumerate(terms)}
    rows = np.repeat(np.arange(len(tokens)), [len(ts) for ts in tokens])
    cols = np.fromiter((ids[t] for ts in tokens for t in ts), np.int64, int(len(rows)))
    counts = sparse.csr_matrix((np.ones(len(rows), np.int32), (rows, cols)),
                               shape=(len(tokens), len(terms)))
    counts.sum_duplicates()
    return terms, counts


# --- bytes ------------------------------------------------------------------------------------

def to_bytes(seg: Segment) -> bytes:
    """The segment as one .npz file: its arrays, plus its records and vocabulary as JSON."""
    meta = {"key": seg.key, "doc": asdict(seg.doc), "passages": [asdict(p) for p in seg.passages],
            "terms": seg.terms, "acronyms": seg.acronyms}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8),
             vectors=seg.vectors, sent_vectors=seg.sentences.vectors,
             sent_spans=seg.sentences.spans, sent_ptr=seg.sentences.ptr,
             tf_data=seg.counts.data, tf_indices=seg.counts.indices, tf_indptr=seg.counts.indptr)
    return buf.getvalue()


def from_bytes(data: bytes) -> Segment:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    meta = json.loads(a["meta"].tobytes().decode())
    passages = [Passage(**p) for p in meta["passages"]]
    counts = sparse.csr_matrix((a["tf_data"], a["tf_indices"], a["tf_indptr"]),
                               shape=(len(passages), len(meta["terms"])))
    return Segment(meta["key"], DocRecord(**meta["doc"]), passages, a["vectors"],
                   SentenceVectors(a["sent_vectors"], a["sent_spans"], a["sent_ptr"]),
                   meta["terms"], counts, meta["acronyms"])
