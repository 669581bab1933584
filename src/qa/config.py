"""The one place for configuration: defaults, overridden by QA_* environment variables."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("rrf", "score")
RANKERS = ("plain", "ltr")
EXPANSIONS = ("max", "blend", "off")
MAX_QUERY_CHARS = 1000
MAX_K = 50
# Files larger than this are skipped with a warning: read whole, a 50 MB text file makes
# 110,000 passages and 1.9 GB of memory. A 300-page plan with pictures is 5-30 MB as PDF.
MAX_FILE_MB = 40.0


def _project_root() -> Path:
    # An editable install runs from src/qa; a user may also run from any folder holding corpus/.
    here = Path(__file__).resolve().parents[2]
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into passages; stored in the manifest, part of what makes an index."""

    target_chars: int = 600
    max_chars: int = 1000
    overlap_sentences: int = 1

    def as_dict(self) -> dict:
        return {"target_chars": self.target_chars, "max_chars": self.max_chars,
                "overlap_sentences": self.overlap_sentences}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path
    index_dir: Path
    model: str = DEFAULT_MODEL
    # "onnx" runs the int8 export of the default model (fast start, fast queries); "torch" runs
    # sentence-transformers and is the only choice for a model named by QA_MODEL.
    encoder: str = "auto"
    encoder_threads: int = 0  # onnx threads per query; 0: onnxruntime's choice
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    fusion: str = "score"
    dense_weight: float = 0.4
    rrf_k: int = 60
    candidate_depth: int = 50  # passages each retriever puts forward for fusion
    # Share of a passage's dense score that comes from its best sentence's vector.
    sentence_weight: float = 0.5
    # Share of the highlight choice that comes from sentence vectors (the rest: shared words).
    highlight_dense_weight: float = 0.7
    # BM25 weight of the vocabulary's expansions, against 1 for the asker's own words: of
    # phrases the plans never use, and of phrases they use too.
    synonym_weight: float = 0.7
    also_weight: float = 0.2
    # How the dense side uses the question reworded in the plans' words: the better of the
    # two matches (max), their mean (blend), or not at all (off: each lost nDCG out of fold).
    expansion: str = "off"
    # Lift of a passage whose sentence holds what the question asks for, near its words.
    answer_weight: float = 0.15
    # Score taken off a passage for each passage of its document ranked above it (0: each
    # value tried lost nDCG out of fold).
    diversity: float = 0.0
    # "ltr": the learned ranker shipped in the package; "plain": the fixed blend.
    ranker: str = "ltr"
    host: str = "127.0.0.1"
    port: int = 8000
    # The address readers reach the page at ("https://plans.example.org"): citation links are
    # built from it, never from a request's Host header; empty gives relative links.
    public_url: str = ""
    synonyms: Path | None = None  # a user's synonyms file, read after the shipped vocabulary
    max_file_mb: float = MAX_FILE_MB

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        root = Path(env.get("QA_HOME") or _project_root())
        s = cls(
            corpus_dir=Path(env.get("QA_CORPUS") or root / "corpus"),
            index_dir=Path(env.get("QA_INDEX") or root / "index"),
            model=env.get("QA_MODEL") or DEFAULT_MODEL,
            encoder=env.get("QA_ENCODER") or "auto",
            encoder_threads=int(env.get("QA_ENCODER_THREADS") or 0),
            fusion=env.get("QA_FUSION") or "score",
            dense_weight=float(env.get("QA_DENSE_WEIGHT") or 0.4),
            sentence_weight=float(env.get("QA_SENTENCE_WEIGHT") or 0.5),
            ranker=env.get("QA_RANKER") or "ltr",
            host=env.get("QA_HOST") or "127.0.0.1",
            port=int(env.get("QA_PORT") or 8000),
            public_url=(env.get("QA_PUBLIC_URL") or "").rstrip("/"),
            synonyms=Path(env["QA_SYNONYMS"]) if env.get("QA_SYNONYMS") else None,
            max_file_mb=float(env.get("QA_MAX_FILE_MB") or MAX_FILE_MB),
        )
        return replace(s, **overrides) if overrides else s
