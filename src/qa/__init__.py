"""planqa: cited answers from public health-and-care plans.

    from qa import Searcher
    searcher = Searcher.open()            # load the index once
    result = searcher.search("what is the stroke model?", k=5)
"""
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `import qa` stays cheap for the CLI's fast paths.
    if name in ("Searcher", "SearchResult", "Hit", "QueryError"):
        from . import search

        return getattr(search, name)
    if name == "Settings":
        from .config import Settings

        return Settings
    raise AttributeError(name)
