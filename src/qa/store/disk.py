"""The index on disk: content-addressed segments, one manifest per build, a CURRENT pointer.

    index/
      CURRENT                  the live build's folder name, replaced atomically
      .lock                    held by the build in progress (see lock.py)
      segments/<key>.seg       one per document version, immutable, shared between builds
      build-<stamp>/manifest.json
                               the settings, each corpus file's sha256 as read, and the
                               segments of this build, each with its file's sha256

A build writes its new segments, then its manifest in a new folder, and only then swaps
CURRENT, so a build killed at any point leaves the previous index whole. Every file a load
reads is checked against the checksum the manifest records for it (the manifest against its
own), so a damaged file is refused by name rather than searched.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import IndexCorrupt, IndexMissing, IndexOutdated, unwritable
from .index import Index
from .merge import merge
from .segment import FORMAT, Segment, from_bytes, to_bytes

POINTER = "CURRENT"
SEGMENTS = "segments"
MANIFEST = "manifest.json"
_BUILD_NAME = re.compile(r"build-[0-9A-Za-z-]{1,80}")
# A folder or segment no longer current is deleted only this long after it was written, and
# never while a load holds it: a server that read CURRENT a moment ago may still be reading.
GRACE_SECONDS = 60.0


def _rebuild(what: str) -> str:
    return f"{what}; run 'qa build --full' to rebuild the index"


# --- writing --------------------------------------------------------------------------------

def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _writing(index_dir: Path):
    """The index's own writes: an OSError (the disk full, the folder made read-only since the
    lock was taken) is IndexUnwritable, one line. Not _write_atomic's: it writes the corpus
    too (qa add), whose failures are no index's."""
    try:
        yield
    except OSError as e:
        raise unwritable(index_dir, e) from None


def write_segment(index_dir: Path, seg: Segment) -> dict:
    """Store a segment; its manifest entry."""
    folder = index_dir / SEGMENTS
    data = to_bytes(seg)
    with _writing(index_dir):
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / f"{seg.key}.seg", data)
    return _entry(seg, data)


