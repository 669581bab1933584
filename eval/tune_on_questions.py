"""Train the adapter further on questions and the passages that answer them, fold by fold.

eval/adapt_encoder.py never sees a question: its query sides are the plans' own sentences,
headings and rewordings, which read nothing like "can my mum get help at home after hospital". This
continues its training on the dev set's answerable questions, each paired with a passage
holding one of its gold needles (one such passage, drawn, so that no question meets itself
as another's negative in a batch), beside a passage BM25
ranks high for it that holds none (a clean hard negative: the gold needles say which
passages answer). A fit on the dev set, so it is measured as one (eval/README.md, round 7):
`--fold F` leaves out fold F's questions (cv.py's folds), the index is built with that
adapter, and only fold F's out-of-fold figures from cv.py count; the five folds together are
the figure to report (`eval/choose.py --folds`). It gained nothing there (eval/README.md,
round 7), so no adapter made this way ships; `--fold -1` would train on every question.

    PYTHONPATH=src python eval/tune_on_questions.py --fold 0 --out /tmp/adapter-q0.npz
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "eval"))

from adapt_encoder import bm25_negative, passage_texts, save, train  # noqa: E402
from cv import FOLDS, fold_of  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluate import load_questions, needles_in  # noqa: E402
from qa.store.index import Index  # noqa: E402


def question_items(index: Index, questions, fold: int, rng: random.Random) -> list[tuple]:
    """(question, gold passage, its row, a non-answering passage BM25 ranks high, its row)."""
    gold = {q.id: sorted({pid for pid, p in enumerate(index.passages)
                          if needles_in(p.text, q.needles)})
            for q in questions if q.needles}
    texts = passage_texts(index)
    items = []
    for q in questions:
        rows = gold.get(q.id)
        if not rows or fold_of(q.id) == fold:
            continue
        row = rng.choice(rows)
        neg = bm25_negative(index, q.question, rng, 20, lambda j: j not in rows)
        items.append((q.question, texts[row], row, texts[neg] if neg >= 0 else None, neg))
    return items


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--fold", type=int, required=True, choices=range(-1, FOLDS),
                    metavar="F", help=f"the fold left out, 0 to {FOLDS - 1}; -1: none")
    ap.add_argument("--start", default=str(ROOT / "src" / "qa" / "data" / "adapter.npz"),
                    help="the adapter to train on from (adapt_encoder.py's)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    index = Index.load(Settings.from_env().index_dir)
    items = question_items(index, load_questions(Path(args.questions)), args.fold, rng)
    print(f"{len(items)} question pairs, from {len({i[0] for i in items})} questions",
          flush=True)
    save(train(items, rng, args.lr, args.seed, args.passes, start=args.start), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
