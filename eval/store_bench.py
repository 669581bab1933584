"""The living collection's timings: incremental add/remove against a full build, on the
corpus and on a 50 x synthetic corpus, and a running server switching index under load.
Run alone (`python eval/store_bench.py`) or as part of eval/bench.py; writes
eval/results/store_bench.json.

Targets (issue 13): adding or removing one small paper <= 0.35 x the full build on the
five-document corpus and <= 5% of the full build at 50 x; a running server answers from the
new index within 5 s of the build ending, with no failed request from a steady stream of
searches during 10 switches, and its memory after 10 switches within one index's size of
where it started.

The 50 x corpus is 50 renamed copies of every corpus file, each with its catalog entry. Its
segments are the real ones with the doc id renamed and 15% of each copy's BM25 terms made
distinct (so the vocabulary grows as with new papers); they are written, not embedded, since
embedding 31,800 passages would take most of an hour here. Its full build time is therefore
not run but taken as 50 x the measured five-document full build (which embedding dominates:
every passage is embedded once whatever the corpus size).
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Settings  # noqa: E402
from qa.ingest import CATALOG_NAME, doc_id_for  # noqa: E402
from qa.store import Index, disk  # noqa: E402
from qa.store.segment import file_hash, fingerprint, from_bytes, segment_key  # noqa: E402

QUESTION = "what is the stroke model?"
SMALL = "001_5315744c9454198c.txt"


def qa(*args, env: dict) -> tuple[float, str]:
    """Run a qa command to the end; its wall time and its summary line."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, **env}, check=True)
    return time.perf_counter() - t0, out.stdout.strip()


def own_seconds(summary: str) -> float:
    """The build's own time, from its summary line ("..., 1.4 s")."""
    return float(re.search(r", ([0-9.]+) s", summary).group(1))


def new_paper(folder: Path, tag: str) -> Path:
    """A small paper the index has never seen: the smallest corpus paper under a new name,
    with a line of its own (so its content, not just its name, is new)."""
    path = folder / f"new_paper_{tag}.txt"
    path.write_bytes((ROOT / "corpus" / SMALL).read_bytes() + f"\nAdded {tag}.\n".encode())
    return path


def incremental(work: Path) -> dict:
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = {"QA_CORPUS": str(corpus), "QA_INDEX": str(work / "index")}
    full_s, full = qa("build", "--full", env=env)
    add_s, added = qa("add", str(new_paper(work, "five")), env=env)
    remove_s, removed = qa("remove", "new_paper_five", env=env)
    return {"full_s": round(full_s, 2), "add_s": round(add_s, 2), "remove_s": round(remove_s, 2),
            "full_own_s": own_seconds(full), "add_own_s": own_seconds(added),
            "remove_own_s": own_seconds(removed), "add_summary": added, "env": env}


