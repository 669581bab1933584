"""Precision and recall of the commitments extractor on the hand-labelled sections.

    python eval/commitments_eval.py [--labels FILE ...] [--show]

Every commitment in each labelled section was marked by hand: one "section" line per
section read, one "commitment" line per commitment, with an exact needle of its text and its
due date. Two sets, reported apart: `commitments_labels.jsonl` (the first sections, which
the rules were written against) and `commitments_labels_heldout.jsonl` (four sections
labelled later, before the extractor's second round of changes, and never used to shape
them). An extracted item and a label match when they share a run of words by the retrieval
scorer's rule. Precision: matched items / items the extractor found in those sections;
recall: matched labels / labels; due accuracy over matched labels.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from qa.commitments import extract
from qa.config import Settings
from qa.evaluate import hits_needle
from qa.index import Index

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", nargs="+", default=[
        str(ROOT / "eval" / name) for name in ("commitments_labels.jsonl",
                                               "commitments_labels_heldout.jsonl")])
    ap.add_argument("--show", action="store_true", help="list misses and false alarms")
    ap.add_argument("--held-out", choices=("only", "without", "all"), default="all",
                    help="within a file: the sections it marks held_out, or the others")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    index = Index.load(Settings.from_env().index_dir)
    extracted = extract(index)
    for path in args.labels:
        print(f"== {Path(path).name}")
        report(path, extracted, args.held_out, args.show)
    print(f"commitments in the whole corpus: {len(extracted)}")
    return 0


def report(path: str, extracted: list, held_out: str, show: bool) -> None:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if held_out != "all":
        rows = [r for r in rows if r.get("held_out", False) == (held_out == "only")]
    sections = [(r["doc"], r["section"]) for r in rows if r["type"] == "section"]
    labels = [r for r in rows if r["type"] == "commitment"]
    items = [c for c in extracted if (c.doc_id, c.section) in sections]
    matched_items, matched_labels, due_right, due_wrong = set(), set(), 0, []
    for li, lab in enumerate(labels):
        for ci, c in enumerate(items):
            if c.doc_id == lab["doc"] and hits_needle(c.text, lab["needle"]):
                matched_items.add(ci)
                if li not in matched_labels:
                    matched_labels.add(li)
                    due_right += c.due == lab["due"]
                    if c.due != lab["due"]:
                        due_wrong.append((lab["needle"], lab["due"], c.due))
    precision = len(matched_items) / len(items) if items else 0.0
    recall = len(matched_labels) / len(labels) if labels else 0.0
    print(f"sections labelled: {len(sections)}, labelled commitments: {len(labels)}, "
          f"extracted in those sections: {len(items)}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  "
          f"due date right on {due_right}/{len(matched_labels)} matched")
    if show:
        for ci, c in enumerate(items):
            if ci not in matched_items:
                print(f"  false alarm: {c.text!r}")
        for li, lab in enumerate(labels):
            if li not in matched_labels:
                print(f"  missed: {lab['needle']!r}")
        for needle, want, got in due_wrong:
            print(f"  due {got!r}, labelled {want!r}: {needle!r}")


if __name__ == "__main__":
    sys.exit(main())
