"""Refit the no-answer thresholds alone (src/qa/data/no_answer.json), under the shipped
ranking settings: the out-of-fold figures, then the thresholds fitted on every question.

Quicker than eval/cv.py (which also re-chooses the ranking levers): run it after the index
or the vocabulary changes. Folds and the fit are cv.py's: 5 folds fixed by question id,
every combination of cv.SILENCE tried on the four training folds, the one flagging most of
their unanswerable questions while wrongly flagging at most MAX_FALSE of their answerable
ones kept. --write ships the thresholds fitted on every question. Run:

    PYTHONPATH=src python eval/silence.py [eval/dev.jsonl] [--max-false 0.02] [--write]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv
from qa.config import Settings
from qa.evaluate import load_questions
from qa.search import Searcher, no_answer

SHIPPED = cv.ROOT / "src" / "qa" / no_answer.MODEL


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", nargs="?", default=str(cv.ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--max-false", type=float, default=cv.MAX_FALSE,
                    help="answerable questions a fit may flag on its training folds")
    ap.add_argument("--write", action="store_true",
                    help=f"write the thresholds fitted on every question to {SHIPPED}")
    args = ap.parse_args(argv)
    cv.MAX_FALSE = args.max_false
    t0 = time.perf_counter()
    settings = Settings.from_env()
    prep = cv.prepare(Searcher.open(settings), load_questions(Path(args.questions)))
    counter = [0]
    oof = cv.cross_validate_silence(prep, [settings] * cv.FOLDS, counter)
    print(f"out of fold: {oof['flagged']} of {oof['n_unanswerable']} unanswerable flagged, "
          f"{oof['wrongly_flagged']} of {oof['n_answerable']} answerable wrongly")
    fitted = cv.fit_silence([(p, cv.silence_signals(p, settings)) for p in prep], counter)
    print("fitted on all questions:", fitted, "(as shipped)" if fitted == no_answer.fitted()
          else "(not what is shipped)")
    if args.write:
        no_answer.write(fitted, SHIPPED)
        print("written to", SHIPPED)
    print(f"flagged: {' '.join(oof['flagged_ids'])}; wrongly: {' '.join(oof['wrong_ids'])}")
    print(f"threshold combinations tried: {counter[0]} ({cv.FOLDS + 1} fits); "
          f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
