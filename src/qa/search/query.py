"""A question read once per search: its BM25 terms and their weights, what the vocabulary and
the corpus glossary add to it, and what it asks for."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..bm25 import SparseBM25, content_words, query_terms, tokenize
from ..glossary import Glossary
from . import answer_type


@dataclass(frozen=True)
class Query:
    text: str
    terms: list[str]            # the asker's own words, stemmed, and their adjacent pairs
    forms: list[str]            # terms of each acronym's other form (the corpus glossary)
    synonym_terms: list[str]    # terms of the vocabulary's expansions, weighted below the rest
    weights: dict[str, float]   # each own term's idf
    wants: str | None           # answer_type.FIGURE / DATE / WHO, or None
    acronym: str | None         # the acronym the question asks to have spelt out
    expansions: list = field(default_factory=list)  # synonyms.Expansion
    rephrased: str | None = None  # the question in the plans' words, for the dense side

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
    synonym_terms = []
    for e in expansions:
        for phrase in e.terms:
            for t in tokenize(phrase):
                if t not in seen:
                    seen.add(t)
                    synonym_terms.append(t)
    return Query(text=text, terms=terms, forms=forms, synonym_terms=synonym_terms,
                 weights={t: bm25.idf(t) for t in own},
                 wants=answer_type.wanted(text),
                 acronym=glossary.asked_about(content_words(text)),
                 expansions=expansions, rephrased=rephrase(text, expansions))


def rephrase(text: str, expansions) -> str | None:
    """The question with each expanded phrase put in the plans' words (each expansion's first
    term): "bed blocking in Coventry" -> "delayed transfers of care in Coventry". None when
    nothing expands."""
    if not expansions:
        return None
    out = text
    for e in expansions:
        out = out.replace(e.source, e.terms[0], 1)
    return out
