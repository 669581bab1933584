"""Which files of the corpus folder are read, which are refused before reading, and why.

Nothing in the folder is passed over in silence: a file is either returned to be read or
named with its reason. Files reached through a link to outside the folder are refused, as
are files over the size limit (read whole, they would exhaust memory).
"""
from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

from .catalog import CATALOG_NAME
from .record import CorpusError

# Kept in a doc_id as they are; every other character is written ~XX (its UTF-8 bytes in hex).
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# The default format's extension is left out of ids: short links, and the ids of the
# documents indexed before other formats were read stay as they were.
_IMPLIED = ".txt"


def doc_id_for(name: str) -> str:
    """The id of the file at `name` (relative to the corpus, '/' separated): the name with
    ".txt" dropped and unsafe characters escaped, so `a b.txt` is `a~20b` and `a_b.txt` is
    `a_b`. Two names can share an id only if one is another's ".txt" twin (`x` and `x.txt`)
    or they are equal after Unicode normalisation; `scan` refuses such a corpus."""
    name = unicodedata.normalize("NFC", name)
    if name.lower().endswith(_IMPLIED) and len(name) > len(_IMPLIED):
        name = name[:-len(_IMPLIED)]
    return "".join(c if c in _SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in name)


def _walk(corpus_dir: Path):
    """(relative name, path) of every entry under the folder, links not followed."""
    for root, dirs, files in os.walk(corpus_dir, followlinks=False):
        dirs.sort()
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):
                dirs.remove(d)  # reported below as a file-like entry
                files.append(d)
        for f in sorted(files):
            path = Path(root) / f
            yield path.relative_to(corpus_dir).as_posix(), path


def scan(corpus_dir: Path, max_bytes: int) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files to read, and (name, reason) for each file refused before reading.
    Raises CorpusError for a missing folder or two files that would share a doc_id."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    root = corpus_dir.resolve()
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    ids: dict[str, str] = {}
    for name, path in _walk(corpus_dir):
        if name == CATALOG_NAME:
            continue
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                skipped.append((name, f"outside the corpus (a link to {target})"))
                continue
            if target.is_dir():
                skipped.append((name, "a link to a folder of the corpus (read where it is)"))
                continue
        if any(part.startswith(".") for part in Path(name).parts):
            skipped.append((name, "hidden file"))
            continue
        try:
            size = path.stat().st_size
        except OSError as e:
            skipped.append((name, f"unreadable ({e.strerror or e})"))
            continue
        if not path.is_file():
            skipped.append((name, "not a regular file"))
            continue
        if size > max_bytes:
            skipped.append((name, f"over the size limit ({size / 2**20:.1f} MB > "
                                  f"{max_bytes / 2**20:g} MB; raise QA_MAX_FILE_MB to read it)"))
            continue
        doc_id = doc_id_for(name)
        if doc_id in ids:
            raise CorpusError(f"{ids[doc_id]!r} and {name!r} would share the document id "
                              f"{doc_id!r}: rename one of them")
        ids[doc_id] = name
        files.append(path)
    return files, skipped


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """sha256 of every file in the folder, whatever its format and whether or not it is
    indexed (catalog included): what staleness compares."""
    out = {}
    if not corpus_dir.is_dir():
        return out
    root = corpus_dir.resolve()
    for name, path in _walk(corpus_dir):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            # Refused, never read: where it points is what can change.
            out[name] = "link:" + os.readlink(path)
            continue
        if not path.is_file():  # a pipe or a device: opening it could wait for ever
            out[name] = "not a regular file"
            continue
        try:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[name] = h.hexdigest()
        except OSError:
            out[name] = "unreadable"
    return out
