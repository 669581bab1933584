"""The index store: per-document segments, their merge into the index search reads, atomic
saves behind a CURRENT pointer, one build at a time, checksums, and live reloading.

    segment.py  one document -> its segment (pure: the file's bytes and the settings)
    merge.py    segments -> the index (BM25 statistics, glossary, vectors; no re-embedding)
    disk.py     layout, save, load, verify, garbage collection
    lock.py     the build lock
    build.py    qa build / add / remove: update what changed
    live.py     the source a server asks for the searcher of the next request
"""
from .build import BadInput, BuildReport, add, build, remove
from .disk import verify
from .errors import (BuildBusy, IndexCorrupt, IndexError_, IndexMissing, IndexOutdated,
                     IndexUnwritable, ModelMismatch)
from .index import Index, SentenceCosines, SentenceVectors, indexed_text
from .live import Live
from .segment import FORMAT, Segment, make_segment

__all__ = ["BadInput", "BuildBusy", "BuildReport", "FORMAT", "Index", "IndexCorrupt",
           "IndexError_", "IndexMissing", "IndexOutdated", "IndexUnwritable", "Live",
           "ModelMismatch", "Segment", "SentenceCosines", "SentenceVectors", "add", "build",
           "indexed_text", "make_segment", "remove", "verify"]
