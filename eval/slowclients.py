"""Held sockets against the served API: do other clients still get answers, and how fast?

    python eval/slowclients.py                 # starts `qa serve` on a free port
    python eval/slowclients.py --held 200 --addresses 1,10

A batch of sockets is opened from other loopback addresses (127.0.0.2, 127.0.0.3, ... : all
loopback on Linux, so the server sees several clients) and held: each sends an unfinished
request and then one byte a second, the way a slow-loris client keeps a connection alive.
Meanwhile a normal client on 127.0.0.1 asks dev questions. Printed for each batch: how many
held sockets the server accepted, how many it answered 503 or closed at once, how long the
longest one lived, and the normal client's p50/p95 beside the same client's figures with
nothing held (measured in the same run). Loopback only, bounded in sockets and time.
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import urllib.parse
from pathlib import Path

from load import get, loopback, percentile, questions, start_server

ROOT = Path(__file__).resolve().parents[1]
MAX_HELD = 1000


def hold(port: int, n: int, addresses: int, seconds: float, normal) -> dict:
    """Open n sockets spread over `addresses` source addresses, trickle bytes for `seconds`
    while `normal()` runs; report what became of them."""
    socks, refused = [], 0
    for i in range(n):
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(2)
        try:
            s.bind((f"127.0.0.{2 + i % addresses}", 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /api/search?q=stroke HTTP/1.1\r\nHost: localhost\r\n")
        except OSError:
            refused += 1
            s.close()
            continue
        s.setblocking(False)
        socks.append([s, time.perf_counter(), None])  # socket, opened, closed by the server at
    t0 = time.perf_counter()
    result, answered_503 = None, 0
    while time.perf_counter() - t0 < seconds:
        if result is None:
            result = normal()
        for entry in socks:
            s, opened, closed = entry
            if closed is not None:
                continue
            try:
                # Anything read means the server is done with it: a 503, or the close.
                answered_503 += s.recv(4096)[9:12] == b"503"
                entry[2] = time.perf_counter() - opened
                continue
            except BlockingIOError:
                pass
            except OSError:
                entry[2] = time.perf_counter() - opened
                continue
            try:
                s.send(b"X")  # one byte of a header that never ends
            except OSError:
                entry[2] = time.perf_counter() - opened
        time.sleep(1)
    lived = [c for _, _, c in socks if c is not None]
    still_open = sum(c is None for _, _, c in socks)
    for s, _, _ in socks:
        s.close()
    return {"held": n, "addresses": addresses, "connect_failed": refused,
            "answered_503": answered_503, "closed_by_server": len(lived),
            "still_open_after_s": still_open, "longest_lived_s": round(max(lived, default=0), 1),
            **result}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server (loopback only); default: start one")
    ap.add_argument("--held", type=int, default=200, help=f"sockets to hold (at most {MAX_HELD})")
    ap.add_argument("--addresses", default="1,10",
                    help="spread the held sockets over this many source addresses (a list)")
    ap.add_argument("--seconds", type=float, default=15, help="how long to hold them")
    ap.add_argument("--requests", type=int, default=50, help="normal client's requests")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if not 0 < args.held <= MAX_HELD:
        sys.exit(f"--held must be 1 to {MAX_HELD}")
    proc, base = (None, loopback(args.url)) if args.url else start_server()
    port = urllib.parse.urlparse(base).port
    qs = questions(ROOT / "eval" / "dev.jsonl")

    def normal() -> dict:
        times, bad = [], 0
        for i in range(args.requests):
            ms, status, _ = get(f"{base}/api/search?{urllib.parse.urlencode({'q': qs[i]})}",
                                timeout=10)
            times.append(ms)
            bad += status != 200
            if bad == 3:
                break  # shut out: three requests unanswered within 10 s is the finding
        return {"normal_p50_ms": percentile(times, 0.5), "normal_p95_ms": percentile(times, 0.95),
                "normal_errors": bad}

    try:
        normal()  # warm
        rows = [{"held": 0, **normal()}]
        rows += [hold(port, args.held, int(a), args.seconds, normal)
                 for a in args.addresses.split(",")]
        rows.append({"held": 0, "after": True, **normal()})
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{'held':>5}{'addrs':>6}{'503':>6}{'closed':>8}{'open':>6}{'longest s':>10}"
          f"{'p50 ms':>9}{'p95 ms':>9}{'bad':>5}")
    for r in rows:
        print(f"{r['held']:>5}{r.get('addresses', ''):>6}{r.get('answered_503', ''):>6}"
              f"{r.get('closed_by_server', ''):>8}{r.get('still_open_after_s', ''):>6}"
              f"{r.get('longest_lived_s', ''):>10}{r['normal_p50_ms']:>9.1f}"
              f"{r['normal_p95_ms']:>9.1f}{r['normal_errors']:>5}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 1 if any(r["normal_errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
