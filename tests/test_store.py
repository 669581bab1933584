"""The index store on the real corpus and model: incremental builds equal full ones, stable
ids, checksums, the build lock, kills, and a live server switching index under load."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, ROOT, qa_cli
from qa.search import Searcher
from qa.store import BadInput, BuildBusy, Index, IndexCorrupt, Live, add, build, remove, verify
from qa.store import disk
from qa.store.lock import build_lock
from qa.store.merge import bm25_from_counts
from qa.store.segment import _term_counts

# The three smallest papers: enough for collection-wide statistics to matter, quick to embed.
SMALL = ("001_5315744c9454198c.txt", "000_39354a0ede1fe7a3.txt")
THIRD = "004_a45d7b1da6d1bef7.txt"
QUESTIONS = ("what is the stroke model?", "SWFT vacancy rate", "what does DTB stand for",
             "workforce plans for primary care", "how will the STP save money?")


def corpus_of(folder: Path, names) -> Path:
    folder.mkdir(parents=True)
    for n in names:
        shutil.copy(CORPUS / n, folder / n)
    catalog = json.loads((CORPUS / "catalog.json").read_text())
    catalog["documents"] = {n: e for n, e in catalog["documents"].items() if n in names}
    (folder / "catalog.json").write_text(json.dumps(catalog))
    return folder


def results(index: Index, settings, encoder=None) -> list:
    s = Searcher(index, settings, encoder)
    return [[(h.passage_id, h.score, h.highlights) for h in s.search(q, k=10).results]
            for q in QUESTIONS for mode in ("hybrid",)]


def cli(*args, env, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, timeout=timeout,
                          cwd=ROOT, **kw)


def env_of(s) -> dict:
    return {"QA_CORPUS": str(s.corpus_dir), "QA_INDEX": str(s.index_dir)}


@pytest.fixture(scope="module")
def small(settings, tmp_path_factory):
    """Settings over a copy of two small papers, built once."""
    root = tmp_path_factory.mktemp("small")
    s = replace(settings, corpus_dir=corpus_of(root / "corpus", SMALL), index_dir=root / "index")
    build(s)
    return s


def test_incremental_update_equals_full_rebuild(small, tmp_path):
    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    before = Index.load(s.index_dir)
    added = add(s, [CORPUS / THIRD])
    assert (added.unchanged, added.added, added.embedded) == (2, [THIRD], added.passages
                                                              - len(before.passages))
    inc = Index.load(s.index_dir)
    full_s = replace(s, index_dir=tmp_path / "full")
    assert build(full_s, full=True).embedded == len(inc.passages)
    full = Index.load(full_s.index_dir)
    assert inc.passage_ids == full.passage_ids
    np.testing.assert_array_equal(inc.vectors, full.vectors)
    assert (inc.bm25.weights != full.bm25.weights).nnz == 0
    assert inc.glossary.entries == full.glossary.entries
    assert results(inc, s) == results(full, s)
    # A paper's public passage ids and texts do not move when another paper arrives.
    old = {i: p.text for i, p in zip(before.passage_ids, before.passages)}
    assert all(dict(zip(inc.passage_ids, (p.text for p in inc.passages)))[i] == t
               for i, t in old.items())

    removed = remove(s, [THIRD.removesuffix(".txt")])
    assert (removed.removed, removed.embedded) == ([THIRD], 0)
    assert (s.index_dir / "removed" / THIRD).exists() and not (s.corpus_dir / THIRD).exists()
    assert results(Index.load(s.index_dir), s) == results(before, s)
    again = add(s, [s.index_dir / "removed" / THIRD])  # added back: its segment is reused
    assert again.embedded == 0 and again.added == [THIRD]
    assert results(Index.load(s.index_dir), s) == results(full, s)


def test_merged_bm25_equals_rank_bm25_fit():
    from qa.bm25 import SparseBM25, tokenize

    texts = [["the stroke unit at UHCW", "stroke rehabilitation services"],
             ["GP workforce and GP practices", "maternity services vision", "stroke stroke"]]
    parts = [_term_counts([tokenize(t) for t in seg]) for seg in texts]
    merged = bm25_from_counts(parts)
    fitted = SparseBM25.fit([tokenize(t) for seg in texts for t in seg])
    assert merged.vocab == fitted.vocab
    np.testing.assert_allclose(merged.weights.toarray(), fitted.weights.toarray(), rtol=1e-6)


def test_nothing_changed_is_a_no_op_and_needs_no_model(small, tmp_path):
    out = cli("build", env=env_of(small))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("index up to date: 2 documents") and "2 unchanged" in out.stdout
    assert "embedded" not in out.stderr


def test_a_corrupted_index_file_is_refused_by_name(small, tmp_path):
    s = replace(small, index_dir=tmp_path / "index")
    shutil.copytree(small.index_dir, s.index_dir)
    seg = sorted((s.index_dir / "segments").iterdir())[0]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)  # 64 bytes inside, as a bad disk would
    seg.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=seg.name):
        Index.load(s.index_dir)
    with pytest.raises(IndexCorrupt, match=seg.name):
        verify(s.index_dir)
    out = cli("info", "--verify", env=env_of(s))
    assert out.returncode == 1 and seg.name in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = cli("search", "stroke", env=env_of(s))
    assert out.returncode == 1 and seg.name in out.stderr and "Traceback" not in out.stderr
    # The manifest is sealed by its own checksum: an edited one is refused by name too.
    manifest = s.index_dir / disk.current_name(s.index_dir) / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**m, "passages": m["passages"] + 1}))
    with pytest.raises(IndexCorrupt, match="manifest.json"):
        Index.load(s.index_dir)


def test_an_unreadable_current_pointer_is_a_one_line_error(small, tmp_path):
    s = replace(small, index_dir=tmp_path / "index")
    shutil.copytree(small.index_dir, s.index_dir)
    for junk in (b"\xff\xfe\x00bad", b"../../etc\n", b""):
        (s.index_dir / "CURRENT").write_bytes(junk)
        out = cli("search", "stroke", env=env_of(s))
        assert out.returncode == 1 and "CURRENT" in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_verify_passes_on_a_sound_index(small):
    out = cli("info", "--verify", env=env_of(small))
    assert out.returncode == 0 and "verified: 3 index files" in out.stderr
    info = json.loads(out.stdout)
    assert [d["file"] for d in info["documents_held"]] == sorted(SMALL)


def test_a_paper_is_removed_given_as_a_path_to_its_file(small, tmp_path):
    """`qa remove /…/corpus/paper.txt`: the path named the file, but was taken for its name
    in the corpus, so the file was moved onto itself and the removal reported done while the
    paper stayed in the corpus and the index."""
    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    out = cli("remove", str(s.corpus_dir / SMALL[0]), env=env_of(s))
    assert out.returncode == 0, out.stderr
    assert (s.index_dir / "removed" / SMALL[0]).is_file()
    assert not (s.corpus_dir / SMALL[0]).exists()
    assert [d.path for d in Index.load(s.index_dir).docs] == [SMALL[1]]
    # A path from the working folder names a paper too: here the last one, refused as such.
    out = cli("remove", os.path.relpath(s.corpus_dir / SMALL[1], ROOT), env=env_of(s))
    assert out.returncode == 2 and "every document" in out.stderr


def test_a_path_through_links_names_the_paper_it_reaches(tmp_path):
    """".." after a folder link goes back from where the link led, not where the text says:
    named by its text, "ext/q/../a.txt" was taken for the paper outside the corpus."""
    from qa.store.build import _corpus_name

    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (corpus / "sub").mkdir(parents=True)
    outside.mkdir()
    (corpus / "a.txt").write_text("in the corpus\n")
    (outside / "a.txt").write_text("outside it\n")
    (corpus / "ext").symlink_to(outside)
    (outside / "q").symlink_to(corpus / "sub")
    assert _corpus_name(corpus, "ext/q/../a.txt") == "a.txt"
    assert _corpus_name(corpus, "ext/a.txt") is None
    assert _corpus_name(corpus, str(corpus / "a.txt")) == "a.txt"
    assert _corpus_name(corpus, "sub") is None  # a folder is no paper


def test_add_and_remove_refuse_bad_input_and_change_nothing(small, tmp_path):
    s = replace(small, corpus_dir=tmp_path / "corpus")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01PK" * 100)
    (tmp_path / SMALL[0]).write_text("a different paper under the same name\n")
    # Its id is the corpus paper's: the build would refuse the folder from then on.
    (tmp_path / SMALL[0].removesuffix(".txt")).write_text("a paper named like another's id\n")
    pointer = (s.index_dir / "CURRENT").read_bytes()
    for args, message in ((["add", str(tmp_path / "missing.txt")], "cannot read"),
                          (["add", str(tmp_path / "binary.txt")], "binary"),
                          (["add", str(tmp_path / SMALL[0])], "already holds a different"),
                          (["add", str(tmp_path / SMALL[0].removesuffix(".txt"))],
                           "would share the document id"),
                          (["remove", "no_such_doc"], "no document"),
                          (["remove", "catalog.json"], "no document"),
                          (["remove", *SMALL], "every document")):
        out = cli(*args, env=env_of(s))
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    (tmp_path / "long.txt").write_text("We will open a stroke unit by 2030.\n" * 1000)
    out = cli("add", str(tmp_path / "long.txt"), env={**env_of(s), "QA_MAX_FILE_MB": "0.03"})
    assert out.returncode == 2 and "over the size limit" in out.stderr
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == sorted([*SMALL, "catalog.json"])
    assert (s.index_dir / "CURRENT").read_bytes() == pointer


def test_removing_a_replaced_paper_keeps_both_versions(small, tmp_path):
    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    first = (s.corpus_dir / SMALL[0]).read_bytes()
    remove(s, [SMALL[0]])
    (tmp_path / SMALL[0]).write_text("A new version of the paper: we will open a stroke unit.\n")
    add(s, [tmp_path / SMALL[0]])
    remove(s, [SMALL[0]])
    kept = sorted(p.read_bytes() for p in (s.index_dir / "removed").glob(SMALL[0] + "*"))
    assert kept == sorted([first, (tmp_path / SMALL[0]).read_bytes()])


def test_an_index_folder_that_cannot_be_written_is_one_line(small, tmp_path):
    """No traceback when the index cannot be written: here its parent is a file; a read-only
    mount gives the same line (below)."""
    (tmp_path / "a-file").write_text("not a folder")
    for args in (("build",), ("add", str(small.corpus_dir / SMALL[0]))):
        out = cli(*args, env={**env_of(small), "QA_INDEX": str(tmp_path / "a-file" / "index")})
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.startswith("qa: error: cannot write the index at ")
        assert len(out.stderr.strip().splitlines()) == 1


def test_a_read_only_index_still_answers_though_stale(small, tmp_path):
    """A read-only mount of an index (servers sharing one built elsewhere): `qa build` says
    in one line that it cannot write it, and a server started beside a changed corpus
    answers from the index as it is, with a warning, rather than failing."""
    shutil.copytree(small.index_dir, tmp_path / "index")
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(tmp_path / "index"), str(ro)],
                      capture_output=True).returncode != 0:
        pytest.skip("no permission to make a read-only mount here")
    try:
        corpus = tmp_path / "corpus"
        shutil.copytree(small.corpus_dir, corpus)
        (corpus / "new.txt").write_text("The new paper: a stroke unit opens in 2030.\n")
        env = {"QA_CORPUS": str(corpus), "QA_INDEX": str(ro)}
        out = cli("build", env=env)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert "cannot write the index at" in out.stderr and "Read-only" in out.stderr
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        err = open(tmp_path / "err", "w+")
        server = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--port", str(port)],
                                  cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
                                  stdout=subprocess.DEVNULL, stderr=err)
        try:
            body = None
            for _ in range(600):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                        body = json.loads(r.read())
                    break
                except OSError:
                    assert server.poll() is None, Path(err.name).read_text()
                    time.sleep(0.1)
            assert body and body["stale_files"] == ["new.txt"]
        finally:
            server.terminate()
            server.wait(timeout=30)
        log = Path(err.name).read_text()
        assert "answering from the index as it is" in log and "Traceback" not in log
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_a_second_build_waits_or_refuses(small):
    with build_lock(small.index_dir):
        with pytest.raises(BuildBusy, match="another build"):
            build(small, wait=False)
        out = cli("build", "--no-wait", env=env_of(small))
        assert out.returncode == 1 and "another build" in out.stderr
        assert "--no-wait" in out.stderr and "Traceback" not in out.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "qa.cli", "build"], cwd=ROOT,
                                   env={**os.environ, **env_of(small)}, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)
        assert waiting.poll() is None  # still waiting for the lock we hold
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "waiting for another build" in err
    assert out.startswith("index up to date")


def test_concurrent_builds_never_break_the_index(small, tmp_path):
    s = replace(small, index_dir=tmp_path / "index")
    shutil.copytree(small.index_dir, s.index_dir)
    for run in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--full"], cwd=ROOT,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1", **env_of(s)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all("Traceback" not in err for _, err in outs)
        index = Index.load(s.index_dir)
        verify(s.index_dir)
        assert len(index.docs) == 2 and index.passage_ids == Index.load(small.index_dir).passage_ids


def test_a_build_killed_at_any_point_leaves_the_previous_index(small, tmp_path):
    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    shutil.copy(CORPUS / THIRD, s.corpus_dir / THIRD)
    previous = Index.load(s.index_dir).path
    for delay in (0.5, 2.0, 4.0, 6.0):
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--full"], cwd=ROOT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1", **env_of(s)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        index = Index.load(s.index_dir)  # the previous one, or the new one if it got there
        verify(s.index_dir)
        assert index.path == previous or len(index.docs) == 3
    report = build(s, wait=False)  # the lock died with its holder
    assert len(Index.load(s.index_dir).docs) == 3 and report.documents == 3


def test_a_server_switches_index_under_load_without_a_failed_request(small, tmp_path):
    """The real app under waitress, a live source, a steady stream of searches, switches."""
    from qa.server import make_server

    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    live = Live(s, every=0.2, log=lambda m: None).start()
    server = make_server(live, s, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}"
    threading.Thread(target=server.run, daemon=True).start()
    statuses, stop = [], threading.Event()

    def stream():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{base}/api/search?q=stroke+model&k=5",
                                            timeout=30) as r:
                    body = json.loads(r.read())
                    statuses.append(r.status if body["results"] else "empty")
            except Exception as e:  # any failure is what the test counts
                statuses.append(repr(e))

    clients = [threading.Thread(target=stream) for _ in range(2)]
    for c in clients:
        c.start()
    try:
        for n in range(4):  # remove and add back a paper: each a new build
            report = (remove(s, [SMALL[0]]) if n % 2 == 0
                      else add(s, [s.index_dir / "removed" / SMALL[0]]))
            ended, deadline = time.monotonic(), time.monotonic() + 5
            while time.monotonic() < deadline:
                with urllib.request.urlopen(f"{base}/healthz") as r:
                    health = json.loads(r.read())
                if health["index"] == report.path.name:
                    break
                time.sleep(0.05)
            assert health["index"] == report.path.name, f"switch {n} not seen within 5 s"
            assert health["documents"] == report.documents and health["switched_at"]
            assert time.monotonic() - ended < 5
    finally:
        stop.set()
        for c in clients:
            c.join()
        server.close()
        live.stop()
    assert len(statuses) > 20 and set(statuses) == {200}, [x for x in statuses if x != 200][:3]
    assert live.switches == 4
    # A removed paper's catalog entry waited beside it and came back with it.
    assert SMALL[0] in json.loads((s.corpus_dir / "catalog.json").read_text())["documents"]
    assert not json.loads((s.index_dir / "removed" / "catalog.json").read_text())["documents"]


def test_live_source_keeps_serving_when_the_new_index_is_broken(small, tmp_path):
    s = replace(small, index_dir=tmp_path / "index")
    shutil.copytree(small.index_dir, s.index_dir)
    logged = []
    live = Live(s, every=60, log=logged.append)
    served = live.current()
    (s.index_dir / "CURRENT").write_bytes(b"build-does-not-exist\n")
    assert live.check() is False and live.current() is served
    live.stop()
    assert logged and "keeping index" in logged[0]


def test_live_source_keeps_an_index_encoded_otherwise_out(small, tmp_path):
    """A build run with another encoder than the server's (QA_ENCODER=onnx beside a server
    encoding questions in int8) is not switched to; the next build with the server's is."""
    s = replace(small, index_dir=tmp_path / "index")
    shutil.copytree(small.index_dir, s.index_dir)
    logged = []
    live = Live(s, every=60, log=logged.append)
    served = live.current()
    build(replace(s, encoder="onnx"), full=True)
    assert live.check() is False and live.current() is served
    assert "keeping index" in logged[-1] and "encoded by onnx," in logged[-1]
    build(s, full=True)
    assert live.check() is True and live.current() is not served
    # Switched to with every passage's facts worked out: no visitor pays for them.
    new = live.current()
    assert len(new.passages._facts) == len(new.index.passages) > 0  # noqa: SLF001
    live.stop()


