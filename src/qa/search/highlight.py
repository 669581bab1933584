"""The sentence of a passage that best answers the question, shown highlighted."""
from __future__ import annotations

import numpy as np

from ..sentences import Sentence
from .features import held_in


def best_sentence(sents: list[Sentence], q_weights: dict[str, float], sims: np.ndarray | None,
                  dense_weight: float, heading: int | None = None,
                  labels: frozenset = frozenset(), rewordings=()) -> list[list[int]]:
    """Offsets of the sentence that best answers the question: its cosine to the question
    (when the question's vector is known) blended with the share of the question's idf it
    holds (q_weights: each question term's idf), itself or in a wording the vocabulary gives
    (Query.rewordings: "within 4 hours" for "A&E waits"). Both lie on 0-1 as they are:
    rescaled per passage, a two-sentence passage would flip wholly to whichever signal ranks
    the other sentence last. `heading`, `labels`: the passage's sentences that are its
    heading or labels (features.PassageFacts)."""
    total = sum(q_weights.values()) or 1.0
    q_terms, weight = frozenset(q_weights), q_weights.__getitem__
    # A few sentences a passage: plain Python beats numpy's per-call cost here.
    share = [sum(map(weight, held_in(s.terms, q_terms, rewordings) if rewordings
                     else s.terms & q_terms)) / total for s in sents]
    # A heading, or a label of a word or two ("Stroke Care" heading a table's row), repeats
    # the question's words without answering: chosen only when nothing else is there.
    rows = ([i for i in range(len(sents)) if i != heading and i not in labels]
            or [i for i in range(len(sents)) if i != heading] or list(range(len(sents))))
    if sims is None:
        score = share
        if not rows or max(share[i] for i in rows) <= 0:
            return []  # only a heading or a label shares a word: nothing to point at
    else:
        score = [dense_weight * c + (1 - dense_weight) * w for c, w in zip(sims.tolist(), share)]
    best = sents[max(rows, key=score.__getitem__)]
    return [[best.start, best.end]]
