"""The answer box: the one sentence that best answers, and the other documents that say it too.

A pure function of a SearchResult. It refers to hits by rank: the citation's fields (title,
body, date, section, page) live in the Hit alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .bm25 import words
from .chunk import BULLET
from .search.features import LABEL_WORDS


@dataclass(frozen=True)
class Answer:
    rank: int  # the hit whose highlighted sentence answers
    start: int  # the sentence's offsets in that hit's text
    end: int
    quote: str  # hit.text[start:end], stripped of the line breaks a PDF leaves in it
    # Ranks of the best hit of each other document whose own highlighted sentence holds every
    # question word the answer's sentence holds: they state it in the same terms.
    also_in: list[int]

    def to_dict(self) -> dict:
        # By hand, as SearchResult.to_dict: asdict deep-copies each field.
        return {"rank": self.rank, "start": self.start, "end": self.end, "quote": self.quote,
                "also_in": list(self.also_in)}


def sentence_of(hit) -> tuple[int, int, str] | None:
    """The hit's answering sentence: its offsets in hit.text and its words on one line (a
    PDF's line breaks are no part of a quotation); None when it has none."""
    if not hit.highlights:
        return None
    start, end = hit.highlights[0]
    # A list item's mark opens the sentence in the passage, not in a quotation of it.
    text = hit.text[start:end]
    bullet = BULLET.match(text.lstrip())
    if bullet and text.strip() != bullet.group().strip():
        start += len(text) - len(text.lstrip()) + bullet.end()
    return start, end, " ".join(hit.text[start:end].split())


# Sentences of the plans, not questions: the same few thousand are quoted again and again,
# and stemming each hit's sentence anew was most of the answer box's time (about 0.05 ms).
@lru_cache(maxsize=1 << 14)
def _sentence_words(sentence: str) -> frozenset[str]:
    return frozenset(words(sentence))


def _held(question: set[str], hit) -> set[str]:
    found = sentence_of(hit)
    return question & _sentence_words(found[2]) if found else set()


def answer_of(result) -> Answer | None:
    """The answer box of a search, or None when the plans are silent (no_answer) or the top
    hit has no answering sentence to quote.

    `also_in` needs no threshold: a hit from another document counts when its own best
    sentence holds all the question's (stemmed, stop-word-free) words that the answer's
    sentence holds, so it is at least as complete an answer in the plans' words. A passage
    that says it in other words entirely is not counted; the ranked list still shows it."""
    if result.no_answer or not result.results:
        return None
    top = result.results[0]
    found = sentence_of(top)
    # A label ("Programme", "UEC network": a slide's or a table's words, with no full stop)
    # is chosen only when the passage holds nothing else; it is no quotation of an answer.
    # A short sentence is one: "It will open in 2019."
    if found is None or (len(_sentence_words(found[2])) < LABEL_WORDS
                         and not found[2].endswith((".", "!", "?"))):
        return None
    question = set(words(result.query))
    needed = _held(question, top)
    also, seen = [], {top.doc_id}
    for hit in result.results[1:]:
        if hit.doc_id in seen:
            continue
        if needed and needed <= _held(question, hit):
            seen.add(hit.doc_id)
            also.append(hit.rank)
    return Answer(top.rank, *found, also)
