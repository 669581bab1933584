"""The evaluation tools that decide what ships: choosing among runs out of fold
(eval/choose.py) and averaging adapters (eval/adapt_encoder.py --average), on the recorded
runs and the shipped adapter."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from qa import adapt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "eval" / "results"
sys.path.insert(0, str(ROOT / "eval"))

from adapt_encoder import average  # noqa: E402
from choose import by_fold, choose_out_of_fold  # noqa: E402
from cv import FOLDS, fold_of, mean  # noqa: E402


def _runs() -> dict[str, dict]:
    names = ["cv_per_question.json", "round7/cv_per_question_hn.json",
             "round7/cv_per_question_lay3.json", "round7/cv_per_question_soup.json"]
    return {n: json.loads((RESULTS / n).read_text()) for n in names}


def test_each_fold_is_scored_by_the_run_chosen_without_it():
    runs = _runs()
    rows, picks = choose_out_of_fold(runs)
    assert len(picks) == FOLDS and set(rows) == set(runs["cv_per_question.json"])
    for f, pick in enumerate(picks):
        train = [i for i in rows if fold_of(i) != f]
        assert all(mean([runs[pick][i] for i in train]) >= mean([r[i] for i in train])
                   for r in runs.values())
        assert all(rows[i] == runs[pick][i] for i in rows if fold_of(i) == f)


def test_runs_fitted_fold_by_fold_give_each_fold_its_own():
    runs = [json.loads((RESULTS / f"round7/cv_per_question_q{f}.json").read_text())
            for f in range(FOLDS)]
    rows = by_fold(runs)
    assert set(rows) == set(runs[0])
    assert all(rows[i] == runs[fold_of(i)][i] for i in rows)


def test_choose_prints_the_out_of_fold_choice():
    out = subprocess.run([sys.executable, str(ROOT / "eval" / "choose.py"),
                          *[str(RESULTS / n) for n in _runs()]],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "chosen out of fold" in out.stdout and "chosen per fold:" in out.stdout
    bad = subprocess.run([sys.executable, str(ROOT / "eval" / "choose.py"), "--folds",
                          str(RESULTS / "cv_per_question.json")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "one a fold" in bad.stderr


def test_adapters_averaged_add_up_to_the_mean_update(tmp_path):
    shipped = str(ROOT / "src" / "qa" / "data" / "adapter.npz")
    with np.load(shipped) as z:
        tripled = {k: z[k] * 3 if k.endswith(".B") else z[k] for k in z.files}
    np.savez(tmp_path / "tripled.npz", **tripled)
    np.savez(tmp_path / "mean.npz", **average([shipped, str(tmp_path / "tripled.npz")]))
    one, mean_ = adapt.deltas(shipped), adapt.deltas(str(tmp_path / "mean.npz"))
    assert one.keys() == mean_.keys()
    for name in one:  # (1 + 3) / 2: each A with its own B, at twice the rank
        np.testing.assert_allclose(mean_[name], 2 * one[name], rtol=1e-2, atol=1e-5)
