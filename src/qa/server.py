"""The WSGI server in front of the app: waitress, with limits that keep a few hostile or
heavy clients from shutting out the rest, one face for every error it sends, a Host check,
and one log line per request.

Why waitress rather than cheroot or gunicorn: its connections wait in one event loop and
take a worker thread only once a whole request has arrived, so held sockets cost a file
descriptor, not a worker; and its channel, parser and error task are classes meant to be
replaced, which is all the limits and error faces below need (eval/README.md, "Serving").
"""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from contextlib import nullcontext
from urllib.parse import parse_qs

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import Error

from .config import HEAVY_K
from .gate import Gate
from .processes import (ServeError, Workers, exit_on_sigterm, fork_workers, listen,
                        worker_count)
from .web import INTERNAL_ERROR, SECURITY_HEADERS, Fixed, create_app, render_error

log = logging.getLogger("qa.requests")

# A search is heavy when its question is long or it asks for many passages: encoding up to
# 256 tokens and highlighting 50 passages costs several light searches (eval/load.py --heavy).
# Long in UTF-8 bytes, not characters: a character of another script is a token or more
# (200 Chinese characters took 31 ms against 1.8 for a usual question).
HEAVY_BYTES = 200
SEARCH_PATHS = ("/api/search", "/search")
# Worker threads a heavy search may never take (waiting for its slot or running): those stay
# free for short questions however many long ones queue.
LIGHT_THREADS = 4
# A connection over its client's cap gets this long to say what it wants, then its 503.
OVER_CAP_SECONDS = 1.0
MAX_REQUEST_BODY = 64 * 1024  # the API reads no bodies; this bounds what is drained
MAX_REQUEST_HEADERS = 16 * 1024


class Busy(Error):
    code = 503
    reason = "Service Unavailable"


# --- the host check, the heavy lane, the log line: a WSGI layer round the app -------------

