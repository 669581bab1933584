"""How often the answer box quotes a gold answer, and how often its "Also in" is right.

    python eval/answer_eval.py [eval/dev.jsonl]

Nothing here is fitted: answer_of has no threshold. Printed, over the dev questions:
- box shown: answerable questions with an answer box / unanswerable ones with none;
- quote on gold: the box's sentence overlaps a gold needle its passage holds whole;
- also_in on multi-document questions: the documents named that have a top-10 passage
  holding a gold needle (hits_needle), and how many of those documents are named;
- also_in on single-document questions: how often it names any (gold marks one answer
  there, so a name is not necessarily wrong).
"""
from __future__ import annotations

import sys
from pathlib import Path

from qa.answer import answer_of
from qa.evaluate import hits_needle, load_questions
from qa.search import Searcher


def main(path: str = "eval/dev.jsonl") -> None:
    searcher = Searcher.open()
    questions = load_questions(Path(path))
    n = {"answerable": 0, "shown": 0, "silent": 0, "quotable": 0, "on_gold": 0, "named": 0,
         "named_right": 0, "other_gold": 0, "found": 0, "single": 0, "single_also": 0}
    for q in questions:
        result = searcher.search(q.question)
        answer = answer_of(result)
        if not q.needles:
            n["silent"] += answer is None
            continue
        n["answerable"] += 1
        n["shown"] += answer is not None
        if answer is None:
            continue
        top = result.results[answer.rank - 1]
        whole = {top.text.find(nd): len(nd) for nd in q.needles if nd in top.text}
        n["quotable"] += bool(whole)
        n["on_gold"] += any(a < answer.end and answer.start < a + k for a, k in whole.items())
        named = {result.results[r - 1].doc_id for r in answer.also_in}
        if q.kind != "multi_doc":
            n["single"] += 1
            n["single_also"] += bool(named)
            continue
        # Documents of the top 10 with a passage holding a gold needle, other than the box's.
        gold = {h.doc_id for h in result.results
                if any(hits_needle(h.text, nd) for nd in q.needles)} - {top.doc_id}
        n["named"] += len(named)
        n["named_right"] += len(named & gold)
        n["other_gold"] += len(gold)
        n["found"] += len(named & gold)
    unanswerable = len(questions) - n["answerable"]
    print(f"questions: {len(questions)} ({n['answerable']} answerable, {unanswerable} not)")
    print(f"answer box shown: {n['shown']}/{n['answerable']} answerable; "
          f"none shown: {n['silent']}/{unanswerable} unanswerable")
    print(f"quote on a gold needle: {n['on_gold']}/{n['quotable']} "
          f"(boxes whose passage holds a needle whole)")
    print(f"also_in, multi-document questions: {n['named_right']}/{n['named']} documents named "
          f"hold a gold needle in the top 10; {n['found']}/{n['other_gold']} such documents named")
    print(f"also_in, single-document questions: named any document in "
          f"{n['single_also']}/{n['single']}")


if __name__ == "__main__":
    main(*sys.argv[1:])
