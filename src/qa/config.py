"""The one place for configuration: a table of settings, each with its default, environment
variable, help text and validation. A new setting is one `Option` in OPTIONS; `Settings`
gains the field from it."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path
from typing import Any, Callable

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("rrf", "score")
ENCODERS = ("auto", "int8", "onnx", "torch")
SHIPPED_ADAPTER, NO_ADAPTER = "shipped", "none"  # QA_ADAPTER's words; else an adapter's path
LOG_FORMATS = ("text", "json")
RANKERS = ("plain", "ltr")
MAX_QUERY_CHARS = 1000
MAX_K = 50
# More passages than this make a search heavy (qa.server's heavy lane); the page's "Show more
# passages" stops here.
HEAVY_K = 20
# Files larger than this are skipped with a warning: read whole, a 50 MB text file makes
# 110,000 passages and 1.9 GB of memory. A 300-page plan with pictures is 5-30 MB as PDF.
MAX_FILE_MB = 40.0


class SettingsError(ValueError):
    """A QA_* variable holds a value planqa cannot use; the message names the variable."""


def _project_root() -> Path:
    # An editable install runs from src/qa; a user may also run from any folder holding corpus/.
    here = Path(__file__).resolve().parents[2]
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def default_cache_dir(env=None) -> Path | None:
    """$XDG_CACHE_HOME/planqa (an absolute one only, as the XDG spec asks), else
    ~/.cache/planqa; None without a home folder, when a private temporary folder serves."""
    xdg = (os.environ if env is None else env).get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "planqa"
    try:
        return Path.home() / ".cache" / "planqa"
    except RuntimeError:  # no HOME and no entry in the password database
        return None


# --- parsers: text in, value out, ValueError with the reason -------------------------------

def text(value: str) -> str:
    return value


def path(value: str) -> Path:
    return Path(value).expanduser()


def choice(*values: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in values:
            raise ValueError(f"must be one of {', '.join(values)}")
        return value
    return parse


def whole(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        # ASCII digits only: int() would also take "1_0", " 5 " and other scripts' digits.
        if not (value.isascii() and value.isdigit()) or not lo <= int(value) <= hi:
            raise ValueError(f"must be a whole number from {lo} to {hi}")
        return int(value)
    return parse


def number(lo: float, hi: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            x = float("nan")
        if not lo <= x <= hi:  # also refuses nan
            raise ValueError(f"must be a number from {lo:g} to {hi:g}")
        return x
    return parse


def adapter(value: str) -> str:
    if value in (SHIPPED_ADAPTER, NO_ADAPTER):
        return value
    p = Path(value).expanduser()
    if not p.is_file():
        raise ValueError(f"must be shipped, none, or an adapter file ({p} is no file)")
    return str(p.resolve())


def public_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
        raise ValueError("must be an http or https address, e.g. https://plans.example.org")
    return value.rstrip("/")


def hosts(value: str) -> tuple[str, ...]:
    names = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    if not names:
        raise ValueError("must name at least one host, e.g. 127.0.0.1,localhost")
    return names


@dataclass(frozen=True)
class Option:
    name: str  # the Settings field
    env: str
    default: Any  # a value, or a function of the environment for a default built from another
    help: str
    parse: Callable[[str], Any] = text


def _root(env) -> Path:
    return Path(env.get("QA_HOME") or _project_root())


OPTIONS: tuple[Option, ...] = (
    Option("home", "QA_HOME", lambda env: _project_root(),
           "folder holding corpus/ and index/ (default: the project folder)", path),
    Option("corpus_dir", "QA_CORPUS", lambda env: _root(env) / "corpus",
           "folder of the documents to index", path),
    Option("index_dir", "QA_INDEX", lambda env: _root(env) / "index",
           "folder the index is written to and served from", path),
    Option("max_file_mb", "QA_MAX_FILE_MB", MAX_FILE_MB,
           "files in the corpus larger than this (MB) are skipped with a warning",
           number(0.001, 100_000)),
    Option("model", "QA_MODEL", DEFAULT_MODEL,
           "sentence-transformers model that embeds passages and questions"),
    # "int8" runs the default model adapted (qa.adapt) in onnxruntime (a fraction of a second
    # to load, once its model is made; fast questions); "torch" runs sentence-transformers,
    # the default model adapted too, and is the only choice for a model named by QA_MODEL.
    Option("encoder", "QA_ENCODER", "auto",
           "how the model runs: int8 (the packaged model with the shipped adapter, int8 "
           "arithmetic, derived once into QA_CACHE), torch (float32; for the default model "
           "adapted too), onnx (the packaged ONNX export as shipped, not adapted: float32 "
           "arithmetic, for comparison), or auto (int8 for the default model)",
           choice(*ENCODERS)),
    Option("adapter", "QA_ADAPTER", SHIPPED_ADAPTER,
           "the encoder's adapter (qa.adapt): shipped (trained on the plans in corpus/), none "
           "(the packaged model as it is), or a file made by eval/adapt_encoder.py on your "
           "own papers", adapter),
    Option("cache_dir", "QA_CACHE", default_cache_dir,
           "folder for what planqa makes once and keeps: the int8 model, 23 MB, the three "
           "used last (default: "
           "$XDG_CACHE_HOME/planqa or ~/.cache/planqa)", path),
    Option("encoder_threads", "QA_ENCODER_THREADS", 0,
           "onnx threads per query encode; 0: onnxruntime's choice (qa serve: two for a "
           "question served alone on an idle machine, one each side by side)",
           whole(0, 64)),
    Option("fusion", "QA_FUSION", "score",
           "how hybrid mode joins BM25 and dense rankings: score or rrf", choice(*FUSIONS)),
    Option("dense_weight", "QA_DENSE_WEIGHT", 0.4,
           "share of the fused score from the dense retriever (score fusion)", number(0, 1)),
    Option("sentence_weight", "QA_SENTENCE_WEIGHT", 0.5,
           "share of a passage's dense score from its best sentence", number(0, 1)),
    # "plain": the fixed blend, the default; "ltr": the learned ranker shipped in the package
    # (out of fold it matched the blend's nDCG on the final index, no clear gain: eval/README).
    Option("ranker", "QA_RANKER", "plain",
           "how passages are ranked: plain (the fixed blend) or ltr (the learned ranker)",
           choice(*RANKERS)),
    # Citation links are built from it, never from a request's Host header.
    Option("public_url", "QA_PUBLIC_URL", "",
           "the address readers reach the page at (https://plans.example.org): copied "
           "citations link there; empty gives relative links", public_url),
    Option("synonyms", "QA_SYNONYMS", None,
           "a synonyms file of your own, read after the shipped vocabulary", path),
    Option("host", "QA_HOST", "127.0.0.1", "address qa serve listens on"),
    Option("port", "QA_PORT", 8000, "port qa serve listens on", whole(1, 65535)),
    Option("reload_seconds", "QA_RELOAD_SECONDS", 1.0,
           "how often qa serve looks at the index's CURRENT pointer for a new build, which it "
           "then loads and switches to between requests", number(0.1, 3600)),
    Option("allowed_hosts", "QA_ALLOWED_HOSTS", ("127.0.0.1", "localhost"),
           "Host header names the server answers (comma-separated; the --host address is "
           "added); any other Host gets a 400", hosts),
    Option("threads", "QA_THREADS", 16,
           "worker threads: requests served (or, if heavy, waiting their turn) side by side",
           whole(5, 256)),
    Option("workers", "QA_WORKERS", 0,
           "processes serving, each with QA_THREADS threads; 0: one per core qa serve may "
           "use (its CPU set or CPU quota), at most 4. More than 1 forks after the index is "
           "loaded, so they share its memory until a new build is switched to, and each runs "
           "one short search at a time",
           whole(0, 16)),
    Option("read_timeout", "QA_READ_TIMEOUT", 5.0,
           "seconds a connection has to send a whole request (headers and body); an idle "
           "keep-alive connection is closed after as long", number(0.5, 300)),
    Option("max_connections", "QA_MAX_CONNECTIONS", 500,
           "open connections in all, in each server process; beyond it new ones wait in "
           "the listen queue",
           whole(10, 5000)),
    Option("max_per_client", "QA_MAX_PER_CLIENT", 32,
           "open connections from one client address, in each server process; more are "
           "answered 503 and closed",
           whole(1, 5000)),
    Option("heavy_slots", "QA_HEAVY_SLOTS", 1,
           "long questions or large k searched at once; the others wait their turn, so "
           "short questions keep a core", whole(1, 64)),
    Option("log_format", "QA_LOG_FORMAT", "text",
           "the server's log on stderr, a line a request and its other messages: text or "
           "json (one JSON object a line)",
           choice(*LOG_FORMATS)),
)


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into passages; stored in the manifest, part of what makes an index."""

    target_chars: int = 600
    max_chars: int = 1000
    overlap_sentences: int = 1

    def as_dict(self) -> dict:
        return {"target_chars": self.target_chars, "max_chars": self.max_chars,
                "overlap_sentences": self.overlap_sentences}


