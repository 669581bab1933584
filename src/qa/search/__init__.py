"""Answer a question with ranked, cited passages: BM25, dense, or the two fused.

One module a job: `query` reads the question (its terms, synonyms, what it asks for),
`features` describes each candidate passage, `rank` orders them (the plain blend or the
learned ranker), `highlight` picks the answering sentence, `no_answer` tells when the plans
are silent, and `searcher` runs them over an open index.
"""
from .searcher import (Definition, Hit, QueryError, Searcher, SearchResult, clean_query,
                       has_words, validate)

__all__ = ["Definition", "Hit", "QueryError", "Searcher", "SearchResult", "clean_query",
           "has_words", "validate"]