def fifty(work: Path, base_index: Path, copies: int = 50, seed: int = 0) -> dict:
    """The synthetic corpus and its index (see the module docstring), then timed updates."""
    rng = random.Random(seed)
    corpus, index_dir = work / "corpus50", work / "index50"
    corpus.mkdir()
    settings = dataclasses.replace(Settings.from_env(env={}), corpus_dir=corpus,
                                   index_dir=index_dir)
    fp = fingerprint(settings)
    base = disk.read_manifest(base_index / disk.current_name(base_index))
    catalog = json.loads((ROOT / "corpus" / CATALOG_NAME).read_text())["documents"]
    new_catalog, files, entries = {}, {}, []
    for c in range(copies):
        for e in base["segments"]:
            if e["path"].startswith("new_paper"):
                continue
            name = f"c{c:02d}_{e['path']}"
            data = (ROOT / "corpus" / e["path"]).read_bytes()
            (corpus / name).write_bytes(data)
            entry = catalog.get(e["path"])
            if entry:
                new_catalog[name] = entry
            seg = from_bytes((base_index / e["file"]).read_bytes())
            doc_id = doc_id_for(name)
            seg.key = segment_key(name, file_hash(data), entry, fp)
            seg.doc = dataclasses.replace(seg.doc, doc_id=doc_id, path=name)
            seg.passages = [dataclasses.replace(p, doc_id=doc_id) for p in seg.passages]
            if c:
                seg.terms = [t + str(c) if rng.random() < 0.15 else t for t in seg.terms]
            entries.append(disk.write_segment(index_dir, seg))
            files[name] = file_hash(data)
    catalog_bytes = json.dumps({"documents": new_catalog}).encode()
    (corpus / CATALOG_NAME).write_bytes(catalog_bytes)
    files[CATALOG_NAME] = file_hash(catalog_bytes)
    entries.sort(key=lambda e: e["path"])
    disk.save(index_dir, {**fp, "package_version": base["package_version"],
                          "dimensions": base["dimensions"], "files": files, "skipped": [],
                          "segments": entries, "documents": len(entries),
                          "passages": sum(e["passages"] for e in entries),
                          "built_at": base["built_at"], "build_seconds": 0.0})
    env = {"QA_CORPUS": str(corpus), "QA_INDEX": str(index_dir)}
    noop_s, _ = qa("build", env=env)
    add_s, added = qa("add", str(new_paper(work, "fifty")), env=env)
    remove_s, removed = qa("remove", "new_paper_fifty", env=env)
    t0 = time.perf_counter()
    index = Index.load(index_dir)
    load_s = time.perf_counter() - t0
    return {"copies": copies, "documents": len(index.docs), "passages": len(index.passages),
            "unchanged_build_s": round(noop_s, 2), "add_s": round(add_s, 2),
            "remove_s": round(remove_s, 2), "add_own_s": own_seconds(added),
            "remove_own_s": own_seconds(removed), "load_s": round(load_s, 2),
            "index_bytes": sum(e["bytes"] for e in entries)}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def switches(env: dict, work: Path, n: int = 10) -> dict:
    """`qa serve` under a steady stream of searches while papers come and go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--no-build", "--port",
                             str(port)], cwd=ROOT, env={**os.environ, **env,
                                                        "QA_RELOAD_SECONDS": "1",
                                                        # one process: its memory and its
                                                        # switch are what is measured
                                                        "QA_WORKERS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            _get(base + "/healthz")
            break
        except OSError:
            time.sleep(0.2)
    url = f"{base}/api/search?q={urllib.parse.quote(QUESTION)}&k=10"
    for _ in range(20):
        _get(url)
    rss_start = _rss_mb(proc.pid)
    ok, failed, stop = [0], [], threading.Event()

    def stream():
        while not stop.is_set():
            try:
                _get(url)
                ok[0] += 1
            except Exception as e:  # every failure counts
                failed.append(repr(e))

    client = threading.Thread(target=stream)
    client.start()
    paper = new_paper(work, "switch")
    seen, rss = [], []
    try:
        for i in range(n):
            qa(*(("add", str(paper)) if i % 2 == 0 else ("remove", paper.stem)), env=env)
            ended = time.perf_counter()
            target = disk.current_name(Path(env["QA_INDEX"]))
            while _get(base + "/healthz")["index"] != target:
                if time.perf_counter() - ended > 30:
                    break
                time.sleep(0.05)
            seen.append(time.perf_counter() - ended)
            rss.append(round(_rss_mb(proc.pid), 1))
    finally:
        stop.set()
        client.join()
        rss_end = _rss_mb(proc.pid)
        proc.terminate()
        proc.wait(timeout=30)
    return {"switches": n, "requests_ok": ok[0], "requests_failed": len(failed),
            "failures": failed[:3], "switch_seen_s_max": round(max(seen), 2),
            "switch_seen_s_median": round(sorted(seen)[len(seen) // 2], 2),
            "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_end, 1),
            "rss_after_each_mb": rss, "index_mb": index_memory_mb(env)}


def index_memory_mb(env: dict) -> float:
    """One index's size in memory: a fresh process's growth in loading it (and a search's
    caches), with the model and libraries loaded before."""
    code = ("import sys; sys.path.insert(0, 'eval'); from store_bench import _rss_mb; import os;"
            "from qa.search import Searcher; from qa.config import Settings;"
            "from qa.embed import encoder_for; from qa.store import Index;"
            "s = Settings.from_env(); e = encoder_for(s); e.encode(['x']);"
            "import faiss, flask; a = _rss_mb(os.getpid());"
            "Searcher(Index.load(s.index_dir), s, e).search('stroke', k=10);"
            "print(_rss_mb(os.getpid()) - a)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return round(float(out.stdout.strip()), 1)


def figures() -> dict:
    work = Path(tempfile.mkdtemp(prefix="qa-store-bench-"))
    try:
        print("incremental, five documents ...", flush=True)
        five = incremental(work)
        env = five.pop("env")
        print("switches under load ...", flush=True)
        switch = switches(env, work)
        print("incremental, 50 x ...", flush=True)
        big = fifty(work, Path(env["QA_INDEX"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    big["full_s_estimated"] = round(five["full_s"] * big["copies"], 1)
    return {"five": five, "fifty": big, "switch": switch}


def rows(f: dict) -> list[tuple[str, str, str]]:
    five, big, sw = f["five"], f["fifty"], f["switch"]
    return [
        ("qa build --full, 5 documents", f"{five['full_s']:.1f} s", ""),
        ("qa add one small paper, 5 documents", f"{five['add_s']:.1f} s",
         f"{five['add_s'] / five['full_s']:.2f} x full (target 0.35)"),
        ("qa remove one paper, 5 documents", f"{five['remove_s']:.1f} s",
         f"{five['remove_s'] / five['full_s']:.2f} x full (target 0.35)"),
        (f"qa add one small paper, {big['copies']} x ({big['passages']} passages)",
         f"{big['add_s']:.1f} s",
         f"{100 * big['add_s'] / big['full_s_estimated']:.1f}% of full ~{big['full_s_estimated']:.0f} s"
         " (target 5%)"),
        (f"qa remove one paper, {big['copies']} x", f"{big['remove_s']:.1f} s",
         f"{100 * big['remove_s'] / big['full_s_estimated']:.1f}% of full (target 5%)"),
        (f"qa build, nothing changed, {big['copies']} x", f"{big['unchanged_build_s']:.1f} s", ""),
        (f"index load (merge of segments), {big['copies']} x", f"{big['load_s']:.1f} s", ""),
        (f"server: {sw['switches']} switches, searches ok / failed",
         f"{sw['requests_ok']} / {sw['requests_failed']}", "target 0 failed"),
        ("server: new index answered after build ends, max / median",
         f"{sw['switch_seen_s_max']:.1f} / {sw['switch_seen_s_median']:.1f} s", "target 5 s"),
        ("server memory, start -> after switches",
         f"{sw['rss_start_mb']:.0f} -> {sw['rss_end_mb']:.0f} MB",
         f"one index {sw['index_mb']:.0f} MB in memory"),
    ]


def main() -> int:
    f = figures()
    for name, value, against in rows(f):
        print(f"{name:<58}{value:>16}  {against}")
    results = ROOT / "eval" / "results"
    results.mkdir(exist_ok=True)
    (results / "store_bench.json").write_text(json.dumps(f, indent=1))
    print(f"\nwrote {results / 'store_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