def host_name(host_header: str) -> str:
    """The name part of a Host header, lower case, without port or trailing dot; "" when
    what follows the name is no port number ("localhost:99999"), which no host answers to."""
    h, port = host_header.strip().lower(), ""
    if h.startswith("["):  # [::1]:8000
        h, bracket, rest = h[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return ""  # "[::1" or "[::1]8000": no Host at all
        port = rest[1:]
    elif h.count(":") == 1:
        h, port = h.split(":", 1)
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return ""
    return h.rstrip(".")


def is_heavy(args: dict[str, list[str]]) -> bool:
    """A search's arguments (parse_qs) ask for a heavy one."""
    k = args.get("k", [""])[0]
    return (len(args.get("q", [""])[0].encode("utf-8", "surrogatepass")) > HEAVY_BYTES
            or (k.isascii() and k.isdigit() and int(k) > HEAVY_K))


class Guard:
    """The app behind three checks: a Host it answers to, a bounded number of heavy searches
    at once (so short questions keep a core), and no exception reaching the server; and one
    log line for each request. In a forked worker, short searches take turns at the
    process's gate; heavy ones keep to their own lane beside it, so a short question never
    waits behind a long one."""

    def __init__(self, app, allowed_hosts, heavy, heavy_waiting: int,
                 log_line, in_flight=nullcontext, gate=nullcontext()):
        self.app = app  # the Flask app: also what draws the error pages
        # Held for each request being served: the encoder gives a question more threads
        # when it is the only one (embed.ByLoad).
        self.in_flight = in_flight
        self.allowed = frozenset(allowed_hosts)
        self.heavy = heavy  # a semaphore: the heavy searches that may run at once
        self.heavy_waiting = heavy_waiting
        self.gate = gate  # gate.Gate in a forked worker: its short searches one at a time
        self._waiting = 0
        self._lock = threading.Lock()
        self.log_line = log_line

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        args = parse_qs(environ.get("QUERY_STRING", ""))  # once: the log line and the lane
        status = []

        def start(s, headers, exc_info=None):
            status.append(s)
            return start_response(s, headers, exc_info)

        try:
            with self.in_flight():
                body = self._answer(environ, start, path, args)
        finally:
            self.log_line(environ.get("REQUEST_METHOD", ""), path,
                          len(args.get("q", [""])[0]),
                          int(status[-1][:3]) if status else 500,
                          (time.perf_counter() - t0) * 1000)
        return body

    def _answer(self, environ, start, path, args):
        if host_name(environ.get("HTTP_HOST", "")) not in self.allowed:
            # The Host is not repeated: it is the attacker's text (DNS rebinding, cache poison).
            return self._error(start, 400, "host_not_allowed",
                               "This server does not answer to that host name.", path)
        if path == "*" and environ.get("REQUEST_METHOD") == "OPTIONS":
            # "OPTIONS *" asks what the server as a whole takes (RFC 9110, 9.3.7).
            start("204 No Content", [("Allow", "GET, HEAD, OPTIONS"), *SECURITY_HEADERS])
            return []
        if path not in SEARCH_PATHS:
            return self._run(environ, start, path)
        if not is_heavy(args):
            with self.gate:
                return self._run(environ, start, path)
        with self._lock:
            if self._waiting >= self.heavy_waiting:
                return self._error(start, 503, "busy", "Too many long searches at once; "
                                   "try again in a moment.", path, [("Retry-After", "1")])
            self._waiting += 1
        try:
            with self.heavy:
                return self._run(environ, start, path)
        finally:
            with self._lock:
                self._waiting -= 1

    def _run(self, environ, start, path):
        try:
            # Flask answers in full here (no streamed bodies), so the list is the whole work
            # and an exception can still be answered in the app's face.
            result = self.app(environ, start)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            logging.getLogger("qa.server").exception("the app failed")
            return self._error(start, 500, "internal_error", INTERNAL_ERROR, path,
                               exc_info=sys.exc_info())

    def _error(self, start, status, code, message, path, extra=(), exc_info=None):
        line, headers, body = render_error(self.app, status, code, message, path)
        start(line, headers + list(extra), exc_info)
        return [body]


def log_writer(fmt: str):
    """The log_line function for a format: text or one JSON object a line. The path is the
    client's text: shortened and escaped, so it cannot forge a line of its own."""
    def safe(path: str) -> str:
        return path[:200].encode("latin-1", "replace").decode("ascii", "backslashreplace")

    def text(method, path, q_chars, status, ms):
        q = f" q_chars={q_chars}" if q_chars else ""
        log.info("%s %s%s %d %.1fms", safe(method), safe(path), q, status, ms)

    def jsonl(method, path, q_chars, status, ms):
        log.info(json.dumps({"time": round(time.time(), 3), "method": safe(method),
                             "path": safe(path), "q_chars": q_chars, "status": status,
                             "ms": round(ms, 1)}))
    return jsonl if fmt == "json" else text


class JsonLines(logging.Formatter):
    """QA_LOG_FORMAT=json: every line one JSON object, for a log collector. A request's line
    is one already (log_writer); the server's other messages (an index switched to, a
    failure and its traceback) are put in one."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == log.name:
            return record.getMessage()
        out = {"time": round(record.created, 3), "level": record.levelname.lower(),
               "message": record.getMessage()}
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out)


# --- waitress, with connection limits and the errors it makes itself in the app's face ------

class Parser(HTTPRequestParser):
    head = b""  # the first bytes: where a request too big to parse was going

    def received(self, data):
        if not self.head:
            self.head = bytes(data[:512])
        return super().received(data)

    def target(self) -> tuple[str, str]:
        """Method and path from the request line, even when the request failed to parse."""
        m = re.match(rb"([A-Za-z]{1,20}) +(?:https?://[^/\s]*)?(/[^\s?#]*)", self.head)
        if not m:
            return "", ""
        return m.group(1).decode("ascii"), m.group(2).decode("latin-1")


class Limits:
    """What the server's channels share: connections per client address, the request
    deadline, the app that draws error pages and the request log; with several worker
    processes, what they share."""

    def __init__(self, settings, flask_app, log_line, workers: Workers | None = None):
        self.cap, self.read_timeout = settings.max_per_client, settings.read_timeout
        self.flask_app, self.log_line, self.workers = flask_app, log_line, workers
        self.per_client: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, client: str) -> bool:
        """Count a new connection; True when it is over its client's cap."""
        with self._lock:
            if self.workers:
                self.workers.opened()
            n = self.per_client.get(client, 0) + 1
            self.per_client[client] = n
            return n > self.cap

    def release(self, client: str) -> None:
        with self._lock:
            if self.workers:
                self.workers.closed()
            n = self.per_client.get(client, 1) - 1
            if n:
                self.per_client[client] = n
            else:
                self.per_client.pop(client, None)

    def overdue(self, channels, now: float) -> None:
        """Close the connections owing a request for longer than allowed. waitress drops one
        only after it has been silent a while, so a byte now and then kept it for ever."""
        for ch in channels:
            if ch.requests or ch.total_outbufs_len or not isinstance(ch, Channel):
                continue
            limit = OVER_CAP_SECONDS if ch.over_cap else self.read_timeout
            if now - ch.waiting_since > limit:
                ch.will_close = True


class FaceErrorTask(ErrorTask):
    """waitress's own errors (bad request line, headers too large, a busy client) in the same
    face as the app's: JSON on the API, the HTML error page elsewhere, security headers."""

    def execute(self):
        e, limits = self.request.error, self.channel.limits
        method, path = (self.request.target() if isinstance(self.request, Parser)
                        else ("", ""))
        code = {400: "bad_request", 431: "headers_too_large", 413: "request_too_large",
                503: "busy"}.get(e.code, "error")
        message = {400: "The request could not be read: its request line or headers are "
                        "malformed.",
                   431: "The request line or headers are too long.",
                   503: "Too many connections from your address; try again shortly."
                   }.get(e.code, f"{e.reason}.")
        line, headers, body = render_error(limits.flask_app, e.code, code, message, path)
        self.status = line
        self.response_headers.extend(h for h in headers if h[0].lower() != "connection")
        if e.code == 503:
            self.response_headers.append(("Retry-After", "5"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        limits.log_line(method, path, 0, e.code, 0.0)


class Channel(HTTPChannel):
    parser_class = Parser
    error_task_class = FaceErrorTask
    counted = False

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        self.limits = server.limits
        self.client = addr[0] if isinstance(addr, tuple) else str(addr)
        self.waiting_since = time.monotonic()  # since when a whole request is owed
        self.over_cap = self.limits.admit(self.client)
        self.counted = True

    def service(self):
        if self.over_cap and self.requests and not self.requests[0].error:
            self.requests[0].error = Busy("too many connections from one address")
        super().service()
        self.waiting_since = time.monotonic()

    def del_channel(self, map=None):
        if self.counted:
            self.counted = False
            self.limits.release(self.client)
        super().del_channel(map)


class _LastIdleFirst(threading.Condition):
    """Wakes the thread that went idle last. waitress wakes the one idle longest, so requests
    one after another rotate through every worker thread, each finding the CPU caches and
    onnxruntime's per-thread state of a thread that has not run for fifteen requests: a lone
    client's p50 was 8.2-8.5 ms that way and 5.7-6.3 ms this way (eval/README.md, "Serving").
    Written against CPython's Condition (its waiter locks in _waiters, oldest first)."""

    def notify(self, n=1):
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self._waiters
        while waiters and n > 0:
            waiter = waiters.pop()
            try:
                waiter.release()
            except RuntimeError:
                continue
            n -= 1


class _Dispatcher(ThreadedTaskDispatcher):
    def __init__(self):
        super().__init__()
        self.queue_cv = _LastIdleFirst(self.lock)


class Server:
    """waitress's TCP server with a cap per client address and a deadline for each request."""

    def __init__(self, guard: Guard, host: str, port: int, settings, sockets=None,
                 workers: Workers | None = None):
        where = {"sockets": sockets} if sockets else {"host": host, "port": port}
        dispatcher = _Dispatcher()
        dispatcher.set_thread_count(settings.threads)
        inner = create_server(
            guard, **where, _dispatcher=dispatcher, threads=settings.threads, ident="planqa",
            connection_limit=settings.max_connections,
            channel_timeout=max(1, int(settings.read_timeout)), cleanup_interval=1,
            asyncore_use_poll=True, max_request_body_size=MAX_REQUEST_BODY,
            max_request_header_size=MAX_REQUEST_HEADERS, expose_tracebacks=False)
        # waitress builds its server itself: the channel class and the hooks go on the instance.
        inner.channel_class = Channel
        inner.limits = limits = Limits(settings, guard.app, guard.log_line, workers)
        idle_check = inner.maintenance
        if workers:
            accept = inner.handle_accept

            def handle_accept():
                # The listening socket does not block: a connection a less busy worker took
                # meanwhile is simply not there to accept.
                workers.defer(inner.socket)
                accept()

            inner.handle_accept = handle_accept

        def maintenance(now):
            idle_check(now)
            limits.overdue(list(inner.active_channels.values()), time.monotonic())

        inner.maintenance = maintenance
        self.inner, self.guard = inner, guard

    @property
    def port(self) -> int:
        return int(self.inner.effective_port)

    def run(self) -> None:
        self.inner.run()

    def close(self) -> None:
        self.inner.close()
        self.inner.task_dispatcher.shutdown()


def allowed_hosts(settings, host: str) -> tuple[str, ...]:
    extra = () if host in ("", "0.0.0.0", "::") else (host_name(host),)
    return tuple(settings.allowed_hosts) + extra


def make_server(source, settings, host: str | None = None, port: int | None = None,
                sockets=None, in_flight=nullcontext, workers: Workers | None = None) -> Server:
    """The server over `source` (a Searcher, or anything with current()), bound (or on the
    listening `sockets` given) but not yet running; port 0 picks a free one (tests, eval).
    in_flight: a context held while each request is served (the encoder's request count);
    workers: what it shares with the other worker processes on the same sockets."""
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    app = create_app(source)
    heavy = workers.heavy if workers else threading.BoundedSemaphore(settings.heavy_slots)
    guard = Guard(app, allowed_hosts(settings, host), heavy,
                  heavy_waiting=max(1, settings.threads - LIGHT_THREADS),
                  log_line=log_writer(settings.log_format), in_flight=in_flight,
                  # One process alone overlaps one search's encode with another's Python: the
                  # gate would cost it that ("4 at once" 19.6 -> 26.6 ms, eval/README.md).
                  gate=Gate() if workers else nullcontext())
    return Server(guard, host, port, settings, sockets, workers)


def serve(source, host: str, port: int, settings) -> None:
    """Serve until interrupted; the index stays loaded between requests. With
    settings.workers > 1 the index is loaded once and that many processes are forked to
    share the listening socket and, copy-on-write, the index's memory."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if settings.log_format == "json"
                         else logging.Formatter("%(asctime)s %(message)s"))
    for logger in (log, logging.getLogger("qa.server")):  # requests; switches and failures
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if not hasattr(source, "current"):
        source = Fixed(source)
    # The source's searcher as it stands (web.Fixed, store.Live): current() would start the
    # index watcher here, in a parent that may only fork the workers.
    searcher = source.searcher
    searcher.warm()  # before the fork: done once, for every process
    in_flight = getattr(searcher.encoder, "request", nullcontext)

    def serving(**where) -> Server:
        server = make_server(source, settings, host, port, in_flight=in_flight, **where)
        # In the process that serves (each forked worker), bound and before its first
        # request: a live source's index watcher starts with current(), and a worker not yet
        # asked anything would otherwise never see a new build, nor its first visitor get it.
        source.current()
        return server

    count = worker_count(settings.workers)
    if count == 1:
        server = _bound(host, port, serving)
        print(f"planqa: serving on http://{host}:{server.port}/", flush=True)
        # Waitress stops its threads and returns, as on Ctrl-C: status 0 as the forked
        # server's, not "killed by SIGTERM" (143).
        exit_on_sigterm()
        server.run()
        return
    listener = _bound(host, port, lambda: listen(host, port))
    fork_workers(count, settings.heavy_slots, listener,
                 lambda workers: serving(sockets=[listener], workers=workers),
                 f"http://{host}:{listener.getsockname()[1]}/")


def _bound(host: str, port: int, bind):
    """bind(), its address errors as ServeError: the port taken, an address not this
    machine's, a host name that does not resolve (waitress raises ValueError for that)."""
    try:
        return bind()
    except (OSError, ValueError) as e:
        raise ServeError(f"cannot listen on {host}:{port}: "
                         f"{getattr(e, 'strerror', None) or e}") from None
