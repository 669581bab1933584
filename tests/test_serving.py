"""The real app under its real server (qa.server): refused input, the Host check, the server's
own errors in the app's face, held sockets, settings errors, request logs, cached health."""
from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT, qa_cli, validate
from qa.search import Searcher
from qa.server import make_server
from qa.web import SECURITY_HEADERS, Staleness

READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(searcher, settings):
    s = make_server(searcher, replace(settings, read_timeout=READ_TIMEOUT, log_format="json"),
                    "127.0.0.1", 0)
    threading.Thread(target=s.run, daemon=True).start()
    yield s
    s.close()


def raw(port: int, data: bytes, source: str = "127.0.0.1", timeout: float = 10) -> bytes:
    """Send bytes as they are and read the whole answer (the sender runs beside the reader,
    since the server may answer before a large request is all sent)."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))

    def send():
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server answered and closed before reading it all: what is tested

    sender = threading.Thread(target=send)
    sender.start()
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    sender.join()
    sock.close()
    return out


def parse(response: bytes) -> tuple[int, dict, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def get(port: int, target: str, host: str = "localhost", method: str = "GET"):
    req = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    return parse(raw(port, req.encode("utf-8")))


def assert_face(status, headers, body, expected: int, api: bool) -> dict | None:
    assert status == expected
    for name, value in SECURITY_HEADERS:
        assert headers[name.lower()] == value
    if api:
        assert headers["content-type"] == "application/json"
        err = json.loads(body)["error"]
        assert err["code"] and err["message"]
        return err
    assert headers["content-type"].startswith("text/html")
    assert b"<!doctype html>" in body
    return None


@pytest.mark.parametrize("query", ["q=%00", "q=%01%1b%7f", "q=%20%09%0a", "q=%c2%85%c2%9f",
                                   "q=%E2%80%8B%EF%BB%BF",  # a zero-width space, a BOM
                                   "q=%3F%3F%3F", "q=%E2%80%94",  # "???", a dash: no words
                                   "q=stroke&k=1_0", "q=stroke&k=%D9%A5", "q=stroke&k=%205%20",
                                   "q=stroke&k=0", "q=stroke&k=51", "q=stroke&doc=nope",
                                   "q=stroke&area=Atlantis", "q=stroke&mode=magic"])
def test_refused_input_is_a_400_the_openapi_describes(server, spec, query):
    status, headers, body = get(server.port, f"/api/search?{query}")
    assert_face(status, headers, body, 400, api=True)
    validate(spec, "/api/search", 400, json.loads(body))


def test_control_characters_inside_a_question_part_words_and_go(server):
    status, _, body = get(server.port, "/api/search?q=stroke%00%1b%7f%0amodel")
    assert status == 200
    assert json.loads(body)["query"] == "stroke model"
    # A zero-width space parts words too; a soft hyphen inside one is dropped; a ligature
    # pasted from a PDF is its letters.
    status, _, body = get(server.port, "/api/search?q=stroke%E2%80%8Bser%C2%ADvices")
    assert status == 200 and json.loads(body)["query"] == "stroke services"
    status, _, body = get(server.port, "/api/search?q=%EF%AC%81nance")
    assert status == 200 and json.loads(body)["query"] == "finance"
    assert json.loads(body)["missing_terms"] == []
    status, _, body = get(server.port, "/api/search?q=stroke%00care")
    assert status == 200 and json.loads(body)["query"] == "stroke care"


def test_a_page_asked_no_words_asks_for_a_question(server):
    """Control characters alone are no question on the page either: it asks for one, rather
    than offering to search again for the same nothing."""
    for q in ("%01%1b", "%E2%80%8B"):
        status, _, body = get(server.port, f"/search?q={q}")
        assert status == 200 and b"Type a question to search the plans." in body
        assert b"in all the plans</a>" not in body
    # Punctuation alone is a question with no words: said so, with no offer to search the
    # same again; a bad filter beside it gets that offer.
    status, _, body = get(server.port, "/search?q=%3F%3F%3F")
    assert status == 400 and b"the query has no words" in body
    assert b"in all the plans</a>" not in body
    status, _, body = get(server.port, "/search?q=stroke&area=Atlantis")
    assert status == 400 and b"in all the plans</a>" in body
    status, _, body = get(server.port, "/search?q=%3F%3F%3F&area=Atlantis")
    assert status == 400 and b"in all the plans</a>" not in body


def test_k_as_plain_digits_is_read(server):
    status, _, body = get(server.port, "/api/search?q=stroke&k=07")
    assert status == 200 and json.loads(body)["k"] == 7


def test_options_says_what_a_path_allows(server):
    status, headers, body = get(server.port, "/api/search", method="OPTIONS")
    assert status == 204 and body == b""
    assert {"GET", "HEAD", "OPTIONS"} <= {m.strip() for m in headers["allow"].split(",")}


def test_options_star_says_what_the_server_allows(server):
    status, headers, body = get(server.port, "*", method="OPTIONS")
    assert status == 204 and body == b""
    assert {m.strip() for m in headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    assert headers["x-content-type-options"] == "nosniff"


FORGED = ["evil.example", "a" * 64 + ".example", "a..b", ".", "localhost.evil.example",
          "127.0.0.1.nip.io:8000", "localhost:99999", "localhost:80x", "[::1]:junk", "[::1",
          "[::1]8000"]


@pytest.mark.parametrize("host", FORGED)
def test_a_forged_host_gets_a_400_and_never_reaches_a_page(server, host):
    status, headers, body = get(server.port, "/api/search?q=stroke", host=host)
    err = assert_face(status, headers, body, 400, api=True)
    assert err["code"] == "host_not_allowed"
    status, headers, body = get(server.port, "/search?q=stroke", host=host)
    assert_face(status, headers, body, 400, api=False)
    if len(host) > 3:  # "." and "a..b" are in any page
        assert host.encode() not in body


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:8000", "localhost."])
def test_allowed_hosts_are_answered(server, host):
    status, _, body = get(server.port, "/search?q=stroke", host=host)
    assert status == 200 and b"stroke" in body.lower()


def test_allowed_hosts_come_from_the_setting(searcher, settings):
    s = make_server(searcher, replace(settings, allowed_hosts=("plans.example",)),
                    "127.0.0.1", 0)
    threading.Thread(target=s.run, daemon=True).start()
    try:
        assert get(s.port, "/healthz", host="plans.example")[0] == 200
        assert get(s.port, "/healthz", host="localhost")[0] == 400
        assert get(s.port, "/healthz", host="127.0.0.1")[0] == 200  # the address it listens on
    finally:
        s.close()


@pytest.mark.parametrize("path,api", [("/api/search?q=", True), ("/search?q=", False)])
def test_an_unreadable_request_gets_the_apps_face(server, path, api):
    # A raw 0xFF byte in the request line: waitress refuses it before the app sees it.
    status, headers, body = parse(raw(server.port, f"GET {path}".encode() +
                                      b"\xff HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    assert_face(status, headers, body, 400, api)


@pytest.mark.parametrize("path,api", [("/api/search?q=", True), ("/search?q=", False)])
def test_a_megabyte_url_gets_a_431_in_the_apps_face(server, path, api):
    status, headers, body = parse(raw(server.port, f"GET {path}".encode() + b"a" * 1_000_000 +
                                      b" HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    assert_face(status, headers, body, 431, api)


class Broken:
    """A source that cannot hand out a searcher (say, an index switch gone wrong)."""

    def current(self):
        raise RuntimeError("no index")


@pytest.mark.parametrize("path,api", [("/api/search?q=stroke", True), ("/", False),
                                      ("/search?q=stroke", False)])
def test_a_server_error_gets_the_apps_face(settings, path, api):
    s = make_server(Broken(), settings, "127.0.0.1", 0)
    threading.Thread(target=s.run, daemon=True).start()
    try:
        status, headers, body = get(s.port, path)
        assert_face(status, headers, body, 500, api)
        assert b"no index" not in body and b"Traceback" not in body
    finally:
        s.close()


def test_held_sockets_do_not_stop_another_client(server):
    """200 sockets from one address (127.0.0.2: loopback, another client to the server), each
    sending an unfinished request and a byte now and then, while 127.0.0.1 asks questions."""
    held = []
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", server.port))
        s.sendall(b"GET /api/search?q=stroke HTTP/1.1\r\nHost: localhost\r\n")
        s.setblocking(False)
        held.append(s)
    for i in range(5):
        status, _, body = get(server.port, f"/api/search?q=stroke+{i}")
        assert status == 200 and json.loads(body)["results"]
    # A byte a second does not keep a connection: a whole request is owed within the timeout.
    deadline, open_ = time.monotonic() + READ_TIMEOUT + 5, set(range(len(held)))
    while open_ and time.monotonic() < deadline:
        for n in list(open_):
            try:
                if held[n].recv(1024) == b"":
                    open_.discard(n)
            except BlockingIOError:
                try:
                    held[n].send(b"X")
                except OSError:
                    open_.discard(n)
            except OSError:
                open_.discard(n)
        time.sleep(0.3)
    for s in held:
        s.close()
    assert not open_, f"{len(open_)} trickling sockets still open"


def test_connections_over_a_clients_cap_get_a_503_in_the_apps_face(searcher, settings):
    s = make_server(searcher, replace(settings, max_per_client=2), "127.0.0.1", 0)
    threading.Thread(target=s.run, daemon=True).start()
    try:
        keep = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
        time.sleep(0.3)
        status, headers, body = get(s.port, "/api/documents")
        err = assert_face(status, headers, body, 503, api=True)
        assert err["code"] == "busy" and headers["retry-after"]
        for k in keep:
            k.close()
        time.sleep(0.3)
        assert get(s.port, "/api/documents")[0] == 200
    finally:
        s.close()


@pytest.mark.parametrize("env,name", [({"QA_PORT": "99999"}, "QA_PORT"),
                                      ({"QA_PORT": "1_0"}, "QA_PORT"),
                                      ({"QA_FUSION": "bogus"}, "QA_FUSION"),
                                      ({"QA_DENSE_WEIGHT": "1.5"}, "QA_DENSE_WEIGHT"),
                                      ({"QA_DENSE_WEIGHT": "nan"}, "QA_DENSE_WEIGHT"),
                                      ({"QA_ENCODER": "gpu"}, "QA_ENCODER"),
                                      ({"QA_ALLOWED_HOSTS": " , "}, "QA_ALLOWED_HOSTS"),
                                      ({"QA_READ_TIMEOUT": "0"}, "QA_READ_TIMEOUT"),
                                      ({"QA_LOG_FORMAT": "xml"}, "QA_LOG_FORMAT")])
def test_a_bad_setting_is_one_line_naming_the_variable(env, name):
    for args in (["serve", "--no-build"], ["info"]):
        r = qa_cli(*args, env_extra=env, timeout=60)
        assert r.returncode == 2
        assert r.stderr.startswith(f"qa: error: {name}=") and r.stderr.count("\n") == 1
        assert "Traceback" not in r.stderr


def test_a_port_in_use_is_one_line(cli_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        r = qa_cli("serve", "--no-build", "--port", port, env_extra=cli_env, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"qa: error: cannot listen on 127.0.0.1:{port}: "
                                             "Address already in use"]


def test_qa_settings_lists_every_variable_with_its_help():
    from qa.config import OPTIONS

    r = qa_cli("settings", env_extra={"QA_PORT": "8123"})
    assert r.returncode == 0
    for opt in OPTIONS:
        assert f"{opt.env}=" in r.stdout and opt.help in r.stdout
    assert "QA_PORT=8123" in r.stdout


def test_request_logs_give_the_question_length_not_its_words(server):
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("qa.requests")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        question = "where is the zebrafish stroke pathway"
        get(server.port, "/api/search?" + urllib.parse.urlencode({"q": question}))
        get(server.port, "/api/search?q=%00")
        parse(raw(server.port, b"GET /api/\xff HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    finally:
        logger.removeHandler(handler)
    records = [json.loads(line) for line in lines]
    assert [r["status"] for r in records] == [200, 400, 400]
    assert records[0] == {**records[0], "method": "GET", "path": "/api/search",
                          "q_chars": len(question)}
    assert all(isinstance(r["ms"], float) for r in records)
    assert not any("zebrafish" in line for line in lines)


def serve_process(env: dict, stderr, **popen) -> tuple[subprocess.Popen, int]:
    """`qa serve` in a process of its own on a free port, once it answers /healthz."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--no-build", "--port",
                             str(port)], env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, **popen)
    for _ in range(600):
        try:
            if get(port, "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    return proc, port


def test_client_errors_leave_no_traceback(settings, cli_env, tmp_path):
    """`qa serve` in a process of its own, sent bad input of every kind: its log has one
    line a request and no traceback."""
    err = open(tmp_path / "err", "w+")
    proc, port = serve_process(cli_env, err)
    try:
        for target in ("/api/search?q=%00", "/api/search?q=x&k=1_0", "/search?q=x&k=%D9%A5",
                       "/doc/nope", "/api/documents/nope"):
            assert get(port, target)[0] in (400, 404)
        assert get(port, "/search?q=stroke", host="a" * 70 + ".example")[0] == 400
        parse(raw(port, b"GET /api/\xff HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    err.seek(0)
    log = err.read()
    assert "Traceback" not in log
    assert len([ln for ln in log.splitlines() if " /" in ln]) >= 8


def test_worker_processes_share_keep_alive_clients(cli_env):
    """`qa serve` with QA_WORKERS=2 and eight keep-alive clients connecting together: each
    worker holds four. Left to whichever worker woke first, one often took most of them and
    served them one at a time while the other stood idle."""
    proc, port = serve_process({"QA_WORKERS": "2", **cli_env}, subprocess.DEVNULL)
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(8)]
    try:
        workers = _workers(proc, 2)
        for c in clients:
            c.connect()
        for c in clients:
            c.request("GET", "/api/search?q=stroke")
            answer = c.getresponse()
            assert answer.status == 200 and not answer.will_close
            answer.read()
        assert sorted(_connections(w, port) for w in workers) == [4, 4]
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("sig,how", [(9, "on signal SIGKILL"), (15, "with status 0")])
def test_a_worker_killed_stops_the_server_with_a_failure(cli_env, tmp_path, sig, how):
    """QA_WORKERS=2 and one worker killed (the OOM killer; an operator's `kill`, which it
    ends cleanly on): the server stops the other and exits 1 with one line saying which ended
    how, for a supervisor to restart it, rather than serving on with a share of its
    connections and heavy-lane slot lost."""
    err = open(tmp_path / "err", "w+")
    proc, port = serve_process({"QA_WORKERS": "2", **cli_env}, err)
    workers = _workers(proc, 2)
    try:
        os.kill(workers[1], sig)
        assert proc.wait(timeout=30) == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{workers[0]}").exists() and \
                "zombie" not in _state(workers[0]):
            time.sleep(0.1)
        assert not Path(f"/proc/{workers[0]}").exists() or "zombie" in _state(workers[0])
    finally:
        if proc.poll() is None:
            proc.kill()
    err.seek(0)
    log = err.read()
    assert f"qa: error: server process {workers[1]} ended {how}: stopping the others" in log
    assert "Traceback" not in log


def test_every_worker_switches_to_a_new_build_before_it_is_asked(settings, cli_env, tmp_path):
    """QA_WORKERS=2 and a new build made live while no worker has been asked anything but
    the readiness check: both answer from it at once. A worker's index watcher used to start
    with its first request, so one not yet asked kept the old build until then, and gave
    its first visitor the old answers. With QA_LOG_FORMAT=json the switches are logged as
    JSON lines too, not plain text among them."""
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    old = (index_dir / "CURRENT").read_text().strip()
    err = open(tmp_path / "err", "w+")
    proc, port = serve_process({**cli_env, "QA_INDEX": str(index_dir), "QA_WORKERS": "2",
                                "QA_RELOAD_SECONDS": "0.2", "QA_LOG_FORMAT": "json"}, err)
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(2)]
    try:
        workers = _workers(proc, 2)
        # The same build under a new name: a new build, as far as a server can tell.
        new = "build-switched-to"
        shutil.copytree(index_dir / old, index_dir / new)
        (index_dir / "CURRENT.tmp").write_text(new + "\n")
        os.replace(index_dir / "CURRENT.tmp", index_dir / "CURRENT")
        deadline = time.monotonic() + 30  # each worker says when it has switched
        while (Path(err.name).read_text().count("switched to index") < 2
               and time.monotonic() < deadline):
            time.sleep(0.1)
        for c in clients:
            c.connect()
        served = []
        for c in clients:
            c.request("GET", "/healthz")
            served.append(json.loads(c.getresponse().read())["index"])
        assert sorted(_connections(w, port) for w in workers) == [1, 1]  # one client each
        assert served == [new, new]
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(timeout=30)
    records = [json.loads(line) for line in Path(err.name).read_text().splitlines()]
    switched = [r for r in records if "switched to index" in r.get("message", "")]
    assert len(switched) == 2 and all(r["level"] == "info" for r in switched)
    paths = [r["path"] for r in records if "path" in r]  # the request lines, among them
    assert len(paths) >= 3 and set(paths) == {"/healthz"}


def test_a_stop_sent_to_the_whole_service_is_a_clean_stop(cli_env, tmp_path):
    """SIGTERM to the server and then to every process of it, as `timeout` stops a command
    (and systemd a service's control group): the server ends with status 0 and says nothing
    of a failure. The second signal, landing in the interpreter's shutdown, printed
    "Exception ignored ... SystemExit"."""
    for attempt in range(3):
        err = open(tmp_path / f"err{attempt}", "w+")
        proc, _ = serve_process({"QA_WORKERS": "2", **cli_env}, err, start_new_session=True)
        _workers(proc, 2)
        os.kill(proc.pid, signal.SIGTERM)  # what `timeout` does: the command, then its group
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        err.seek(0)
        log = err.read()
        assert "stopping the others" not in log and "Exception ignored" not in log, log


def test_a_single_process_server_stops_cleanly_too(cli_env, tmp_path):
    """QA_WORKERS=1 (one core, a container's CPU limit): the same stop ends with status 0,
    as the forked server does, not as a process killed by SIGTERM (143)."""
    err = open(tmp_path / "err", "w+")
    proc, port = serve_process({"QA_WORKERS": "1", **cli_env}, err, start_new_session=True)
    assert get(port, "/api/search?q=stroke")[0] == 200
    os.kill(proc.pid, signal.SIGTERM)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    err.seek(0)
    log = err.read()
    assert "Traceback" not in log and "Exception ignored" not in log, log


def _workers(proc: subprocess.Popen, n: int) -> list[int]:
    """The server's worker processes, once all n are forked (the first may answer before
    the last is)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while len(found := children.read_text().split()) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(found) == n
    return [int(p) for p in found]


def _connections(pid: int, port: int) -> int:
    """The established connections to `port` whose server end process `pid` holds."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and f[3] == "01" and f[9] in held:
            count += 1
    return count


def test_worker_processes_end_with_a_server_killed_outright(cli_env):
    """`qa serve` with QA_WORKERS=2, then kill -9 of the process that forked them (an
    operator's or the OOM killer's): no worker may go on answering on the port."""
    proc, port = serve_process({"QA_WORKERS": "2", **cli_env}, subprocess.DEVNULL)
    workers: list[int] = []
    try:
        workers[:] = _workers(proc, 2)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() and
                                                  "zombie" not in _state(w) for w in workers):
            time.sleep(0.1)
        assert not any(Path(f"/proc/{w}").exists() and "zombie" not in _state(w)
                       for w in workers), "a worker outlived the server"
        try:  # refused, or reset by a worker's last moments: either way, no answer
            answer = raw(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        except OSError:
            answer = b""
        assert answer == b""
    finally:  # nothing left serving, whatever failed
        if proc.poll() is None:
            proc.kill()
        for pid in workers:
            try:
                if b"qa.cli" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, 9)
            except OSError:
                pass


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"  # gone meanwhile


