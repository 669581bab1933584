"""One build at a time per index folder: an advisory lock the kernel drops when its holder
dies, so a killed build never leaves the folder locked."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .errors import BuildBusy, unwritable

LOCK = ".lock"


@contextmanager
def build_lock(index_dir: Path, wait: bool = True, say: Callable[[str], None] = lambda m: None):
    """Hold the index folder's build lock; wait for it (saying so) or raise BuildBusy, or
    IndexUnwritable when the folder cannot be written (a read-only mount)."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / LOCK, "a+")
    except OSError as e:
        raise unwritable(index_dir, e) from None
    with lock as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            if not wait:
                raise BuildBusy(f"another build of {index_dir} is running (pid {holder}); "
                                "wait for it to finish or leave out --no-wait") from None
            say(f"waiting for another build of {index_dir} (pid {holder}) to finish")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
