"""Order candidates: the plain blend of the retrievers' scores, or a learned ranker over all
the features; then keep one document's near-copies from filling the list."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from ..config import Settings
from .features import Candidates

MODEL = "data/ranker.json"


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


def sparse_scores(own: np.ndarray, syn: np.ndarray, also: np.ndarray,
                  settings: Settings) -> np.ndarray:
    """BM25 with the vocabulary's expansions counted below the asker's own words: those of
    phrases the plans never use at one weight, those of phrases they use too at another."""
    return own + settings.synonym_weight * syn + settings.also_weight * also


def sparse_of(c: Candidates, settings: Settings) -> np.ndarray:
    return sparse_scores(c.bm25, c.bm25_syn, c.bm25_also, settings)


def dense_scores(c: Candidates, settings: Settings) -> np.ndarray:
    """A passage's cosine blended with its best sentence's (a passage that answers in one
    sentence and goes on about other things is not diluted by them), to the question as asked
    and as the plans would put it: the better of the two, or their mean."""
    w = settings.sentence_weight
    asked = (1 - w) * c.cos + w * c.sent
    if settings.expansion == "off":
        return asked
    plans = (1 - w) * c.cos_x + w * c.sent_x
    if settings.expansion == "max":
        return np.maximum(asked, plans)
    return 0.5 * (asked + plans)


def fuse(dense: np.ndarray, sparse: np.ndarray, fusion: str, settings: Settings) -> np.ndarray:
    """One score per candidate from its dense and BM25 scores."""
    if fusion == "rrf":
        c = settings.rrf_k
        rank_d = np.argsort(np.argsort(-dense, kind="stable"), kind="stable")
        rank_b = np.argsort(np.argsort(-sparse, kind="stable"), kind="stable")
        return 1.0 / (c + 1 + rank_d) + 1.0 / (c + 1 + rank_b)
    w = settings.dense_weight
    return w * _minmax(dense) + (1 - w) * _minmax(sparse)


def plain(c: Candidates, mode: str, fusion: str, settings: Settings) -> np.ndarray:
    if mode == "dense":
        return dense_scores(c, settings)
    if mode == "bm25":
        return sparse_of(c, settings)
    # Fused scores lie in 0-1, so a definition asked for comes first; a sentence holding what
    # the question asks for (a figure, a date, a body) near its words lifts its passage.
    return (fuse(dense_scores(c, settings), sparse_of(c, settings), fusion, settings)
            + c.defining + settings.answer_weight * c.answer)


FEATURES = ("fused", "dense", "sparse", "cos", "sent", "cos_x", "sent_x", "bm25_syn",
            "bm25_also", "coverage", "sent_share", "answer", "section", "defining", "log_length",
            "dense_rank", "sparse_rank")


def matrix(c: Candidates, fusion: str, settings: Settings) -> np.ndarray:
    """The learned ranker's inputs, one row per candidate, columns as FEATURES. Scores that
    depend on the question's length are rescaled within the candidates."""
    dense, bm25 = dense_scores(c, settings), sparse_of(c, settings)
    fused = fuse(dense, bm25, fusion, settings)

    def recip_rank(x):
        return 1.0 / (1 + np.argsort(np.argsort(-x, kind="stable"), kind="stable"))

    top = max(float(c.bm25.max(initial=0.0)), 1e-6)
    return np.column_stack([
        fused, _minmax(dense), _minmax(bm25), c.cos, c.sent, c.cos_x, c.sent_x,
        c.bm25_syn / top, c.bm25_also / top,
        c.coverage, c.sent_share, c.answer, c.section, c.defining, np.log1p(c.length),
        recip_rank(dense), recip_rank(bm25)]).astype(np.float32)


@lru_cache(maxsize=1)
def shipped_model() -> dict:
    return json.loads(resources.files("qa").joinpath(MODEL).read_text("utf-8"))


def learned(c: Candidates, fusion: str, settings: Settings,
            model: dict | None = None) -> np.ndarray:
    """A logistic model's probability that each candidate holds the answer (eval/
    train_ranker.py fits it), plus 1 for the definition asked for, as in the plain blend."""
    model = model or shipped_model()
    x = matrix(c, fusion, settings)
    z = (x - np.asarray(model["mean"])) / np.asarray(model["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(model["coef"]) + model["intercept"]))) \
        + c.defining


def diversify(scores: np.ndarray, c: Candidates, penalty: float, k: int) -> np.ndarray:
    """The top k in order of score, each candidate's score lowered by `penalty` for every
    passage of its document already chosen, so that one plan's near-copies cannot push
    another plan's answer out of the list. penalty 0: plain score order."""
    order = np.argsort(-scores, kind="stable")
    if penalty <= 0 or len(order) <= 1:
        return order[:k]
    pool = order[:max(3 * k, k + 10)]
    left = scores[pool].astype(np.float64)
    docs = c.doc[pool]
    taken = np.zeros(len(pool), bool)
    out = []
    for _ in range(min(k, len(pool))):
        j = int(np.argmax(np.where(taken, -np.inf, left)))
        taken[j] = True
        out.append(pool[j])
        left = np.where(docs == docs[j], left - penalty, left)
    return np.asarray(out, dtype=np.int64)
