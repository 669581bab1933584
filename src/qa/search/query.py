"""A question read once per search: its BM25 terms and their weights, what the vocabulary and
the corpus glossary add to it, and what it asks for."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..bm25 import SparseBM25, content_words, query_terms, tokenize, words
from ..glossary import Glossary
from . import answer_type


@dataclass(frozen=True)
class Query:
    text: str
    terms: list[str]            # the asker's own words, stemmed, and their adjacent pairs
    forms: list[str]            # terms of each acronym's other form (the corpus glossary)
    # The vocabulary's expansions: for each, the BM25 terms of each of its wordings; apart,
    # those of phrases the plans never use ("bed blocking": the expansion is all there is to
    # match) and of phrases they use too ("council": the expansion only adds).
    synonym_terms: list[list[list[str]]]
    also_terms: list[list[list[str]]]
    # For each expansion of a phrase the plans never use, the question's words it rewords and
    # each wording's words (stemmed): a passage holding a wording holds those words of the
    # question. Where the plans use the asker's phrase ("park"), a passage that answers says
    # it too: one holding a looser wording ("physical activity") does not hold it.
    rewordings: list[tuple[frozenset, list[frozenset]]]
    weights: dict[str, float]   # each own term's idf
    # The same, but a word the plans hold only in a rewording ("Walsgrave", held as "UHCW")
    # weighs as the index's rarest term rather than nothing: for the share of the question a
    # passage or sentence holds, itself or in other words.
    held_weights: dict[str, float]
    wants: str | None           # answer_type.FIGURE / DATE / WHO, or None
    acronym: str | None         # the acronym the question asks to have spelt out
    expansions: list = field(default_factory=list)  # synonyms.Expansion
    rephrased: str | None = None  # the question in the plans' words, for the dense side
    precise: str | None = None  # answer_type.MONEY / DURATION / COUNT, for the no-answer test

    @property
    def bm25_terms(self) -> list[str]:
        return self.terms + self.forms


def analyse(text: str, bm25: SparseBM25, glossary: Glossary, synonyms=None) -> Query:
    terms = query_terms(text)
    own = set(terms)
    # Each acronym form and each expansion is tokenised on its own: a pair of words spanning
    # the question and a form appended to it is no phrase of either.
    forms = [t for form in glossary.other_forms(text) for t in tokenize(form)]
    expansions = synonyms.expand(text) if synonyms is not None else []
    seen = own | set(forms)
    synonym_terms, also_terms, rewordings = [], [], []
    for e in expansions:
        if not in_plans(e.source, bm25):
            rewordings.append((frozenset(words(e.source)) & own,
                               [frozenset(words(phrase)) for phrase in e.terms]))
        wordings = [[t for t in tokenize(phrase) if t not in seen] for phrase in e.terms]
        wordings = [w for w in wordings if w]
        if wordings:
            (also_terms if in_plans(e.source, bm25) else synonym_terms).append(wordings)
    weights = {t: bm25.idf(t) for t in own}
    reworded = {t for source, _ in rewordings for t in source if t not in bm25.vocab}
    return Query(text=text, terms=terms, forms=forms, synonym_terms=synonym_terms,
                 also_terms=also_terms, rewordings=rewordings, weights=weights,
                 held_weights={t: bm25.rarest if t in reworded else w for t, w in weights.items()},
                 wants=answer_type.wanted(text),
                 acronym=glossary.asked_about(content_words(text)),
                 expansions=expansions, rephrased=rephrase(
                     text, [e for e in expansions if not in_plans(e.source, bm25)]),
                 precise=answer_type.precise(text))


def in_plans(phrase: str, bm25: SparseBM25) -> bool:
    """Whether the indexed passages use the phrase: each of its words, and each pair of
    adjacent words, is a term of the index."""
    terms = tokenize(phrase)
    return bool(terms) and all(t in bm25.vocab for t in terms)


def _acronym(phrase: str) -> bool:
    return not any(c.islower() for c in phrase)


def rephrase(text: str, expansions) -> str | None:
    """The question with each expanded phrase (of those given: the searcher gives the phrases
    the plans never use) put in the plans' words (the expansion's first
    wording that is not an acronym): "bed blocking in Coventry" -> "delayed transfers of care
    in Coventry". Acronyms are left as asked both ways: the encoder knows the common ones and
    loses a short question's meaning to a spelt-out or abbreviated name. None when nothing is
    reworded."""
    out = text
    for e in expansions:
        wording = next((t for t in e.terms if not _acronym(t)), None)
        if wording and not _acronym(e.source):
            out = out.replace(e.source, wording, 1)
    return out if out != text else None
