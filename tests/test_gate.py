"""The gate a server process's short searches take turns at (qa.gate), alone and under the
real server: first come first served, and only short searches wait at it."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from qa.gate import Gate
from qa.server import make_server
from test_serving import get


def _queued(gate: Gate, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(gate._waiting) < n:  # noqa: SLF001 (how far a thread got is not public)
        assert time.monotonic() < deadline, "a thread never reached the gate"
        time.sleep(0.001)


def test_searches_pass_in_the_order_they_came():
    gate, order = Gate(), []

    def search(n: int) -> None:
        with gate:
            order.append(n)

    threads = []
    with gate:
        for n in range(8):
            threads.append(threading.Thread(target=search, args=(n,)))
            threads[-1].start()
            _queued(gate, n + 1)
    for t in threads:
        t.join(5)
    assert order == list(range(8))


def test_a_search_just_finished_does_not_go_again_before_one_waiting():
    """What a plain Lock gets wrong: the thread releasing it may take it straight back."""
    gate, order = Gate(), []

    def waiting() -> None:
        with gate:
            order.append("waiting")

    gate.__enter__()
    t = threading.Thread(target=waiting)
    t.start()
    _queued(gate, 1)
    gate.__exit__(None, None, None)
    with gate:
        order.append("again")
    t.join(5)
    assert order == ["waiting", "again"]


@pytest.fixture
def served(searcher, settings):
    s = make_server(searcher, replace(settings, read_timeout=5.0), "127.0.0.1", 0)
    threading.Thread(target=s.run, daemon=True).start()
    yield s, s.guard.gate
    s.close()


def test_only_short_searches_wait_at_the_gate(served):
    """While the gate is held: a short question waits for it, on the API and on the page;
    a heavy search (its own lane), a document list and the health check do not."""
    server, gate = served
    got = {}

    def ask(name: str, target: str) -> None:
        got[name] = get(server.port, target)[0]

    short = [threading.Thread(target=ask, args=(name, target)) for name, target in
             (("api", "/api/search?q=stroke+model"), ("page", "/search?q=stroke+model"))]
    with gate:
        for t in short:
            t.start()
        assert get(server.port, "/api/search?q=stroke+model&k=50")[0] == 200
        assert get(server.port, "/api/documents")[0] == 200
        assert get(server.port, "/healthz")[0] == 200
        time.sleep(0.3)
        assert got == {}, "a short search ran while the gate was held"
    for t in short:
        t.join(10)
    assert got == {"api": 200, "page": 200}


def test_workers_default_to_one_per_core_this_process_may_use():
    import os

    from qa.processes import MOST_BY_CORES, worker_count

    assert worker_count(0) == max(1, min(len(os.sched_getaffinity(0)), MOST_BY_CORES))
    assert worker_count(3) == 3