# Tuning constants that are part of the method rather than of a deployment: no variable.
_FIXED = [
    ("chunk", ChunkSettings, field(default_factory=ChunkSettings)),
    ("rrf_k", int, field(default=60)),
    # Passages each retriever puts forward. 25, not 50: the same out of fold (cv.py,
    # +0.003 nDCG, interval -0.004..+0.010; no-answer unchanged), and a served search's
    # features for 43 candidates rather than 84 cost 11% less CPU (eval/README.md, "Round 9").
    ("candidate_depth", int, field(default=25)),
    # Share of the highlight choice that comes from sentence vectors (the rest: shared words).
    ("highlight_dense_weight", float, field(default=0.7)),
    # BM25 weight of the vocabulary's expansions, against 1 for the asker's own words: of
    # phrases the plans never use, and of phrases they use too.
    # Chosen by eval/cv.py (5-fold CV on the dev set; 0.5 in three folds, 1.0 in two, with
    # 25 candidates a retriever).
    ("synonym_weight", float, field(default=0.5)),
    ("also_weight", float, field(default=0.2)),
    # How the dense side uses the question reworded in the plans' words: the better of the
    # two matches (max), their mean (blend), or not at all (off). With the adapter, blend
    # gained 0.001 nDCG out of fold for a second encode of two questions in three: off.
    ("expansion", str, field(default="off")),
    # Lift of a passage whose sentence holds what the question asks for, near its words
    # (chosen by eval/cv.py: 0.1-0.2 in every fold, +0.002 nDCG out of fold).
    ("answer_weight", float, field(default=0.2)),
    # Score taken off a passage for each passage of its document ranked above it (0: each
    # value tried lost nDCG out of fold).
    ("diversity", float, field(default=0.0)),
]


