"""The gate a server process's short searches take turns at (qa.gate), alone and under the
real server: first come first served, and only short searches wait at it."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from qa.gate import Gate
from qa.processes import Workers
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
    """The server as one forked worker of several has it (the gate is theirs alone)."""
    s = make_server(searcher, replace(settings, read_timeout=5.0), "127.0.0.1", 0,
                    workers=Workers(1, 1))
    threading.Thread(target=s.run, daemon=True).start()
    yield s, s.guard.gate
    s.close()


def test_one_process_alone_has_no_gate(searcher, settings):
    """Alone, a process overlaps one search's encode with another's Python (eval/README.md)."""
    s = make_server(searcher, settings, "127.0.0.1", 0)
    try:
        assert not isinstance(s.guard.gate, Gate)
    finally:
        s.close()


def test_only_short_searches_wait_at_the_gate(served):
    """While the gate is held: a short question waits for it, on the API and on the page;
    a heavy search (its own lane: a long question, many passages, or a question long in
    bytes), a document list and the health check do not."""
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
        assert get(server.port, "/api/search?q=" + "%E5%8D%92" * 70)[0] == 200  # 210 bytes
        assert get(server.port, "/api/documents")[0] == 200
        assert get(server.port, "/healthz")[0] == 200
        time.sleep(0.3)
        assert got == {}, "a short search ran while the gate was held"
    for t in short:
        t.join(10)
    assert got == {"api": 200, "page": 200}


@pytest.mark.parametrize("cpus, cpu_max, expected", [
    (2, None, 2),                  # no control group file
    (8, "max 100000", 4),          # no quota: the cores, at most MOST_BY_CORES
    (8, "150000 100000", 2),       # a quota of 1.5 CPUs: two processes
    (2, "50000 100000", 1),        # half a CPU
    (1, "400000 100000", 1),       # the CPU set is the tighter
])
def test_workers_default_to_one_per_core_this_process_may_use(monkeypatch, tmp_path, cpus,
                                                               cpu_max, expected):
    import os

    from qa.processes import worker_count

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    if cpu_max:
        (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    assert worker_count(0, tmp_path) == expected
    assert worker_count(3, tmp_path) == 3  # asked for: as asked


def test_workers_default_to_one_where_the_cores_are_unknown(monkeypatch):
    import os

    from qa.processes import worker_count

    monkeypatch.delattr(os, "sched_getaffinity")
    assert worker_count(0) == 1
