"""Which of several runs to ship (adapters trained by other recipes, say), chosen out of fold.

Picking the best of N runs by their cross-validated nDCG is itself a fit on the dev set, and
the winner's figure flatters it. Here each fold's choice is made on the other four folds'
questions (mean out-of-fold nDCG@10 of `cv.py --per-question` files), and the figure reported
is the chosen run's on the held-out fold: what choosing among these runs is worth on
questions the choice never saw.

    python eval/choose.py eval/results/cv_per_question.json other.json [...]

With `--folds`, the runs after the first are one a fold, each fitted without that fold's
questions (eval/tune_on_questions.py --fold F): the figure is fold F's rows from run F.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "eval"))

from cv import FOLDS, fold_of, fmt, mean, paired, report  # noqa: E402
from qa.evaluate import load_questions  # noqa: E402


def choose_out_of_fold(runs: dict[str, dict]) -> tuple[dict, list[str]]:
    """Per-question rows of the run each fold chose without its own questions."""
    ids = sorted(next(iter(runs.values())))
    rows, picks = {}, []
    for f in range(FOLDS):
        train = [i for i in ids if fold_of(i) != f]
        pick = max(runs, key=lambda r: mean([runs[r][i] for i in train]))
        picks.append(pick)
        rows.update({i: runs[pick][i] for i in ids if fold_of(i) == f})
    return rows, picks


def by_fold(runs: list[dict]) -> dict:
    """Fold f's rows from the f-th run: one out-of-fold run from five fitted apart."""
    return {i: r for f, run in enumerate(runs) for i, r in run.items() if fold_of(i) == f}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="cv.py --per-question files; the first is the "
                    "baseline the choice is compared with")
    ap.add_argument("--folds", action="store_true", help="the runs after the first are "
                    f"one a fold, in fold order (0 to {FOLDS - 1}: the F-th fitted without "
                    "fold F's questions; out of order, the figure would be in sample)")
    ap.add_argument("--questions", default=str(ROOT / "eval" / "dev.jsonl"))
    args = ap.parse_args(argv)
    runs = {r: json.loads(Path(r).read_text()) for r in args.runs}
    if args.folds:
        if len(args.runs) != FOLDS + 1:
            ap.error(f"--folds takes the baseline and {FOLDS} runs, one a fold")
        runs = {args.runs[0]: runs[args.runs[0]],
                "fitted fold by fold": by_fold([runs[r] for r in args.runs[1:]])}
    if len({frozenset(v) for v in runs.values()}) != 1:
        ap.error("the runs hold different questions")
    questions = [SimpleNamespace(id=q.id, kind=q.kind, needles=len(q.needles))
                 for q in load_questions(Path(args.questions))]
    for name, rows in runs.items():
        print(fmt(Path(name).stem, report(rows, questions)))
    if args.folds:
        print("against", Path(args.runs[0]).stem, "question by question (nDCG@10):",
              paired(*runs.values()))
        return 0
    rows, picks = choose_out_of_fold(runs)
    print(fmt("chosen out of fold", report(rows, questions)))
    print("chosen per fold:", [Path(p).stem for p in picks])
    print("against", Path(args.runs[0]).stem, "question by question (nDCG@10):",
          paired(runs[args.runs[0]], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