def _entry(seg: Segment, data: bytes) -> dict:
    return {"path": seg.doc.path, "doc_id": seg.doc.doc_id, "key": seg.key,
            "passages": len(seg.passages), "dimensions": int(seg.vectors.shape[1]),
            "file": f"{SEGMENTS}/{seg.key}.seg", "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data)}


def stored_segment(index_dir: Path, key: str) -> dict | None:
    """The manifest entry of a segment already on disk under this key, if it is readable
    (segments are written whole or not at all, so one left by a killed build is sound)."""
    try:
        data = (index_dir / SEGMENTS / f"{key}.seg").read_bytes()
        seg = from_bytes(data)
    except Exception:  # missing, or unreadable: it is simply built again
        return None
    return _entry(seg, data) if seg.key == key else None


def _sealed(manifest: dict) -> dict:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {**body, "checksum": digest}


def save(index_dir: Path, manifest: dict) -> Path:
    """Write a build's manifest into a new folder and point CURRENT at it, atomically."""
    # Nanoseconds and pid too: two builds (or one serve rebuilding) may save within a second.
    name = f"build-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    tmp = index_dir / f".tmp-{name}"
    with _writing(index_dir):
        tmp.mkdir(parents=True)
        try:
            if (index_dir / SEGMENTS).is_dir():
                # The new segments' names are on disk before CURRENT can name them: after a
                # power cut, a build folder never points at segments whose entries were lost.
                _fsync_dir(index_dir / SEGMENTS)
            _write_atomic(tmp / MANIFEST, json.dumps(_sealed(manifest), ensure_ascii=False,
                                                     indent=1).encode())
            _fsync_dir(tmp)
            os.rename(tmp, index_dir / name)
            _write_atomic(index_dir / POINTER, f"{name}\n".encode())
            _fsync_dir(index_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return index_dir / name


# --- reading --------------------------------------------------------------------------------

def current_name(index_dir: Path) -> str:
    """The live build's folder name, from CURRENT; one-line errors when it cannot be read."""
    pointer = index_dir / POINTER
    try:
        raw = pointer.read_bytes()
    except FileNotFoundError:
        raise IndexMissing(f"no index at {index_dir}: run 'qa build' first") from None
    except OSError as e:
        raise IndexCorrupt(_rebuild(f"cannot read {pointer} ({e.strerror})")) from None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise IndexCorrupt(_rebuild(f"{pointer} is not text")) from None
    if not _BUILD_NAME.fullmatch(name):
        raise IndexCorrupt(_rebuild(f"{pointer} does not name a build folder"))
    return name


def read_manifest(build: Path) -> dict:
    path = build / MANIFEST
    try:
        manifest = json.loads(_read(path).decode("utf-8"))
    except ValueError as e:
        raise IndexCorrupt(_rebuild(f"index file {path} is unreadable ({type(e).__name__})")) \
            from None
    if not isinstance(manifest, dict):
        raise IndexCorrupt(_rebuild(f"index file {path} is not a manifest"))
    if manifest.get("format") != FORMAT:
        raise IndexOutdated(f"index at {build} has format {manifest.get('format')}, "
                            f"this planqa reads format {FORMAT}: run 'qa build'")
    if _sealed(manifest)["checksum"] != manifest.get("checksum"):
        raise IndexCorrupt(_rebuild(f"index file {path} does not match its checksum"))
    return manifest


def read_segment(index_dir: Path, entry: dict) -> Segment:
    """A segment of the manifest, refused by name unless its bytes match the checksum."""
    path = index_dir / entry["file"]
    data = _read(path)
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise IndexCorrupt(_rebuild(f"index file {path} does not match its checksum"))
    try:
        return from_bytes(data)
    except Exception as e:  # numpy, zip, json: all mean a file we cannot use
        raise IndexCorrupt(_rebuild(f"index file {path} is unreadable ({type(e).__name__})")) \
            from None


def _read(path: Path) -> bytes:
    with _opened(path) as f:
        try:
            return f.read()
        except OSError as e:
            raise _unreadable(path, e) from None


def _opened(path: Path):
    """A file of the index, open to read; FileNotFoundError as it is (a build collected
    meanwhile: see load), any other failure (a folder in its place, no permission) the
    one-line IndexCorrupt."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise
    except OSError as e:
        raise _unreadable(path, e) from None


def _unreadable(path: Path, e: OSError) -> IndexCorrupt:
    return IndexCorrupt(_rebuild(f"cannot read index file {path} ({e.strerror})"))


class _Held:
    """A shared lock on a build's manifest while it is read: garbage collection skips it."""

    def __init__(self, build: Path):
        self.f = _opened(build / MANIFEST)
        fcntl.flock(self.f, fcntl.LOCK_SH)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def load(index_dir: Path, attempts: int = 5) -> Index:
    """The live index, merged from its segments, every file checked against its checksum."""
    for attempt in range(attempts):
        name = current_name(index_dir)
        build = index_dir / name
        try:
            with _Held(build):
                if not build.is_dir():  # collected between reading CURRENT and the lock
                    raise FileNotFoundError(build)
                manifest = read_manifest(build)
                segments = [read_segment(index_dir, e) for e in manifest["segments"]]
        except FileNotFoundError as e:
            # Only a build no longer current is ever deleted: read CURRENT again.
            if attempt + 1 < attempts and current_name(index_dir) != name:
                continue
            raise IndexCorrupt(_rebuild(f"index file {e.filename} is missing")) from None
        index = merge(segments, manifest, build)
        if (len(index.passages) != manifest["passages"] or index.vectors.shape[0] !=
                len(index.passages) or not index.sentences.consistent(len(index.passages))):
            raise IndexCorrupt(_rebuild(f"index at {build} is inconsistent"))
        index.faiss  # built now, so that the first question does not wait for it
        return index
    raise IndexCorrupt(f"the index at {index_dir} kept changing while being read; try again")


def verify(index_dir: Path) -> list[Path]:
    """Every file of the live index checked against its recorded checksum; the files checked.
    Raises IndexCorrupt naming the first that does not match."""
    build = index_dir / current_name(index_dir)
    try:
        manifest = read_manifest(build)
        for entry in manifest["segments"]:
            path = index_dir / entry["file"]
            if hashlib.sha256(_read(path)).hexdigest() != entry["sha256"]:
                raise IndexCorrupt(_rebuild(f"index file {path} does not match its checksum"))
    except FileNotFoundError as e:
        raise IndexCorrupt(_rebuild(f"index file {e.filename} is missing")) from None
    return [build / MANIFEST] + [index_dir / e["file"] for e in manifest["segments"]]


def previous(index_dir: Path) -> dict | None:
    """The live build's manifest, when there is a readable one of this format."""
    try:
        return read_manifest(index_dir / current_name(index_dir))
    except (IndexMissing, IndexCorrupt, FileNotFoundError):
        return None


# --- garbage ---------------------------------------------------------------------------------

def collect(index_dir: Path, now: float | None = None) -> int:
    """Delete what no build can need: leftovers of killed builds, build folders neither current
    nor recent nor being read, and segments no remaining build names. Called only under the
    build lock, so nothing here is being written; returns how many entries went."""
    now = time.time() if now is None else now
    live = current_name(index_dir)
    gone = 0
    for entry in index_dir.iterdir():
        if entry.name.startswith(".tmp-"):  # a killed build's: nobody else writes while we hold the lock
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(True)
            gone += 1
        elif (entry.is_dir() and entry.name.startswith("build-") and entry.name != live
              and now - entry.stat().st_mtime > GRACE_SECONDS and _drop_build(entry)):
            gone += 1
    folder = index_dir / SEGMENTS
    if not folder.is_dir():
        return gone
    needed = set()
    for build in index_dir.glob("build-*"):
        try:
            needed.update(Path(e["file"]).name for e in read_manifest(build)["segments"])
        except (IndexCorrupt, IndexOutdated, FileNotFoundError, KeyError):
            continue  # an old or broken build names no segment of ours
    for seg in folder.iterdir():
        if seg.name.startswith(".tmp-") or (seg.name not in needed
                                           and now - seg.stat().st_mtime > GRACE_SECONDS):
            seg.unlink(missing_ok=True)
            gone += 1
    return gone


def _drop_build(build: Path) -> bool:
    """Delete a build folder unless a load holds it; whether it went."""
    try:
        f = open(build / MANIFEST, "rb")
    except FileNotFoundError:
        shutil.rmtree(build, ignore_errors=True)
        return True
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        trash = build.with_name(f".tmp-trash-{build.name}")
        os.rename(build, trash)
        shutil.rmtree(trash, ignore_errors=True)
    return True
