"""Read the corpus folder: find the files, choose a loader for each by what its bytes are,
clean the text, infer the metadata the catalog does not give.

The cleaned text is what the index stores and what every passage offset points into; the
files in corpus/ are never modified.

    scan(corpus_dir, max_bytes)      the files to read, and each file refused before reading
    read_bytes(name, data, entry)    one file's bytes as a Document (pure), or Skip(reason)
    load_catalog(corpus_dir)         the validated catalog
"""
from __future__ import annotations

from pathlib import Path

from ..config import MAX_FILE_MB
from .catalog import CATALOG_NAME, load_catalog
from .record import DOC_TYPES, CorpusError, DocRecord, Document, Heading, Skip, Table
from .registry import read_bytes, sniff
from .scan import corpus_hashes, doc_id_for, scan
from .text import clean, decode

# The default size limit; a build takes Settings.max_file_bytes (QA_MAX_FILE_MB).
MAX_FILE_BYTES = int(MAX_FILE_MB * 2**20)

__all__ = ["MAX_FILE_BYTES", "CATALOG_NAME", "DOC_TYPES", "CorpusError", "DocRecord", "Document", "Heading",
           "Skip", "Table", "clean", "corpus_files", "corpus_hashes", "decode", "doc_id_for",
           "load_catalog", "read_bytes", "read_corpus", "scan", "sniff"]


def read_corpus(corpus_dir: Path, max_bytes: int = MAX_FILE_BYTES
                ) -> tuple[list[Document], list[tuple[str, str]]]:
    """All readable documents, and (file name, reason) for each file not indexed."""
    catalog = load_catalog(corpus_dir)
    paths, skipped = scan(corpus_dir, max_bytes)
    docs = []
    for path in paths:
        name = path.relative_to(corpus_dir).as_posix()
        try:
            docs.append(read_bytes(name, path.read_bytes(), catalog.get(name)))
        except OSError as e:
            skipped.append((name, f"unreadable ({e.strerror or e})"))
        except Skip as e:
            skipped.append((name, str(e)))
    if not docs:
        why = "; ".join(f"{n}: {r}" for n, r in skipped[:5]) or "the folder is empty"
        raise CorpusError(f"no readable documents in {corpus_dir} ({why})")
    return docs, sorted(skipped)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The files a build reads (none refused before reading), at no size limit."""
    return scan(corpus_dir, max_bytes=1 << 62)[0]
