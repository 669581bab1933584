"""A searcher source that follows the index: a running server switches to a new build by
itself, between requests.

A watcher thread looks at the CURRENT pointer's inode, size and modification time every few
seconds (a stat, not a hash of the corpus); when it changes, it loads the new index beside the
one being served, then swaps one reference. A request reads the source once (web.create_app
keeps the searcher for the whole request), so it sees either index whole, never a mix; the old
index is freed when the last request using it ends (and the web page caches let it go). A
new index that cannot be loaded is logged and the old one kept.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import threading
import time
from pathlib import Path

from ..config import Settings
from .disk import POINTER, current_name
from .errors import IndexError_
from .index import Index
from .segment import fingerprint


def pointer_stamp(index_dir: Path) -> tuple | None:
    try:
        st = os.stat(index_dir / POINTER)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Live:
    def __init__(self, settings: Settings, searcher=None, every: float | None = None,
                 log=None):
        from ..search import Searcher

        self.settings = settings
        self.every = settings.reload_seconds if every is None else every
        # The server's log (qa serve: text or JSON lines, QA_LOG_FORMAT); one write a
        # message, so another server process's line cannot land inside it.
        self._log = log or logging.getLogger("qa.server").info
        # Taken before loading, so a swap during the load is seen; with a searcher loaded
        # earlier, none: the first check compares CURRENT's name with the index served.
        self._stamp = None if searcher else pointer_stamp(settings.index_dir)
        self._searcher = searcher or Searcher(Index.load(settings.index_dir), settings)
        self.switched_at: str | None = None  # ISO time of the last switch; None: never
        self.switches = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watching_pid: int | None = None
        self._starting = threading.Lock()

    @property
    def searcher(self):
        """The searcher served now, without starting a watcher in this process: a parent that
        only forks the workers (QA_WORKERS) must not load every new build for nothing."""
        return self._searcher

    def current(self):
        if self._watching_pid != os.getpid():
            with self._starting:  # the first requests of a process may come side by side
                if self._watching_pid != os.getpid():
                    self.start()
        return self._searcher

    def start(self) -> "Live":
        """Watch CURRENT from this process. Started by the first current() in each process:
        a server forking workers (QA_WORKERS) gives each child its own watcher, since a
        thread does not survive a fork."""
        self._watching_pid = os.getpid()
        self._thread = threading.Thread(target=self._watch, name="qa-index-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.check()
            except Exception as e:  # the watcher must outlive any one bad build
                self._log(f"planqa: could not check for a new index ({type(e).__name__}: {e})")

    def check(self) -> bool:
        """Switch to the index CURRENT names if it is not the one served; whether it switched."""
        from ..search import Searcher

        stamp = pointer_stamp(self.settings.index_dir)
        if stamp == self._stamp:
            return False
        self._stamp = stamp  # a pointer that cannot be loaded is reported once, not every tick
        served = self._searcher
        try:
            if served.index.path is not None and \
                    current_name(self.settings.index_dir) == served.index.path.name:
                return False
            index = Index.load(self.settings.index_dir)
            new = Searcher(index, self.settings, encoder=served.encoder, synonyms=served.synonyms)
        except IndexError_ as e:
            self._log(f"planqa: keeping index {_name(served)}: the new one cannot be loaded ({e})")
            return False
        if "encoder" in index.built_otherwise(self.settings):
            # Its passages' vectors and this server's question vectors would come from two
            # encoders (a build run with another QA_ENCODER): they match less well.
            self._log(f"planqa: keeping index {_name(served)}: the new one, {index.path.name}, "
                      f"was encoded by {index.manifest.get('encoder')}, this server encodes "
                      f"questions by {fingerprint(self.settings)['encoder']}; restart the "
                      f"server with that encoder (QA_ENCODER, QA_ADAPTER) or build again with "
                      f"this one")
            del index, new
            _give_back_memory()
            return False
        new.warm()  # while the old index still answers, not in the first visitors' time
        self._searcher = new  # one reference swapped: the next request gets the new index
        self.switched_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.switches += 1
        self._log(f"planqa: switched to index {_name(new)} ({index.manifest['documents']} "
                  f"documents, {index.manifest['passages']} passages)")
        del served, index, new
        _give_back_memory()
        return True


def _give_back_memory() -> None:
    """Hand the heap freed by the load (the segments' bytes, parsed JSON, merge arrays) back to
    the system: glibc keeps freed small blocks for reuse, so without this a server's memory
    would settle tens of MB above one index after its first switches."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its allocator decides
        pass


def _name(searcher) -> str:
    return searcher.index.path.name if searcher.index.path is not None else "(in memory)"
