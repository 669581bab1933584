"""Bring the index up to date with the corpus: only new or changed files are parsed and
embedded; the rest keep their segments. `add` and `remove` change the corpus and update in
one step. All three hold the index folder's build lock throughout."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__
from ..config import Settings
from ..ingest import (CATALOG_NAME, CorpusError, Skip, corpus_hashes, load_catalog, read_bytes,
                      scan)
from . import disk
from .lock import build_lock
from .segment import file_hash, fingerprint, make_segment, segment_key

REMOVED = "removed"  # index/removed/: where `qa remove` puts a file, out of the corpus, not lost


class BadInput(ValueError):
    """A path or document given to add or remove that cannot be used; nothing was changed."""


@dataclass
class BuildReport:
    path: Path | None  # the new build folder; None when the index was already up to date
    documents: int
    passages: int
    unchanged: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded: int = 0  # passages embedded by this build
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = [f"{self.unchanged} unchanged"] + [
            f"{len(x)} {what}" for x, what in ((self.added, "added"), (self.changed, "changed"),
                                               (self.removed, "removed")) if x]
        head = "built index" if self.path else "index up to date"
        tail = f", {len(self.skipped)} file(s) skipped" if self.skipped else ""
        return (f"{head}: {self.documents} documents, {self.passages} passages ("
                f"{', '.join(counts)}, {self.embedded} passage{'' if self.embedded == 1 else 's'} "
                f"embedded), "
                f"{self.seconds:.1f} s{tail}")


def build(settings: Settings, full: bool = False, wait: bool = True,
          progress: Callable[[str], None] | None = None, encoder=None) -> BuildReport:
    """Update the index from the corpus (from scratch with full=True)."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    with build_lock(settings.index_dir, wait, say):
        return _update(settings, full, say, encoder, t0)


def add(settings: Settings, paths: list[Path], wait: bool = True,
        progress: Callable[[str], None] | None = None, encoder=None) -> BuildReport:
    """Copy files into the corpus and update the index. Every file is checked first (it
    exists, is indexable, does not clash with a different corpus file); on any problem
    nothing is copied."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus}")
    with build_lock(settings.index_dir, wait, say):
        catalog = load_catalog(corpus)
        chosen: dict[str, bytes] = {}
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as e:
                raise BadInput(f"cannot read {path}: {e.strerror or e}") from None
            name = path.name
            if name.startswith(".") or name == CATALOG_NAME or name in chosen:
                raise BadInput(f"cannot add {path}: its name {name!r} is taken or reserved")
            try:
                read_bytes(name, data, catalog.get(name))
            except Skip as e:
                raise BadInput(f"cannot add {path}: {e}") from None
            target = corpus / name
            if target.exists() and target.read_bytes() != data:
                raise BadInput(f"the corpus already holds a different {name}; "
                               f"'qa remove {name}' first to replace it")
            chosen[name] = data
        fresh = [name for name in chosen if not (corpus / name).exists()]
        for name, data in chosen.items():
            try:
                disk._write_atomic(corpus / name, data)
            except OSError as e:  # a read-only or full corpus folder: no index's failure
                raise CorpusError(f"cannot write {corpus / name}: {e.strerror or e}") from None
        try:
            # What the build's scan refuses (over the size limit, a document id another file
            # has) is refused now, before the catalog or the index changes; left in the corpus
            # it would stop every later build.
            refused = [f"{n}: {why}" for n, why in scan(corpus, settings.max_file_bytes)[1]
                       if n in chosen]
            if refused:
                raise BadInput(f"cannot add {refused[0]}")
        except (BadInput, CorpusError) as e:
            for name in fresh:
                (corpus / name).unlink(missing_ok=True)
            raise BadInput(f"cannot add: {e}" if isinstance(e, CorpusError) else str(e)) from None
        _move_entries(settings.index_dir / REMOVED / CATALOG_NAME, corpus / CATALOG_NAME,
                      list(chosen))
        report = _update(settings, False, say, encoder, t0)
        lost = [s for s in report.skipped if s.split(":", 1)[0] in chosen]
        if lost:  # the corpus scan would not take it (a format the folder does not index)
            raise BadInput(f"copied but not indexed: {lost[0]}")
        return report


def remove(settings: Settings, targets: list[str], wait: bool = True,
           progress: Callable[[str], None] | None = None, encoder=None) -> BuildReport:
    """Take documents out of the collection and update the index: each target is a file name
    in the corpus, else a path to the file, else a doc id. Their files move to
    index/removed/, so nothing is lost; unknown names change nothing."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    corpus = settings.corpus_dir
    with build_lock(settings.index_dir, wait, say):
        prev = disk.previous(settings.index_dir) or {}
        by_id = {e["doc_id"]: e["path"] for e in prev.get("segments", [])}
        names = []
        for t in targets:
            name = _corpus_name(corpus, t) or by_id.get(t)
            if name is None or name == CATALOG_NAME or not (corpus / name).is_file():
                # The catalog is no paper: taken out, every paper would lose its metadata.
                raise BadInput(f"no document {t!r} in {corpus}: give a doc id, a file name "
                               "in the corpus or a path to the file ('qa info' lists them)")
            names.append(name)
        if prev and not set(by_id.values()) - set(names):
            raise BadInput("that would remove every document; an index needs at least one")
        bin_ = settings.index_dir / REMOVED
        names = list(dict.fromkeys(names))
        for name in names:
            (bin_ / name).parent.mkdir(parents=True, exist_ok=True)
            _keep_earlier(bin_ / name, corpus / name)
            os.replace(corpus / name, bin_ / name)
        # The catalog may not name a missing file: the entries go with the files.
        _move_entries(corpus / CATALOG_NAME, bin_ / CATALOG_NAME, names)
        return _update(settings, False, say, encoder, t0)


