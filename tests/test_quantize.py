"""The int8 encoder (qa.quantize): derived from the packaged model, cached, the same file every
time, vectors close to the float32 model's and independent of what they are encoded beside."""
import hashlib
import os

import numpy as np

from qa import embed, quantize

QUESTIONS = ["how is the stroke service being reorganised", "sickness absence at the trust",
             "when will GP records be shared with hospitals", "what does QIPP stand for"]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_int8_model_is_derived_once_the_same_every_time(tmp_path, monkeypatch):
    shipped = embed.get_encoder(encoder="int8")  # the user's cache, as the suite runs
    cached = quantize.cache_dir() / quantize.model_name()
    assert cached.is_file()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = quantize.int8_model(embed._onnx_file())
    assert fresh == tmp_path / "planqa" / quantize.model_name()
    # The index's fingerprint names the file, not its bytes: they must not vary by run.
    assert _sha(fresh) == _sha(cached)
    mtime = fresh.stat().st_mtime_ns
    assert quantize.int8_model(embed._onnx_file()) == fresh
    assert fresh.stat().st_mtime_ns == mtime  # kept, not made again
    assert [p.name for p in fresh.parent.iterdir()] == [fresh.name]  # no leftovers
    assert shipped.backend == "int8"


def test_an_unwritable_cache_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    blocked = tmp_path / "a file"
    blocked.write_text("")  # a cache folder under a file cannot be made, even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    path = quantize.int8_model(embed._onnx_file())
    assert path == tmp_path / "tmp" / f"planqa-{os.getuid()}" / quantize.model_name()
    assert path.is_file()


def test_int8_vectors_stay_close_to_the_shipped_models():
    answers = ["Hyper-acute stroke services will be concentrated in fewer units.",
               "Staff sickness absence rates remain above the national average.",
               "Hospital clinicians will be able to view GP records from 2018.",
               "Quality, Innovation, Productivity and Prevention (QIPP) savings."]
    int8, full = embed.get_encoder(encoder="int8"), embed.get_encoder(encoder="onnx")
    for texts in (QUESTIONS, answers):
        cos = (int8.encode(texts) * full.encode(texts)).sum(1)
        assert cos.min() > 0.98, cos
    # and each question still meets its own answer first
    for enc in (int8, full):
        sims = enc.encode(QUESTIONS) @ enc.encode(answers).T
        assert list(sims.argmax(1)) == [0, 1, 2, 3]


def test_a_texts_int8_vector_does_not_depend_on_its_batch():
    # int8 scales a product by its whole input's range: batched with longer texts and their
    # padding, a question would get another vector than alone, and than the passages had.
    enc = embed.get_encoder(encoder="int8")
    together = enc.encode(QUESTIONS + ["a far longer passage " * 30])
    for q, v in zip(QUESTIONS, together):
        assert np.array_equal(enc.encode([q])[0], v)


def test_the_encoder_is_part_of_the_index_fingerprint():
    from qa.config import Settings
    from qa.store.segment import fingerprint

    int8 = fingerprint(Settings.from_env(env={"QA_ENCODER": "int8"}))
    assert int8 == fingerprint(Settings.from_env(env={"QA_ENCODER": "auto"}))
    assert int8["encoder"] == f"int8/{quantize.model_name()}"
    assert fingerprint(Settings.from_env(env={"QA_ENCODER": "onnx"}))["encoder"] == "onnx"
