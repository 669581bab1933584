"""The packaged model adapted to the plans' language and to the vocabulary's rewordings.

all-MiniLM-L6-v2 learnt its sense of "similar" from general web text: it puts "bed blocking"
no nearer "delayed transfers of care" than words they share would. eval/adapt_encoder.py
trains a low-rank update (LoRA) of its attention and feed-forward layers on pairs made from
the corpus and the vocabulary alone, never from questions: a plan's sentence and the rest of
its passage, a section heading and its passage, a plan's sentence with its professional term
put in the vocabulary's lay words and that passage, and each vocabulary line's two wordings.
The update ships in data/adapter.npz (two small matrices a layer, 1.3 MB) and is added to the
packaged weights here (qa.quantize exports the result for the int8 encoder; the torch encoder
adds it on loading); what it gained, out of fold, is in eval/README.md ("Round 6").
"""
from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from importlib import resources

import numpy as np

from .config import NO_ADAPTER as NONE
from .config import SHIPPED_ADAPTER as SHIPPED

ADAPTER = "data/adapter.npz"


def _adapter_bytes(adapter: str) -> bytes:
    if adapter == SHIPPED:
        return resources.files("qa").joinpath(ADAPTER).read_bytes()
    with open(adapter, "rb") as f:
        return f.read()


@lru_cache(maxsize=4)
def tag(adapter: str = SHIPPED) -> str:
    """Names the adapter in the derived model's file name and the index's fingerprint, so a
    new adapter makes a new file and a rebuilt index rather than passages and questions
    encoded apart."""
    if adapter == NONE:
        return "packaged"
    return "adapted-" + hashlib.sha256(_adapter_bytes(adapter)).hexdigest()[:12]


def deltas(adapter: str = SHIPPED) -> dict[str, np.ndarray]:
    """Each adapted layer's change of weights (out x in), by its name in the BERT model."""
    if adapter == NONE:
        return {}
    try:
        with np.load(io.BytesIO(_adapter_bytes(adapter))) as z:
            scale = float(z["scale"])
            names = sorted(k[:-2] for k in z.files if k.endswith(".A"))
            return {n: (z[n + ".B"].astype(np.float32) @ z[n + ".A"].astype(np.float32)) * scale
                    for n in names}
    except (OSError, ValueError, KeyError) as e:  # not an .npz, or not one of adapt_encoder's
        raise ValueError(f"{adapter} is not an adapter made by eval/adapt_encoder.py "
                         f"(QA_ADAPTER): {e}") from None


def apply(bert, adapter: str = SHIPPED) -> None:
    """Adds the adapter to a transformers BERT model's weights, in place."""
    import torch

    with torch.no_grad():
        for name, delta in deltas(adapter).items():
            weight = bert.get_submodule(name).weight
            if weight.shape != delta.shape:
                raise ValueError(f"{adapter}: layer {name} is {tuple(delta.shape)}, the model's "
                                 f"{tuple(weight.shape)} (QA_ADAPTER)")
            weight += torch.from_numpy(delta).to(weight.dtype)
