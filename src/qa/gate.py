"""One search at a time in a server process, in the order the searches came.

A search is Python holding the interpreter's lock but for its encode. Several run side by
side in one process only take that lock from each other, mid-search, every few milliseconds,
and a search may wait on it well after its turn: four clients on two cores saw a p95 of 25 ms
with threads in one process, 22 ms with a process a core, and 18-20 ms with a process a core
each running its searches one after another (eval/README.md, "Round 8"). A plain Lock would
do the one at a time but not the order: the thread that just released it can take it again
at once, and a search that came first may wait behind several that came after.
"""
from __future__ import annotations

import threading
from collections import deque


class Gate:
    """A lock handed over first come, first served."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self._held = False

    def __enter__(self) -> None:
        with self._lock:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by __exit__ of the search before it: the gate is ours

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # handed over: never free in between
            else:
                self._held = False