def test_a_pipe_in_the_corpus_is_skipped_not_waited_on(small, tmp_path):
    """A named pipe among the papers: a build, the staleness check (start-up, /healthz) and
    `qa serve`'s start all pass it by; opening it would wait for a writer for ever."""
    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    os.mkfifo(s.corpus_dir / "pipe.txt")
    r = qa_cli("build", env_extra={"QA_CORPUS": str(s.corpus_dir), "QA_INDEX": str(s.index_dir)},
               timeout=60)
    assert r.returncode == 0 and "pipe.txt: not a regular file" in r.stdout + r.stderr
    assert Index.load(s.index_dir).stale_files(s.corpus_dir) == []


def test_an_index_file_that_cannot_be_read_is_a_one_line_error(small, tmp_path):
    s = replace(small, index_dir=tmp_path / "index")
    shutil.copytree(small.index_dir, s.index_dir)
    seg = next((s.index_dir / "segments").iterdir())
    seg.unlink()
    seg.mkdir()  # read_bytes now fails with IsADirectoryError, not FileNotFoundError
    r = qa_cli("search", "stroke", env_extra={"QA_CORPUS": str(s.corpus_dir),
                                              "QA_INDEX": str(s.index_dir)})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"qa: error: cannot read index file {seg} (Is a directory); run 'qa build --full' to "
        "rebuild the index"]


def test_a_skipped_file_does_not_leave_the_index_stale(small, tmp_path):
    s = replace(small, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(small.corpus_dir, s.corpus_dir)
    shutil.copytree(small.index_dir, s.index_dir)
    (s.corpus_dir / "binary.txt").write_bytes(b"\x00\x01PK" * 100)
    report = build(s)
    assert [x for x in report.skipped if x.startswith("binary.txt: binary")]
    assert report.embedded == 0 and report.documents == 2
    assert Index.load(s.index_dir).stale_files(s.corpus_dir) == []
