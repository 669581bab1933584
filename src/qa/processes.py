"""qa serve's worker processes (QA_WORKERS): forked once the index is loaded, sharing the
listening socket and, copy-on-write, the index's memory; each new connection to the least
busy; one heavy lane for all; every worker ending with the server, and the server with any
worker that fails."""
from __future__ import annotations

import gc
import logging
import math
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path


# Each worker holds its own copy of the index once a new build is switched to: a bound on
# what QA_WORKERS=0 spends on a large machine (set QA_WORKERS to go beyond it).
MOST_BY_CORES = 4


def worker_count(asked: int, cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """QA_WORKERS as a number of processes. 0: one per core this process may run on, since
    each process runs one search at a time (eval/README.md, "Round 8"): the cores of its CPU
    set, fewer if its control group's CPU quota allows fewer (a container's `--cpus`, a
    Kubernetes limit); 1 where the system does not say which cores (not Linux)."""
    if asked:
        return asked
    if not hasattr(os, "sched_getaffinity"):
        return 1
    cores = len(os.sched_getaffinity(0))
    quota = _cpu_quota(cgroup)
    if quota:
        cores = min(cores, math.ceil(quota))
    return max(1, min(cores, MOST_BY_CORES))


def _cpu_quota(cgroup: Path) -> float | None:
    """The CPUs' worth of time a control group may use (cgroup v2's cpu.max, "quota period"),
    or None: no limit, or none that can be read."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return int(quota) / int(period)
    except (OSError, ValueError):  # "max", no such file (cgroup v1, not Linux)
        return None


def exit_on_sigterm() -> None:
    """SIGTERM (a service manager's stop, `timeout`) ends this process as Ctrl-C does, with
    status 0. A second one (`timeout` signals the command, then its group) lands mid-stop:
    ignored, or it would raise inside the stop or the interpreter's shutdown ("Exception
    ignored ... SystemExit")."""
    def stop(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)


class ServeError(Exception):
    """The server cannot start or cannot go on: a one-line reason for the operator."""


class Workers:
    """What forked worker processes share, in memory made before the fork: their open
    connections, so that the least busy one takes the next, and the heavy lane, so that long
    searches hold one core of the machine, not one of each process.

    Workers accepting from one listening socket leave a connection to whichever wakes first:
    four keep-alive clients often all went to one worker (its loop accepts several in a row),
    which then served them one at a time on its GIL while the others stood idle
    (eval/README.md, "Serving")."""

    # How long a busier worker leaves a new connection to a less busy one at most: that one
    # may be slow to wake on a loaded machine, or be busy itself; then the connection is not
    # kept waiting any longer.
    DEFER_SECONDS = 0.01

    def __init__(self, count: int, heavy_slots: int):
        import multiprocessing

        shared = multiprocessing.get_context("fork")
        self.open = shared.RawArray("i", count)
        self.heavy = shared.BoundedSemaphore(heavy_slots)
        self.slot = 0
        # Only this process writes its slot, but from several threads.
        self._lock = threading.Lock()

    def opened(self) -> None:
        with self._lock:
            self.open[self.slot] += 1

    def closed(self) -> None:
        with self._lock:
            self.open[self.slot] -= 1

    def defer(self, listener: socket.socket) -> None:
        """Before taking a new connection: wait while another worker has fewer open, until
        one has taken it (nothing is pending on the listener) or DEFER_SECONDS have passed.
        The wait holds up this worker's other connections, so it ends as soon as it can."""
        deadline = time.monotonic() + self.DEFER_SECONDS
        while (self.open[self.slot] > min(self.open) and time.monotonic() < deadline
               and select.select([listener], [], [], 0)[0]):
            time.sleep(0.0005)


def fork_workers(count: int, heavy_slots: int, listener: socket.socket, make, url: str) -> None:
    """Serve on `listener` from `count` forked processes until interrupted; make(workers) is
    a worker's server, url what it serves. Raises ServeError when they cannot be started or
    one of them fails."""
    if not hasattr(os, "fork"):
        raise ServeError("QA_WORKERS above 1 needs a system that forks processes (Linux); "
                         "set QA_WORKERS=1")
    try:
        workers = Workers(count, heavy_slots)
    except OSError as e:  # no shared memory (a container without /dev/shm)
        raise ServeError(f"cannot share memory between server processes ({e}); "
                         f"set QA_WORKERS=1") from None
    children, parent = [], os.getpid()
    # What exists now (the index, every passage's facts) is left out of the collector's
    # passes, which write to each object they visit and so copy the pages the processes
    # share: a worker's private memory after a full pass was 20.6 MB without this, 4.4 with.
    gc.freeze()
    try:
        for slot in range(count):
            try:
                pid = os.fork()
            except OSError as e:
                raise ServeError(f"cannot start server process {slot + 1} of {count}: "
                                 f"{e.strerror}") from None
            if pid == 0:
                _work(parent, lambda: make(workers), workers, slot)
            children.append(pid)
        print(f"planqa: serving on {url} with {count} processes", flush=True)
        exit_on_sigterm()
        # Any worker's end is the server's: one killed (the OOM killer, an operator's `kill`)
        # or failed would leave its share of the connections, and any heavy-lane slot it held,
        # lost, so the rest stop too and a supervisor sees a failure to restart. Ctrl-C reaches
        # this process too and stops it here first, so no worker's end is an orderly one.
        pid, status = os.wait()
        how = _how(os.waitstatus_to_exitcode(status))
        raise ServeError(f"server process {pid} ended {how}: stopping the others")
    finally:
        # Stopping already, however it came (a worker's end, Ctrl-C): see exit_on_sigterm.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def listen(host: str, port: int) -> socket.socket:
    """A listening socket for the workers to share. socket.create_server would do, but its
    errors carry "(while attempting to bind ...)" into the one line `qa serve` prints."""
    # IPv4 unless the address is IPv6, as socket.create_server: "localhost" may resolve to
    # ::1 first, and a server reached at 127.0.0.1 must not then listen on IPv6 alone.
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, family=socket.AF_INET6 if ":" in host else socket.AF_INET,
        type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def _work(parent: int, make, workers: Workers, slot: int) -> None:
    """A forked worker's life: serve until told to stop, then exit 0; exit 1 on a failure,
    which stops the server (see fork_workers). Never returns into the caller's stack."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        _end_with(parent)
        workers.slot = slot
        make().run()  # Ctrl-C: waitress stops its threads and returns
        code = 0
    except BaseException:
        logging.getLogger("qa.server").exception("a server process failed")
    finally:
        os._exit(code)


def _end_with(parent: int) -> None:
    """Have this forked worker told to stop (SIGTERM) when the process that forked it ends,
    however it ends: killed outright, the parent cannot pass anything on, and orphaned
    workers would go on answering on its port. Linux's PR_SET_PDEATHSIG; elsewhere only a
    parent that is asked to stop stops them."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the request was made
        os._exit(0)


def _how(code: int) -> str:
    return f"on signal {signal.Signals(-code).name}" if code < 0 else f"with status {code}"