def _corpus_name(corpus: Path, target: str) -> str | None:
    """The name in the corpus of the paper `target` gives: as that name, or as a path to the
    file (absolute, or from the working folder); None when it is no file in the corpus. The
    name is where the file really is, its folders' links followed (".." after a link is not
    where the text says); a path taken for the name would move the file onto itself and
    report a removal that never happened."""
    root = corpus.resolve()
    for path in (corpus / target, Path(target)):
        if not path.is_file():
            continue
        real = Path(os.path.realpath(path.parent)) / path.name
        if real.is_relative_to(root) and real.resolve().is_relative_to(root):
            return real.relative_to(root).as_posix()
    return None


def _update(settings: Settings, full: bool, say, encoder, t0: float) -> BuildReport:
    """The build itself; the caller holds the lock."""
    from ..embed import encoder_for

    index_dir, corpus = settings.index_dir, settings.corpus_dir
    fp = fingerprint(settings)
    prev = None if full else disk.previous(index_dir)
    if prev and any(prev.get(k) != v for k, v in fp.items()):
        say("the model, encoder or chunker settings changed: rebuilding every document")
        prev = None
    reusable = {e["key"]: e for e in (prev or {}).get("segments", [])
                if _intact(index_dir / e["file"], e)}
    before = {e["path"]: e["key"] for e in (prev or {}).get("segments", [])}

    files: dict[str, str] = {}
    catalog_path = corpus / CATALOG_NAME
    if catalog_path.exists():
        # Hashed before it is parsed: a catalog changed in between shows as stale, never
        # the reverse.
        files[CATALOG_NAME] = file_hash(catalog_path.read_bytes())
    catalog = load_catalog(corpus)
    paths, skipped_pairs = scan(corpus, settings.max_file_bytes)
    skipped = [f"{n}: {why}" for n, why in skipped_pairs]
    if skipped_pairs:  # hashed all the same, as staleness does, or they would look stale for ever
        now = corpus_hashes(corpus)
        files.update((n, now.get(n, "unreadable")) for n, _ in skipped_pairs)
    entries, embedded = [], 0
    enc = encoder
    for path in paths:
        name = path.relative_to(corpus).as_posix()
        try:
            data = path.read_bytes()
        except OSError as e:
            skipped.append(f"{name}: unreadable ({e.strerror or e})")
            files[name] = "unreadable"
            continue
        sha = files[name] = file_hash(data)  # hashed as read: what the index holds
        entry = catalog.get(name)
        key = segment_key(name, sha, entry, fp)
        if key in reusable:
            e = reusable[key]
        elif not full and (e := disk.stored_segment(index_dir, key)) is not None:
            pass  # built before (a paper removed and added back, a build cut short)
        else:
            if enc is None:
                enc = encoder_for(settings)
            try:
                seg = make_segment(name, data, entry, settings, enc)
            except Skip as err:
                skipped.append(f"{name}: {err}")
                continue
            e = disk.write_segment(index_dir, seg)
            embedded += len(seg.passages)
            say(f"embedded {len(seg.passages)} passages of {name}")
        entries.append(e)
    if not entries:
        raise CorpusError(f"no readable documents in {corpus}")
    for s in skipped:
        say(f"warning: skipped {s}")

    now = {e["path"]: e["key"] for e in entries}
    report = BuildReport(
        None, len(entries), sum(e["passages"] for e in entries),
        unchanged=sum(1 for n, k in now.items() if before.get(n) == k),
        added=sorted(set(now) - set(before)), removed=sorted(set(before) - set(now)),
        changed=sorted(n for n, k in now.items() if n in before and before[n] != k),
        embedded=embedded, skipped=skipped)
    if prev and prev.get("files") == files and not (report.added or report.changed
                                                     or report.removed):
        report.seconds = time.perf_counter() - t0
        return report
    manifest = {
        **fp,
        "package_version": __version__,
        "dimensions": entries[0]["dimensions"],
        "files": files,
        "skipped": skipped,
        "segments": entries,
        "documents": report.documents,
        "passages": report.passages,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    report.path = disk.save(index_dir, manifest)
    disk.collect(index_dir)
    report.seconds = time.perf_counter() - t0
    return report


def _keep_earlier(removed: Path, leaving: Path) -> None:
    """A paper removed before under the same name, with other bytes, moves aside to the first
    free `<name>.<n>` rather than be overwritten: a replaced paper removed twice loses neither."""
    if not removed.exists() or removed.read_bytes() == leaving.read_bytes():
        return
    n = 1
    while removed.with_name(f"{removed.name}.{n}").exists():
        n += 1
    os.replace(removed, removed.with_name(f"{removed.name}.{n}"))


def _move_entries(source: Path, target: Path, names: list[str]) -> None:
    """Move the catalog entries of these files from one catalog file to another (a removed
    paper's entry is kept beside it, and comes back when the paper is added again)."""
    if not source.exists():
        return
    src = json.loads(source.read_text(encoding="utf-8"))
    moving = {n: src["documents"].pop(n) for n in names if n in src.get("documents", {})}
    if not moving:
        return
    dst = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    dst.setdefault("documents", {}).update(moving)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The target first: killed in between, an entry is in both places, never in neither.
    disk._write_atomic(target, json.dumps(dst, ensure_ascii=False, indent=1).encode())
    disk._write_atomic(source, json.dumps(src, ensure_ascii=False, indent=1).encode())


def _intact(path: Path, entry: dict) -> bool:
    """A segment to reuse must still be there at its recorded size; its checksum is checked
    whenever the index is loaded."""
    try:
        return path.stat().st_size == entry.get("bytes")
    except OSError:
        return False
