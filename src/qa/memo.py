"""Work done once per index served, forgotten with it."""
from __future__ import annotations

import functools
import threading
import weakref


def per_object(fn):
    """fn(obj), computed once per object while the object lives. An lru_cache would keep the
    index it was keyed by alive after a switch; here the entry goes with the last reference."""
    cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    @functools.wraps(fn)
    def get(obj):
        with lock:
            found = cache.get(obj)
        if found is None:
            found = fn(obj)  # outside the lock: two first requests may both compute, both right
            with lock:
                found = cache.setdefault(obj, found)
        return found

    return get
