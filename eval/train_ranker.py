"""Train the learned ranker (QA_RANKER=ltr) over the fused candidates' features, and say by
5-fold cross-validation whether it beats the plain blend.

Each candidate is a row of qa.search.rank.matrix (the features the searcher already
computes); its label is whether it holds a gold needle (qa.evaluate's rule). Two learners are
tried: a logistic regression (what ships: a few numbers in src/qa/data/ranker.json, scored
with numpy) and LightGBM's LambdaRank, if installed, for comparison. Folds are eval/cv.py's,
and the plain ranker's levers are chosen within each fold's training questions first, as
there. The model shipped is then fitted on every question.

    PYTHONPATH=src python eval/train_ranker.py [eval/dev.jsonl] [--write]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluate import load_questions  # noqa: E402
from qa.search import Searcher, rank  # noqa: E402

OUT = cv.ROOT / "src" / "qa" / "data" / "ranker.json"
C = 1.0  # logistic regression's inverse regularisation: the one value tried


def rows(prep, s: Settings):
    """Feature rows, labels and question groups of the candidates each question pools."""
    xs, ys, groups = [], [], []
    for p in prep:
        if not p.needles:
            continue
        c = cv.pool(p, s)
        xs.append(rank.matrix(c, s.fusion, s))
        ys.append(np.fromiter((int(i) in p.found for i in c.ids), np.float32, len(c)))
        groups.append(len(c))
    return np.vstack(xs), np.concatenate(ys), groups


def fit_logistic(x, y) -> dict:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    m = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
    return {"features": list(rank.FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": m.coef_[0].tolist(), "intercept": float(m.intercept_[0])}


def fit_lambdarank(x, y, groups):
    import lightgbm as lgb

    m = lgb.LGBMRanker(objective="lambdarank", n_estimators=150, learning_rate=0.05,
                       num_leaves=7, min_child_samples=20, subsample=0.8, subsample_freq=1,
                       colsample_bytree=0.8, verbose=-1, random_state=0)
    m.fit(x, y, group=groups)
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", nargs="?", default=str(cv.ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--write", action="store_true", help=f"write the fitted model to {OUT}")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    shipped = Settings.from_env(ranker="plain")
    # The levers eval/cv.py kept (those whose shipped value is not the release's) are chosen
    # again within each fold's training questions, so the pools the learner is scored on are
    # set without the held-out questions too.
    kept = {k: v for k, v in cv.LEVERS.items() if getattr(shipped, k) != v[0]}
    release = Settings.from_env(ranker="plain", **{k: v[0] for k, v in cv.LEVERS.items()})
    prep = cv.prepare(Searcher.open(shipped), load_questions(Path(args.questions)))
    counter = [0]
    plain, chosen = cv.cross_validate(prep, release, kept, counter)

    def logistic_for(train, s):
        model = fit_logistic(*rows(train, s)[:2])
        return lambda c: rank.learned(c, s.fusion, s, model)

    def lambdarank_for(train, s):
        model = fit_lambdarank(*rows(train, s))
        return lambda c: model.predict(rank.matrix(c, s.fusion, s)) + 100.0 * c.defining

    results = {"plain": cv.report(plain, prep)}
    learners = {"logistic": logistic_for}
    try:
        import lightgbm  # noqa: F401
        learners["lambdarank"] = lambdarank_for
    except ImportError:
        print("lightgbm not installed: LambdaRank skipped")
    per_question = {}
    for name, make in learners.items():
        out = per_question[name] = {}
        for f in range(cv.FOLDS):
            train = [p for p in prep if p.fold != f]
            scorer = make(train, chosen[f])
            for p in prep:
                if p.fold == f and p.needles:
                    out[p.id] = cv.metrics(p, chosen[f], scorer)
        results[name] = cv.report(out, prep)
    for name, r in results.items():
        print(cv.fmt(f"{name} (out of fold)", r))
    for name in learners:
        results[name]["against_plain"] = cv.paired(plain, per_question[name])
        print(f"{name} against plain, question by question (nDCG@10): "
              f"{results[name]['against_plain']}")
    (cv.ROOT / "eval" / "results" / "train_ranker.json").write_text(json.dumps(results, indent=1))
    print(f"plain levers chosen per fold: {', '.join(kept)}; settings tried: {counter[0]}; "
          f"learners: {len(learners)} "
          f"(one setting each); {time.perf_counter() - t0:.0f} s")
    if args.write:
        model = fit_logistic(*rows(prep, shipped)[:2])
        model["trained_with"] = {k: getattr(shipped, k) for k in cv.LEVERS}
        OUT.write_text(json.dumps(model, indent=1) + "\n")
        print(f"wrote {OUT} (plain levers on all questions: {model['trained_with']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
