"""Score retrieval against questions with gold needles, by the rule in eval/README.md."""
from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

K = 10
CUTS = (1, 3, 5, 10)
METRICS = ("hit@1", "hit@3", "hit@5", "hit@10", "recall@10", "mrr@10", "ndcg@10")


class EvalFileError(ValueError):
    pass


@dataclass
class Question:
    id: str
    question: str
    kind: str
    needles: list[str]


def tokens(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9£%]", " ", text.lower()).split()


def longest_run(needle: list[str], passage: list[str]) -> int:
    """Length of the longest run of consecutive needle tokens found consecutively in passage."""
    best = 0
    prev = [0] * (len(passage) + 1)
    for a in needle:
        cur = [0] * (len(passage) + 1)
        for j, b in enumerate(passage, 1):
            if a == b:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


# The shortest run of a needle's words a passage must hold to hit it (eval/README.md).
MIN_RUN = 4


def hits_needle(passage_text: str, needle: str) -> bool:
    nt, pt = tokens(needle), tokens(passage_text)
    need = max(MIN_RUN, math.ceil(0.6 * len(nt)))
    # A run of `need` needle tokens needs at least that many of them in the passage at all:
    # a cheap test that spares the quadratic run search for almost every passage.
    held = set(pt)
    if sum(t in held for t in nt) < need:
        return False
    return longest_run(nt, pt) >= need


def highlight_on_answer(hit, needles: list[str]) -> bool | None:
    """Whether the result's highlight overlaps the first needle it holds whole; None when it
    holds none whole (a needle cut by the passage's edge cannot be placed)."""
    for nd in needles:
        at = hit.text.find(nd)
        if at >= 0:
            return any(a < at + len(nd) and b > at for a, b in hit.highlights)
    return None


def load_questions(path: Path) -> list[Question]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise EvalFileError(f"cannot read question file {path}: {e}") from e
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Question(str(d["id"]), d["question"], d.get("kind", "other"),
                                [g["needle"] for g in d.get("gold", [])]))
            short = next((nd for nd in out[-1].needles if len(tokens(nd)) < MIN_RUN), None)
            if short is not None:
                # The hit rule asks for a run of at least MIN_RUN of its words: no passage
                # could ever hit it, and the question would score 0 whatever was found.
                raise EvalFileError(f"{path}, line {n}: the needle {short!r} has fewer than "
                                    f"{MIN_RUN} words; no passage can hit it (eval/README.md)")
        except KeyError as e:
            raise EvalFileError(f"{path}, line {n}: a question record needs the field "
                                f"{e.args[0]!r}") from None
        except ValueError as e:
            raise EvalFileError(f"{path}, line {n}: not JSON ({e})") from None
        except TypeError:
            raise EvalFileError(f"{path}, line {n}: not a question record (an object with "
                                f"\"id\", \"question\" and \"gold\")") from None
    if not out:
        raise EvalFileError(f"{path} holds no questions")
    return out


def needles_in(text: str, needles: list[str]) -> set[int]:
    """Which of the needles the passage text holds, by index."""
    return {i for i, nd in enumerate(needles) if hits_needle(text, nd)}


def score_question(texts: list[str], needles: list[str]) -> dict:
    """Metrics for one answerable question, given the texts of its ranked results."""
    return score_found([needles_in(t, needles) for t in texts[:K]], len(needles))


def score_found(found: list[set[int]], n_needles: int) -> dict:
    """Metrics for one answerable question from the needles each ranked result holds."""
    found = found[:K]
    first = next((r for r, f in enumerate(found, 1) if f), None)
    seen: set[int] = set()
    dcg = 0.0
    for r, f in enumerate(found, 1):
        if f - seen:
            dcg += 1 / math.log2(r + 1)
        seen |= f
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(n_needles, K) + 1))
    out = {f"hit@{c}": float(first is not None and first <= c) for c in CUTS}
    out["recall@10"] = len(seen) / n_needles
    out["mrr@10"] = 1 / first if first else 0.0
    out["ndcg@10"] = dcg / ideal
    return out


