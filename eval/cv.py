"""Cross-validated tuning of the hybrid ranker's levers, and the no-answer thresholds.

Everything a setting can change is worked out once per question: the question read by
qa.search.query, its vectors, and the features (qa.search.features) of every passage; which
needles each passage holds (qa.evaluate's rule). A setting then only re-pools, re-scores and
re-orders, with the package's own functions (qa.search.rank), so hundreds of settings take
seconds.

Folds: 5, fixed by question id (crc32 of the id mod 5). For each fold the levers are chosen
one after another on the other four folds (mean nDCG@10 of their answerable questions), and
the figures reported are those of the held-out fold's questions under the settings chosen
without them. A lever is kept only if it raises the out-of-fold nDCG; the kept levers, and
the no-answer thresholds, are then chosen the same way on every question: those are the
shipped defaults (config.py, qa/search/no_answer.py); eval/silence.py refits the no-answer
thresholds alone. Run:

    PYTHONPATH=src python eval/cv.py [eval/dev.jsonl] [--json eval/results/cv.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qa.config import Settings  # noqa: E402
from qa.evaluate import METRICS, load_questions, needles_in, score_found  # noqa: E402
from qa.search import Searcher  # noqa: E402
from qa.search import features, no_answer, rank  # noqa: E402

FOLDS = 5

# The levers, in the order they are chosen; the first value of each is the setting of the
# release before them.
LEVERS = {
    "synonym_weight": [0.0, 0.2, 0.35, 0.5, 0.7, 1.0],
    "also_weight": [0.0, 0.1, 0.2, 0.35, 0.5],
    "expansion": ["off", "max", "blend"],
    "answer_weight": [0.0, 0.05, 0.1, 0.15, 0.2, 0.3],
    "diversity": [0.0, 0.02, 0.05, 0.1, 0.2],
}
# No-answer thresholds tried (every combination). Coarse: 15 unanswerable questions cannot
# choose among finer steps without fitting the few of them near each step.
SILENCE = {
    "missing": [0.3, 0.5, 0.75, 0.9, 1.0],
    "cosine": [0.0, 0.4, 0.45],
    "coverage": [0.5, 0.7],
    "answer": [0.0, 0.2],
    "precise": [0.0, 0.2, 0.25, 0.3, 0.35],
    "names": [True, False],
}
MAX_FALSE = 0.02  # wrongly flagged answerable questions allowed on the training folds


def fold_of(qid: str) -> int:
    return zlib.crc32(qid.encode()) % FOLDS


@dataclass
class Prepared:
    id: str
    kind: str
    fold: int
    needles: int                      # 0: unanswerable
    query: object                     # qa.search.query.Query
    every: features.Candidates        # every passage of the index
    found: dict                       # passage id -> set of needles it holds
    absent: no_answer.Absence         # what of the question no document holds


def prepare(searcher: Searcher, questions) -> list[Prepared]:
    """Per question: its features over every passage, and the needles each passage holds."""
    index = searcher.index
    mismatch = index.mismatch(searcher.settings)
    if mismatch:  # figures of passages and questions encoded apart would mean nothing
        sys.exit(f"{mismatch}: run 'qa build' first")
    n = len(index.passages)
    ids = np.arange(n)
    out = []
    for qu in questions:
        q = searcher.analyse(qu.question)
        texts = [q.text] + ([q.rephrased] if q.rephrased else [])
        vectors = searcher.encoder.encode(texts)
        own, syn, also = searcher.bm25_scores(q, None)
        every = features.compute(searcher.passages, q, ids, own, syn, also, vectors)
        found = {}
        if qu.needles:
            for pid in range(n):
                f = needles_in(index.passages[pid].text, qu.needles)
                if f:
                    found[pid] = f
        out.append(Prepared(qu.id, qu.kind, fold_of(qu.id), len(qu.needles), q, every, found,
                            no_answer.absence(q, index.bm25)))
    return out


def pool(p: Prepared, s: Settings) -> features.Candidates:
    """The candidates the searcher would pool under settings s (exact cosines for FAISS)."""
    e, depth = p.every, s.candidate_depth
    tops = [np.argsort(-e.cos, kind="stable")[:depth],
            np.argsort(-rank.sparse_of(e, s), kind="stable")[:depth]]
    if s.expansion != "off" and p.query.rephrased:
        tops.append(np.argsort(-e.cos_x, kind="stable")[:depth])
    return e.take(np.unique(np.concatenate(tops)))


def ranked(p: Prepared, s: Settings, scorer=None, k: int = 10):
    """The candidates, their final scores, and the order of the top k."""
    c = pool(p, s)
    final = scorer(c) if scorer else rank.plain(c, "hybrid", s.fusion, s)
    return c, final, rank.diversify(final, c, s.diversity, k)


def metrics(p: Prepared, s: Settings, scorer=None) -> dict:
    c, _, order = ranked(p, s, scorer)
    return score_found([p.found.get(int(i), set()) for i in c.ids[order]], p.needles)


def mean(rows: list[dict], metric: str = "ndcg@10") -> float:
    return statistics.fmean(r[metric] for r in rows) if rows else 0.0


def choose(prep: list[Prepared], base: Settings, levers: dict, counter: list) -> Settings:
    """Each lever in turn set to its best value on these questions, the others held."""
    s = base
    answerable = [p for p in prep if p.needles]
    for name, values in levers.items():
        best = None
        for v in values:
            counter[0] += 1
            t = replace(s, **{name: v})
            score = mean([metrics(p, t) for p in answerable])
            if best is None or score > best[0] + 1e-9:
                best = (score, t)
        s = best[1]
    return s


def report(rows: dict[str, dict], prep: list[Prepared]) -> dict:
    """Overall, old-37 and per-kind means of per-question metrics (answerable only)."""
    ans = [p for p in prep if p.needles]
    by_kind = defaultdict(list)
    for p in ans:
        by_kind[p.kind].append(rows[p.id])

    def avg(rs):
        return {m: round(statistics.fmean(r[m] for r in rs), 4) for m in METRICS} if rs else {}

    return {"overall": avg([rows[p.id] for p in ans]),
            "old37": avg([rows[p.id] for p in ans if p.id.startswith("d")]),
            "by_kind": {k: {"n": len(v), **avg(v)} for k, v in sorted(by_kind.items())}}


def cross_validate(prep: list[Prepared], base: Settings, levers: dict, counter: list,
                   scorer_for=None) -> tuple[dict, list[Settings]]:
    """Out-of-fold per-question metrics, and the settings chosen for each fold.
    scorer_for(train questions, settings) -> a scorer of candidates, for learned rankers."""
    rows, chosen = {}, []
    for f in range(FOLDS):
        train = [p for p in prep if p.fold != f]
        s = choose(train, base, levers, counter)
        scorer = scorer_for(train, s) if scorer_for else None
        chosen.append(s)
        for p in prep:
            if p.fold == f and p.needles:
                rows[p.id] = metrics(p, s, scorer)
    return rows, chosen


def silence_signals(p: Prepared, s: Settings) -> no_answer.Signals:
    return no_answer.signals(p.query, pool(p, s), p.absent)


def fit_silence(sig: list[tuple[Prepared, no_answer.Signals]],
                counter: list) -> no_answer.Thresholds:
    """The thresholds flagging most unanswerable questions while wrongly flagging at most
    MAX_FALSE of the answerable ones. Of thresholds doing equally well, the first in SILENCE's
    order wins: the lowest, the most ready to say the plans are silent, because the questions
    these questions lack (about places and things no plan mentions) are the ones it is for."""
    import itertools

    pos = [s for p, s in sig if not p.needles]
    neg = [s for p, s in sig if p.needles]
    best = None
    for combo in itertools.product(*SILENCE.values()):
        counter[0] += 1
        t = no_answer.Thresholds(**dict(zip(SILENCE, combo)))
        false = sum(no_answer.silent(s, t) for s in neg) / max(len(neg), 1)
        if false > MAX_FALSE:
            continue
        right = sum(no_answer.silent(s, t) for s in pos) / max(len(pos), 1)
        key = (right, -false)
        if best is None or key > best[0]:
            best = (key, t)
    return best[1] if best else no_answer.Thresholds()


def cross_validate_silence(prep: list[Prepared], chosen: list[Settings], counter: list) -> dict:
    flags = {}
    for f in range(FOLDS):
        s = chosen[f]
        sig = [(p, silence_signals(p, s)) for p in prep]
        t = fit_silence([x for x in sig if x[0].fold != f], counter)
        for p, sg in sig:
            if p.fold == f:
                flags[p.id] = no_answer.silent(sg, t)
    un = [p for p in prep if not p.needles]
    an = [p for p in prep if p.needles]
    return {"flagged": sum(flags[p.id] for p in un),
            "wrongly_flagged": sum(flags[p.id] for p in an),
            "unanswerable_flagged": round(sum(flags[p.id] for p in un) / len(un), 4),
            "answerable_flagged": round(sum(flags[p.id] for p in an) / len(an), 4),
            "n_unanswerable": len(un), "n_answerable": len(an),
            "flagged_ids": [p.id for p in un if flags[p.id]],
            "wrong_ids": [p.id for p in an if flags[p.id]]}


def fixed(prep: list[Prepared], s: Settings) -> dict:
    return {p.id: metrics(p, s) for p in prep if p.needles}


def paired(base: dict, other: dict, metric: str = "ndcg@10", draws: int = 10_000) -> dict:
    """How often `other` beats `base` question by question, and a bootstrap 95% interval of
    the mean difference: a gain whose interval holds 0 is not a clear one."""
    ids = sorted(base)
    d = np.array([other[i][metric] - base[i][metric] for i in ids])
    rng = np.random.default_rng(0)
    means = d[rng.integers(0, len(d), (draws, len(d)))].mean(1)
    return {"better": int((d > 0).sum()), "worse": int((d < 0).sum()),
            "mean": round(float(d.mean()), 4),
            "ci95": [round(float(x), 4) for x in np.percentile(means, [2.5, 97.5])]}


def fmt(name: str, r: dict) -> str:
    o = r["overall"]
    kinds = " ".join(f"{k[:5]}={v['hit@5']:.2f}" for k, v in r["by_kind"].items())
    return (f"{name:<34} nDCG {o['ndcg@10']:.3f} H@1 {o['hit@1']:.3f} H@5 {o['hit@5']:.3f} "
            f"MRR {o['mrr@10']:.3f} R@10 {o['recall@10']:.3f} | old37 nDCG "
            f"{r['old37']['ndcg@10']:.3f} H@5 {r['old37']['hit@5']:.3f} | H@5 {kinds}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", nargs="?", default=str(ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--skip", default="", help="levers left at the release's setting, "
                    "comma-separated (one whose cost is not in nDCG: 'expansion' encodes twice)")
    ap.add_argument("--per-question", help="write each question's out-of-fold metrics here")
    ap.add_argument("--against", help="compare question by question with such a file "
                    "(another index's or encoder's run)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    base = Settings.from_env(ranker="plain", synonym_weight=0.0, also_weight=0.0, expansion="off",
                             answer_weight=0.0, diversity=0.0)
    searcher = Searcher.open(base)
    prep = prepare(searcher, load_questions(Path(args.questions)))
    print(f"prepared {len(prep)} questions in {time.perf_counter() - t0:.0f} s")
    counter = [0]
    out = {"rows": {}}
    best_rows = fixed(prep, base)
    r = report(best_rows, prep)
    counter[0] += 1
    out["rows"]["release (no levers)"] = r
    print(fmt("release (no levers)", r))
    # Each lever joins those before it; it is kept only if the out-of-fold nDCG rises.
    kept: dict = {}
    chosen = [base] * FOLDS
    best = r["overall"]["ndcg@10"]
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(LEVERS):
        ap.error(f"unknown lever(s): {', '.join(sorted(skip - set(LEVERS)))}")
    for name, values in LEVERS.items():
        if name in skip:
            continue
        rows, trial = cross_validate(prep, base, {**kept, name: values}, counter)
        label = f"+ {name} (CV)"
        out["rows"][label] = r = report(rows, prep)
        r["chosen"] = [getattr(s, name) for s in trial]
        r["kept"] = r["overall"]["ndcg@10"] > best
        print(fmt(label, r), " chosen:", r["chosen"], "kept" if r["kept"] else "dropped")
        if r["kept"]:
            kept[name], chosen, best = values, trial, r["overall"]["ndcg@10"]
            best_rows = rows
    out["silence"] = cross_validate_silence(prep, chosen, counter)
    print("no-answer (CV):", out["silence"])
    # What ships: the kept levers and the thresholds chosen the same way on every question.
    final = choose(prep, base, kept, counter)
    thresholds = fit_silence([(p, silence_signals(p, final)) for p in prep], counter)
    out["fitted_on_all"] = {"levers": {k: getattr(final, k) for k in LEVERS},
                            "silence": thresholds.__dict__}
    print("fitted on all questions (the shipped defaults):", out["fitted_on_all"])
    out["settings_tried"] = counter[0]
    print(f"settings tried: {counter[0]} (each scored over the training folds' questions); "
          f"{time.perf_counter() - t0:.0f} s")
    if args.per_question:
        Path(args.per_question).write_text(json.dumps(best_rows))
    if args.against:
        out["against"] = paired(json.loads(Path(args.against).read_text()), best_rows)
        print(f"against {args.against}, question by question (nDCG@10):", out["against"])
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