def test_health_hashes_the_corpus_only_when_it_changes(index, settings, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    searcher = Searcher(index, replace(settings, corpus_dir=corpus))
    assert Staleness(every=0).of(searcher) == []
    cached = Staleness(every=60)
    assert cached.of(searcher) == []
    changed = sorted(p for p in corpus.iterdir() if p.suffix == ".txt")[0]
    changed.write_text(changed.read_text() + "\nA new closing line.\n")
    assert cached.of(searcher) == []  # not looked at again within `every` seconds
    assert Staleness(every=0).of(searcher) == [changed.name]
    watch = Staleness(every=0)
    assert watch.of(searcher) == [changed.name]
    (corpus / "sub").mkdir()
    (corpus / "sub" / "new.txt").write_text("A paper in a sub-folder of the corpus.\n")
    assert watch.of(searcher) == sorted([changed.name, "sub/new.txt"])


def test_schemathesis_finds_nothing(live_server, tmp_path):
    """A bounded schemathesis run with every check against the real server."""
    st = Path(sys.executable).parent / "schemathesis"
    r = subprocess.run([str(st), "run",
                        f"{live_server}/api/openapi.json", "--checks", "all",
                        "--max-examples", "25", "--seed", "1"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]


# --- the encoder a served question gets (embed.ByLoad) -------------------------------------

def served_encoders():
    """The shared and alone encoders `qa serve` uses, in a ByLoad that always finds a core
    spare (cores=4096), so the tests do not depend on what else the machine runs."""
    from qa.config import Settings
    from qa.embed import ByLoad, serving_encoder

    served = serving_encoder(Settings.from_env())
    if not isinstance(served, ByLoad):
        pytest.skip("one core: qa serve encodes on one thread")
    return ByLoad(served.shared, served.alone, cores=4096)


def test_a_question_served_alone_gets_two_threads_and_side_by_side_one():
    from qa.embed import ByLoad

    spare = served_encoders()
    with spare.request():
        with spare.pick() as enc:
            assert enc is spare.alone
            with spare.pick() as second:  # another question encoded meanwhile
                assert second is spare.shared
        with spare.request():  # two requests in flight
            with spare.pick() as enc:
                assert enc is spare.shared
    with spare.pick() as enc:  # no server counting: alone when nothing else encodes
        assert enc is spare.alone
    busy = ByLoad(spare.shared, spare.alone, cores=1)  # never a core to spare
    with busy.request(), busy.pick() as enc:
        assert enc is busy.shared


def test_a_request_that_fails_leaves_the_next_question_alone():
    # A request or an encode that raises must not leave a count behind, or every question
    # after it would be served on one thread as if another were in flight.
    spare = served_encoders()
    with pytest.raises(RuntimeError):
        with spare.request(), spare.pick():
            raise RuntimeError("the search failed")
    with pytest.raises(TypeError):
        with spare.request():
            spare.encode([None])  # the model itself refuses it
    with spare.request(), spare.pick() as enc:
        assert enc is spare.alone


def test_both_encoders_give_the_same_vectors_side_by_side():
    import numpy as np

    from qa.embed import get_encoder

    by_load = served_encoders()
    questions = ["how is the stroke service being reorganised", "sickness absence at the trust",
                 "when will GP records be shared with hospitals", "what does QIPP stand for"]
    want = get_encoder().encode(questions)
    assert np.allclose(by_load.alone.encode(questions), want, atol=1e-5)
    assert np.allclose(by_load.shared.encode(questions), want, atol=1e-5)
    got: dict[int, np.ndarray] = {}

    def ask(i: int):
        with by_load.request():
            got[i] = by_load.encode([questions[i % 4]])[0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16
    for i, v in got.items():
        assert np.allclose(v, want[i % 4], atol=1e-5)


def test_requests_one_after_another_are_served_by_the_same_thread():
    """The worker that went idle last takes the next task, so a lone client's requests keep
    one thread's caches warm instead of rotating through all of them."""
    from qa.server import _Dispatcher

    dispatcher = _Dispatcher()
    dispatcher.set_thread_count(8)
    names = []

    class Task:
        def __init__(self):
            self.done = threading.Event()

        def service(self):
            names.append(threading.current_thread().name)
            self.done.set()

    try:
        time.sleep(0.2)  # every thread waiting
        for _ in range(20):
            task = Task()
            dispatcher.add_task(task)
            assert task.done.wait(5)
            time.sleep(0.01)  # the thread is idle again before the next task
    finally:
        dispatcher.shutdown()
    assert len(names) == 20 and len(set(names[1:])) == 1