def _mean(rows: list[dict]) -> dict:
    return {m: round(statistics.fmean(r[m] for r in rows), 4) if rows else None for m in METRICS}


def evaluate(searcher, questions: list[Question], mode: str, **search_kw) -> dict:
    """Overall and per-kind figures for one retrieval mode."""
    per_q, by_kind = [], defaultdict(list)
    lengths, times, on_answer = [], [], []
    abstain_right = abstain_wrong = n_unanswerable = 0
    details = []
    for q in questions:
        res = searcher.search(q.question, k=K, mode=mode, **search_kw)
        texts = [h.text for h in res.results]
        lengths += [len(t) for t in texts]
        times.append(res.took_ms)
        if not q.needles:
            n_unanswerable += 1
            abstain_right += res.no_answer
            details.append({"id": q.id, "kind": q.kind, "no_answer": res.no_answer})
            continue
        s = score_question(texts, q.needles)
        on_answer += [x for x in (highlight_on_answer(h, q.needles) for h in res.results[:K])
                      if x is not None]
        abstain_wrong += res.no_answer
        per_q.append(s)
        by_kind[q.kind].append(s)
        details.append({"id": q.id, "kind": q.kind, "no_answer": res.no_answer, **s})
    return {
        "mode": mode,
        "overall": _mean(per_q),
        "by_kind": {k: {"n": len(v), **_mean(v)} for k, v in sorted(by_kind.items())},
        "answerable": len(per_q),
        "median_passage_chars": statistics.median(lengths) if lengths else 0,
        "median_search_ms": round(statistics.median(times), 2) if times else 0,
        # Of the results holding a needle whole, the share whose highlight lies on it.
        "highlight_on_answer": round(statistics.fmean(on_answer), 4) if on_answer else None,
        "unanswerable": n_unanswerable,
        "no_answer_on_unanswerable": (round(abstain_right / n_unanswerable, 4)
                                      if n_unanswerable else None),
        "no_answer_on_answerable": round(abstain_wrong / len(per_q), 4) if per_q else None,
        "questions": details,
    }


def _cell(value, width: int, spec: str) -> str:
    # A metric over no questions (a file of unanswerable ones only) is None: shown as "-".
    return f"{'-' if value is None else format(value, spec):>{width}}"


def format_report(reports: list[dict]) -> str:
    """A side-by-side text table of the modes' figures, overall then per kind."""
    modes = [r["mode"] for r in reports]
    width = 10
    head = f"{'':<28}" + "".join(f"{m:>{width}}" for m in modes)
    lines = [f"answerable questions: {reports[0]['answerable']}, "
             f"unanswerable: {reports[0]['unanswerable']}", "", "overall", head]
    for m in METRICS:
        lines.append(f"  {m:<26}" + "".join(_cell(r["overall"][m], width, ".3f")
                                            for r in reports))
    lines.append(f"  {'median passage chars':<26}"
                 + "".join(f"{r['median_passage_chars']:>{width}.0f}" for r in reports))
    lines.append(f"  {'median search ms':<26}"
                 + "".join(f"{r['median_search_ms']:>{width}.1f}" for r in reports))
    for key, label in (("highlight_on_answer", "highlight on the answer"),
                       ("no_answer_on_unanswerable", "no-answer, unanswerable"),
                       ("no_answer_on_answerable", "no-answer, answerable")):
        lines.append(f"  {label:<26}" + "".join(_cell(r[key], width, ".3f") for r in reports))
    lines += ["", "by kind (hit@5 / mrr@10 / ndcg@10)", f"{'':<28}" + "".join(
        f"{m:>{width + 8}}" for m in modes)]
    for kind in reports[0]["by_kind"]:
        n = reports[0]["by_kind"][kind]["n"]
        cells = "".join(f"{'/'.join(_cell(r['by_kind'][kind][m], 0, '.2f') for m in ('hit@5', 'mrr@10', 'ndcg@10')):>{width + 8}}"
                        for r in reports)
        lines.append(f"  {kind + f' ({n})':<26}{cells}")
    return "\n".join(lines)