def _from_env(cls, env: dict | None = None, **overrides):
    """The settings from QA_* variables (an empty one counts as unset), each validated;
    SettingsError names the first variable that is wrong."""
    env = os.environ if env is None else env
    values = {}
    for opt in OPTIONS:
        raw = env.get(opt.env, "")
        if raw == "":
            values[opt.name] = opt.default(env) if callable(opt.default) else opt.default
            continue
        try:
            values[opt.name] = opt.parse(raw)
        except ValueError as e:
            raise SettingsError(f"{opt.env}={raw!r}: {e}") from None
    s = cls(**values)
    return replace(s, **overrides) if overrides else s


Settings = make_dataclass(
    "Settings",
    [(o.name, Any, field(default=None if callable(o.default) else o.default))
     for o in OPTIONS] + _FIXED,
    frozen=True,
    namespace={"from_env": classmethod(_from_env), "__module__": __name__,
               "max_file_bytes": property(lambda s: int(s.max_file_mb * 2**20)),
               "__doc__": "Every setting: the OPTIONS table's fields and the fixed tuning."},
)


def describe(settings) -> list[dict]:
    """Each setting's variable, value, default and help, for `qa settings`."""
    return [{"env": o.env, "value": getattr(settings, o.name),
             "default": None if callable(o.default) else o.default, "help": o.help}
            for o in OPTIONS]
