"""Load the served API from 1, 4 and 8 concurrent clients; print p50/p95 latency and throughput.

    python eval/load.py                      # starts `qa serve` on a free port, then loads it
    python eval/load.py --url http://127.0.0.1:8000 --requests 200

Only loopback addresses are accepted: this is a measurement of our own server on this machine.
Each client sends a bounded number of requests (the dev questions, round-robin) and checks that
every answer equals the single-client answer for the same question.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]


def get(url: str) -> tuple[float, int, list]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.loads(resp.read())
        status = resp.status
    return (time.perf_counter() - t0) * 1000, status, [r["passage_id"] for r in body["results"]]


def run(base: str, qs: list[str], clients: int, per_client: int, expected: dict) -> dict:
    def client(n: int) -> tuple[list[float], int]:
        times, wrong = [], 0
        for i in range(per_client):
            q = qs[(n * 7 + i) % len(qs)]
            ms, status, ids = get(f"{base}/api/search?{urllib.parse.urlencode({'q': q})}")
            times.append(ms)
            wrong += status != 200 or ids != expected[q]
        return times, wrong

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    times = sorted(t for ts, _ in done for t in ts)
    return {"clients": clients, "requests": len(times), "errors_or_mismatches": sum(w for _, w in done),
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "throughput_rps": round(len(times) / wall, 1)}


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"qa serve exited: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
    proc.kill()
    sys.exit("qa serve did not answer /healthz within 120 s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server (loopback only); default: start one")
    ap.add_argument("--requests", type=int, default=200, help="requests per client (default 200)")
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--questions", default=str(ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    proc = None
    if args.url:
        host = urllib.parse.urlparse(args.url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("only a server on this machine (127.0.0.1, localhost) may be loaded")
        base = args.url.rstrip("/")
    else:
        proc, base = start_server()
    try:
        qs = questions(Path(args.questions))
        expected = {q: get(f"{base}/api/search?{urllib.parse.urlencode({'q': q})}")[2] for q in qs}
        rows = [run(base, qs, int(c), args.requests, expected) for c in args.clients.split(",")]
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{'clients':>8}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'req/s':>10}{'bad':>6}")
    for r in rows:
        print(f"{r['clients']:>8}{r['requests']:>10}{r['p50_ms']:>10.1f}{r['p95_ms']:>10.1f}"
              f"{r['throughput_rps']:>10.1f}{r['errors_or_mismatches']:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 1 if any(r["errors_or_mismatches"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
