"""The core on the real corpus: citations, retrieval modes, persistence, staleness, bad input."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, ROOT, qa_cli
from qa.bm25 import SparseBM25, tokenize
from qa.evaluate import highlight_on_answer, hits_needle, load_questions, score_question
from qa.store import Index, IndexCorrupt, IndexMissing, IndexOutdated, ModelMismatch, build
from qa.ingest import clean, decode, read_corpus
from qa.search import QueryError, Searcher
from qa.search.highlight import best_sentence
from qa.sentences import sentence_spans, sentences

HASU = "We confirmed that the proposal is for a single HASU and ASU at UHCW is the preferred model."
SMALL_DOC = "001_5315744c9454198c.txt"


@pytest.fixture()
def small_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SMALL_DOC, corpus / SMALL_DOC)
    return corpus


def small_settings(settings, corpus: Path, tmp_path: Path):
    return replace(settings, corpus_dir=corpus, index_dir=tmp_path / "index")


# --- citations ------------------------------------------------------------------------------

def test_every_passage_is_the_exact_span_it_cites(index):
    assert len(index.passages) > 300
    for p in index.passages:
        doc = index.doc_by_id[p.doc_id]
        assert doc.text[p.start:p.end] == p.text
        assert p.text.strip() == p.text and p.text


def test_no_extraction_markup_reaches_readers(index):
    for d in index.docs:
        for mark in ("**", "<ul", "<li", "</", "<i>", "<p>", "<u>"):
            assert mark not in d.text, (d.doc_id, mark)


def test_cleaning_keeps_words_apart_where_markup_stood():
    text, bold, labels = clean("Cancer\t<ul style=\"x\"> • Roll out <i>now</i> • HPV</ul>\n"
                               "**Heading**\n- **Diagnostics** – the system acknowledges\n")
    assert text == "Cancer\t• Roll out now • HPV\nHeading\n- Diagnostics – the system acknowledges\n"
    first = len("Cancer\t• Roll out now • HPV\n")
    assert bold == {first}
    assert labels == {first + len("Heading\n"): "Diagnostics"}


def test_agenda_pack_citations_name_the_paper(searcher):
    res = searcher.search("by when is the winter plan due to be submitted?", k=5)
    hit = next(h for h in res.results if "1st December, 2017" in h.text)
    assert hit.paper.startswith("Minutes of the Health and Social Care Scrutiny Board (5)")
    assert "11 October 2017" in hit.paper
    papers = {p.paper for p in searcher.index.passages if p.doc_id.startswith("003_")}
    assert any(p.startswith("Briefing note: Primary Care Sustainability") for p in papers)
    assert "Health and Social Care Scrutiny Board Work Programme 2017/18" in papers


def test_section_paths_follow_numbered_headings(index):
    sections = {p.section for p in index.passages if p.doc_id.startswith("000_")}
    assert "5. Transformation Work stream updates › 5.6. Planned Care" in sections


def test_dates_and_contact_lines_are_no_section(index):
    # Set apart like headings in the agenda pack, but a citation to "§ Telephone: ..." or a
    # contents entry "Monday, 13 November 2017" would tell a reader nothing.
    sections = {part for p in index.passages for part in p.section.split(" › ")}
    assert any(p.text.count("Telephone: (024) 7683") for p in index.passages)
    for odd in ("Telephone:", "Tel:", "Date:", "Monday, 13 November", "@coventry.gov.uk",
                "WEDNESDAY, 13 DECEMBER"):
        assert not [s for s in sections if odd in s], odd
    assert "Time and Date" in sections and "Contact Details" in sections


def test_table_rows_carry_their_header(index):
    row = next(p for p in index.passages if "Sickness Absence % - as at end of July 2019" in p.text)
    assert row.kind == "table"
    assert "UHCW\tGEH\tSWFT\tCWPT" in row.context or "UHCW\tGEH\tSWFT\tCWPT" in row.text


# --- search ---------------------------------------------------------------------------------

def test_stroke_question_finds_the_hasu_passage_among_stroke_passages(searcher):
    res = searcher.search("what is the stroke model?", k=10)
    # The five-year plan's stroke passages (redesign, post-hospital rehabilitation model) may
    # come first; the assurance letter's HASU decision must follow close behind.
    assert all("stroke" in h.text.lower() for h in res.results[:5])
    assert any(hits_needle(h.text, HASU) for h in res.results[:5])
    top = res.results[0]
    assert top.title and top.date and top.doc_id
    for h in res.results:
        for a, b in h.highlights:
            assert 0 <= a < b <= len(h.text)


def test_every_passage_has_its_sentences_embedded(index):
    sv = index.sentences
    assert sv.consistent(len(index.passages))
    np.testing.assert_allclose(np.linalg.norm(sv.vectors, axis=1), 1.0, atol=1e-4)
    for pid, p in enumerate(index.passages):
        spans = sv.of(pid)
        assert len(spans) >= 1
        assert all(0 <= a < b <= len(p.text) for a, b in spans)
        assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
        # Every word lies in some sentence: a list item or table row without a full stop is
        # a sentence too, not a gap between two.
        covered = np.zeros(len(p.text), bool)
        for a, b in spans:
            covered[a:b] = True
        assert all(covered[i] for i, ch in enumerate(p.text) if ch.isalnum()), p.text


def test_sentences_keep_figures_and_abbreviations_whole():
    text = ("The total value was £179.5m (£63.897m of council resources). We will, e.g. by 2020, "
            "act; then review.\nStroke Care\t• Introduce a model by 2020 • Deliver 3.9% more")
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "The total value was £179.5m (£63.897m of council resources).",
        "We will, e.g. by 2020, act;", "then review.", "Stroke Care",
        "Introduce a model by 2020", "Deliver 3.9% more"]


def test_a_pronoun_sentence_is_about_its_predecessors_subject():
    text = ("The Digital Transformation Board (DTB) draws members from every organisation. "
            "It is accountable for monitoring the digital workplan. Meetings are quarterly.")
    sents = sentences(text, sentence_spans(text))
    assert {"digit", "transform", "account"} <= sents[1].terms
    assert "account" not in sents[0].terms and "transform" not in sents[2].terms
    question = "what is the digital transformation board accountable for"
    weights = {t: 1.0 for t in tokenize(question)}
    (a, b), = best_sentence(sents, weights, None, 0.0)
    assert text[a:b].startswith("It is accountable")


def test_sentence_vectors_single_out_the_answering_sentence(searcher, index):
    # The loneliness figures sit in a paragraph that goes on to rurality and transport; the
    # question shares no word with them ("retirees", "company"), so only meaning can find them.
    pid = next(i for i, p in enumerate(index.passages) if "Almost 1 in 3 (31%)" in p.text)
    text = index.passages[pid].text
    q = searcher.encoder.encode(["how many retirees have no company?"])[0]
    found = index.sentences.cosines(q, np.array([pid - 1, pid]))
    sims = found.of(1)
    assert len(found.of(0)) == len(index.sentences.of(pid - 1))
    a, b = index.sentences.of(pid)[int(np.argmax(sims))]
    assert "65" in text[a:b] and ("lonely" in text[a:b] or "alone" in text[a:b])
    rural = next(j for j, (x, y) in enumerate(index.sentences.of(pid)) if "rural" in text[x:y])
    assert sims[rural] < sims.max() - 0.05
    assert found.best()[1] == pytest.approx(float(sims.max()))
    # Blended into the dense score, the best sentence lifts its passage above its own cosine.
    cosine = float(index.vectors[pid] @ q)
    w = searcher.settings.sentence_weight
    assert (1 - w) * cosine + w * found.best()[1] > cosine


def test_highlight_lies_on_the_answering_sentence(searcher):
    res = searcher.search("how many older people feel lonely or isolated?", k=5)
    hit = next(h for h in res.results if "Almost 1 in 3 (31%)" in h.text)
    (a, b), = hit.highlights
    assert hit.text[a:b].startswith("Loneliness and social isolation: Almost 1 in 3 (31%)")
    # BM25 alone has no question vector: the highlight is the sentence sharing most words,
    # and none when the passage matched only on its title or section.
    res = searcher.search("stroke services", k=5, mode="bm25")
    for h in res.results:
        assert all("stroke" in h.text[a:b].lower() or "servic" in h.text[a:b].lower()
                   for a, b in h.highlights)
    assert res.results[0].highlights


def test_torch_encoder_pools_the_same_sentences_as_int8():
    from qa.embed import get_encoder

    text = "Stroke services will be redesigned. A single HASU at UHCW is the preferred model."
    spans = [[(0, 35), (36, len(text))]]
    (tv,), (tpooled,) = get_encoder(encoder="torch").encode_spans([text], spans)
    (ov,), (opooled,) = get_encoder(encoder="int8").encode_spans([text], spans)
    assert float(tv @ ov) > 0.98
    assert tpooled.shape == opooled.shape == (2, 384)
    assert np.all(np.sum(tpooled * opooled, axis=1) > 0.98)
    assert float(tpooled[0] @ tpooled[1]) < 0.95  # two sentences, two vectors

    # A model whose tokenizer cannot give offsets still builds: its sentences fall back to
    # their passage's vector.
    from unittest import mock

    torch_enc = get_encoder(encoder="torch")
    slow = mock.PropertyMock(return_value=mock.Mock(is_fast=False))
    with mock.patch.object(type(torch_enc.model), "tokenizer", slow):
        (v,), (pooled,) = torch_enc.encode_spans([text], spans)
    np.testing.assert_allclose(pooled, np.stack([v, v]), atol=1e-6)


@pytest.mark.parametrize("mode", ["bm25", "dense"])
def test_each_retriever_works_alone(searcher, mode):
    res = searcher.search("what is the stroke model?", k=10, mode=mode)
    assert res.mode == mode and len(res.results) == 10
    assert [h.rank for h in res.results] == list(range(1, 11))
    assert all(a.score >= b.score for a, b in zip(res.results, res.results[1:]))
    assert sum("stroke" in h.text.lower() for h in res.results[:5]) >= 3


def test_fusions_differ_and_both_rank(searcher):
    rrf = searcher.search("SWFT vacancy rate", k=5, fusion="rrf")
    score = searcher.search("SWFT vacancy rate", k=5, fusion="score")
    for res in (rrf, score):
        assert "Vacancy % - as at end of July" in res.results[0].text
    assert [h.score for h in rrf.results] != [h.score for h in score.results]


def test_filters_restrict_documents(searcher):
    res = searcher.search("stroke", k=10, doc="000_39354a0ede1fe7a3")
    assert res.results and all(h.doc_id == "000_39354a0ede1fe7a3" for h in res.results)
    res = searcher.search("GP workforce", k=10, area="Hertfordshire and West Essex")
    assert res.results and all(h.area == "Hertfordshire and West Essex" for h in res.results)


def test_acronyms_are_expanded_from_the_corpus(index):
    assert index.glossary.entries.get("LWAB") == "Local Workforce Action Board"
    assert "Integrated Single Point of Access" in index.glossary.expand("what is iSPA")


def test_asking_what_an_acronym_stands_for_puts_its_definition_first(searcher, index):
    g = index.glossary
    assert g.asked_about(["camhs"]) == "CAMHS" and g.asked_about(["stroke", "model"]) is None
    for question, acronym in (("what does CAMHS stand for?", "CAMHS"), ("CAMHS meaning", "CAMHS"),
                              ("what is PEG", "PEG")):
        top = searcher.search(question, k=3).results[0]
        assert g.defines(top.text, acronym), (question, top.text[:200])
    res = searcher.search("CAMHS meaning", k=1)
    assert f"{g.entries['CAMHS']} (CAMHS)" in res.results[0].text
    assert res.definition.acronym == "CAMHS" and res.definition.expansion == g.entries["CAMHS"]
    assert searcher.search("CAMHS waiting times", k=1).definition is None
    # An ordinary question is fused as before: scores stay within 0-1.
    assert all(h.score <= 1 for h in searcher.search("CAMHS waiting times", k=10).results)


def test_off_topic_question_says_no_answer(searcher):
    assert searcher.search("recipe for chocolate cake", k=5).no_answer
    assert not searcher.search("what is the stroke model?", k=5).no_answer


@pytest.mark.parametrize("query,k,mode,message", [
    ("", 10, "hybrid", "empty"),
    ("   \n", 10, "hybrid", "empty"),
    ("x" * 10_000, 10, "hybrid", "limit"),
    ("stroke", 0, "hybrid", "k must"),
    ("stroke", "abc", "hybrid", "k must"),
    ("stroke", 51, "hybrid", "k must"),
    ("stroke", 10, "fuzzy", "unknown mode"),
])
def test_bad_queries_raise_clear_errors(searcher, query, k, mode, message):
    with pytest.raises(QueryError, match=message):
        searcher.search(query, k=k, mode=mode)


def test_unknown_filters_raise(searcher):
    with pytest.raises(QueryError, match="unknown document"):
        searcher.search("stroke", doc="nope")
    with pytest.raises(QueryError, match="unknown area"):
        searcher.search("stroke", area="Atlantis")


# --- BM25 -----------------------------------------------------------------------------------

def test_sparse_bm25_scores_equal_rank_bm25():
    from rank_bm25 import BM25Okapi

    docs = [tokenize(t) for t in ("the stroke unit at UHCW", "stroke rehabilitation services",
                                  "GP workforce and GP practices", "maternity services vision")]
    ours = SparseBM25.fit(docs)
    theirs = BM25Okapi(docs, k1=1.2, b=0.75)
    for q in (tokenize("stroke services"), tokenize("GP GP workforce"), tokenize("unknown")):
        np.testing.assert_allclose(ours.scores(q), theirs.get_scores(q), rtol=1e-5, atol=1e-6)


# --- persistence ----------------------------------------------------------------------------

def test_index_round_trips_through_save_and_load(index, searcher, settings):
    loaded = Index.load(settings.index_dir)
    assert [p.text for p in loaded.passages] == [p.text for p in index.passages]
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    again = Searcher(loaded, settings).search("SWFT vacancy rate", k=5)
    first = searcher.search("SWFT vacancy rate", k=5)
    assert [h.passage_id for h in again.results] == [h.passage_id for h in first.results]
    m = loaded.manifest
    assert m["model"] == settings.model and m["dimensions"] == 384 and m["passages"] > 0
    assert set(m["files"]) >= {SMALL_DOC, "catalog.json"}
    assert m["chunker"] == settings.chunk.as_dict()


def test_staleness_is_detected(settings, small_corpus, tmp_path):
    s = small_settings(settings, small_corpus, tmp_path)
    build(s)
    assert Index.load(s.index_dir).stale_files(small_corpus) == []
    with open(small_corpus / SMALL_DOC, "a") as f:
        f.write("\nA new paragraph.\n")
    assert Index.load(s.index_dir).stale_files(small_corpus) == [SMALL_DOC]
    out = qa_cli("search", "stroke", "-k", "1",
                 env_extra={"QA_INDEX": str(s.index_dir), "QA_CORPUS": str(small_corpus)})
    assert out.returncode == 0 and "stale" in out.stderr


def test_model_mismatch_is_refused(index, settings, cli_env):
    with pytest.raises(ModelMismatch, match="built with model"):
        Searcher(index, replace(settings, model="some/other-model"))
    # The command line says so in one line, not after a warning about the encoder.
    out = qa_cli("search", "stroke", env_extra={**cli_env, "QA_MODEL": "some/other-model"})
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "built with model 'all-MiniLM-L6-v2'" in out.stderr


def test_killed_build_leaves_previous_index_usable(settings, index, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    previous = Index.load(index_dir).path
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_INDEX": str(index_dir),
           "QA_CORPUS": str(settings.corpus_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--full"],
                            stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    for line in proc.stderr:  # kill it in the middle of embedding, as a power cut would
        if line.startswith("embedded"):
            proc.kill()
            break
    proc.wait(timeout=60)
    assert proc.returncode != 0
    reloaded = Index.load(index_dir)
    assert reloaded.path == previous and len(reloaded.passages) == len(index.passages)


def test_index_from_an_older_planqa_is_rebuilt_by_serve(settings, small_corpus, tmp_path):
    from qa.cli import open_searcher

    s = small_settings(settings, small_corpus, tmp_path)
    path = build(s).path
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    with pytest.raises(IndexOutdated, match="qa build"):
        Index.load(s.index_dir)
    out = qa_cli("search", "stroke", env_extra={"QA_INDEX": str(s.index_dir),
                                                "QA_CORPUS": str(small_corpus)})
    assert out.returncode == 1 and "format 1" in out.stderr and "Traceback" not in out.stderr
    rebuilt = open_searcher(s, rebuild_if_needed=True)
    assert rebuilt.index.manifest["format"] != 1 and rebuilt.index.path != path
    assert rebuilt.search("stroke", k=1).results


def test_an_index_of_another_encoder_is_rebuilt_by_serve_and_warned_of_by_search(
        settings, small_corpus, tmp_path, capsys):
    # An upgrade from the float32 default to int8 (or a new onnxruntime) must not leave
    # passages encoded one way met by questions encoded another, unsaid.
    from qa.cli import open_searcher

    s = small_settings(settings, small_corpus, tmp_path)
    built = build(s).path
    onnx = replace(s, encoder="onnx")
    searcher = open_searcher(onnx)
    assert searcher.index.path == built and searcher.search("stroke", k=1).results
    warning = capsys.readouterr().err
    assert "another encoder" in warning and "qa build" in warning
    rebuilt = open_searcher(onnx, rebuild_if_needed=True)
    assert rebuilt.index.path != built and rebuilt.index.manifest["encoder"] == "onnx"
    assert "rebuilding" in capsys.readouterr().err
    assert open_searcher(onnx).index.path == rebuilt.index.path
    assert capsys.readouterr().err == ""


def test_missing_and_corrupt_index(settings, small_corpus, tmp_path):
    s = small_settings(settings, small_corpus, tmp_path)
    with pytest.raises(IndexMissing, match="qa build"):
        Index.load(s.index_dir)
    path = build(s).path
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="manifest.json"):
        Index.load(s.index_dir)


# --- documents ------------------------------------------------------------------------------

def test_bad_files_are_skipped_with_a_warning(small_corpus):
    (small_corpus / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (small_corpus / "legacy.txt").write_bytes("Caf\xe9 strategy \x96 2018\n".encode("latin-1"))
    docs, warnings = read_corpus(small_corpus)
    assert [w for w in warnings if "binary.txt" in w]
    legacy = next(d for d in docs if d.path == "legacy.txt")
    assert legacy.text.startswith("Café strategy – 2018")


def test_document_without_catalog_entry_gets_inferred_metadata(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_a45d7b1da6d1bef7.txt", corpus / "report.txt")
    (doc,), _ = read_corpus(corpus)
    assert doc.date == "2017-12-13"
    assert doc.area == "Hertfordshire and West Essex"
    assert doc.body.lower() == "hertfordshire county council"


def test_decode_rejects_binary():
    with pytest.raises(ValueError, match="binary"):
        decode(b"abc\x00def")


# --- the command line -----------------------------------------------------------------------

def test_cli_search_prints_cited_passages(cli_env):
    out = qa_cli("search", "what is the stroke model?", "-k", "5", env_extra=cli_env)
    assert out.returncode == 0, out.stderr
    assert "HASU" in out.stdout and "§" in out.stdout and "5 passages" in out.stdout
    out = qa_cli("search", "what is the stroke model?", "-k", "1", env_extra=cli_env)
    assert out.stdout.rstrip().splitlines()[-1].startswith("1 passage, hybrid")


def test_cli_search_json_contract(cli_env, settings):
    out = qa_cli("search", "what is the stroke model?", "--json", "-k", "4", "--mode", "bm25",
                 env_extra=cli_env)
    data = json.loads(out.stdout)
    assert set(data) >= {"query", "mode", "k", "took_ms", "no_answer", "results"}
    assert data["mode"] == "bm25" and data["k"] == 4 and len(data["results"]) == 4
    docs = {d.doc_id: d for d in Index.load(settings.index_dir).docs}
    for r in data["results"]:
        assert set(r) >= {"rank", "score", "doc_id", "title", "date", "area", "section", "start",
                          "end", "text", "highlights"}
        assert docs[r["doc_id"]].text[r["start"]:r["end"]] == r["text"]


@pytest.mark.parametrize("args,message", [
    (["search", ""], "empty"),
    (["search", "   "], "empty"),
    (["search", "x" * 10_000], "limit"),
    (["search", "stroke", "-k", "0"], "whole number"),
    (["search", "stroke", "-k", "abc"], "whole number"),
    (["eval", "/nonexistent/questions.jsonl"], "cannot read"),
    (["search", "stroke", "--mode", "foo"], "invalid choice"),
    (["search"], "required"),
    (["nosuch"], "invalid choice"),
])
def test_cli_bad_input_is_one_clear_line(cli_env, args, message):
    out = qa_cli(*args, env_extra=cli_env)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.startswith("qa: error: ") and out.stderr.count("\n") == 1


def test_cli_eval_of_a_file_that_is_not_questions_names_what_is_wrong(cli_env, tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "x"}\n')
    out = qa_cli("eval", str(path), env_extra=cli_env)
    assert out.returncode == 2
    assert out.stderr == f"qa: error: {path}, line 1: a question record needs the field 'question'\n"
    # A needle shorter than the hit rule's shortest run could never be hit: said, not scored 0.
    path.write_text('{"id": "x", "question": "what visits?", "kind": "factual", '
                    '"gold": [{"doc": "a.pdf", "needle": "reablement visits"}]}\n')
    out = qa_cli("eval", str(path), env_extra=cli_env)
    assert out.returncode == 2 and "'reablement visits' has fewer than 4 words" in out.stderr


def test_cli_missing_index(tmp_path):
    out = qa_cli("search", "stroke", env_extra={"QA_INDEX": str(tmp_path / "none")})
    assert out.returncode == 1 and "qa build" in out.stderr and "Traceback" not in out.stderr


def test_cli_build_summary(settings, small_corpus, tmp_path):
    out = qa_cli("build", env_extra={"QA_INDEX": str(tmp_path / "ix"), "QA_CORPUS": str(small_corpus)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("built index: 1 documents,") and "1 added" in out.stdout
    assert "embedded" in out.stderr


# --- evaluation -----------------------------------------------------------------------------

def test_scorer_follows_the_hit_rule():
    needle = "The NHS spends £274 million annually on drugs across the STP"
    assert hits_needle("... The NHS spends £274 million annually on drugs ...", needle)
    assert not hits_needle("The NHS spends a lot on drugs", needle)
    s = score_question(["nothing here", needle], [needle, "some other needle entirely here"])
    assert s["hit@1"] == 0 and s["hit@3"] == 1 and s["mrr@10"] == 0.5 and s["recall@10"] == 0.5


def test_highlight_on_answer_rule():
    from types import SimpleNamespace

    needle = "up to 26% of demand on GP time could be avoided"
    text = f"Demand is rising. It is estimated that {needle}. Other news."
    at = text.find(needle)
    on = SimpleNamespace(text=text, highlights=[[at - 22, at + len(needle) + 1]])
    off = SimpleNamespace(text=text, highlights=[[0, 17]])
    assert highlight_on_answer(on, [needle]) is True
    assert highlight_on_answer(off, [needle]) is False
    assert highlight_on_answer(off, ["a needle cut by the passage edge"]) is None


def test_cli_eval_reports_every_mode(cli_env):
    out = qa_cli("eval", str(ROOT / "eval" / "dev.jsonl"), "--json", env_extra=cli_env,
                 timeout=300)
    assert out.returncode == 0, out.stderr
    reports = {r["mode"]: r for r in json.loads(out.stdout)["reports"]}
    assert set(reports) == {"bm25", "dense", "hybrid"}
    questions = load_questions(ROOT / "eval" / "dev.jsonl")
    assert reports["hybrid"]["answerable"] == sum(bool(q.needles) for q in questions)
    assert reports["hybrid"]["overall"]["hit@10"] >= 0.8
    assert "multi_doc" in reports["hybrid"]["by_kind"]


def test_cli_eval_of_unanswerable_questions_only(cli_env, tmp_path):
    # No answerable question: the answer metrics have nothing to average and print as "-".
    path = tmp_path / "silent.jsonl"
    path.write_text(json.dumps({"id": "u1", "question": "what will the moon base cost?",
                                "kind": "unanswerable", "gold": []}) + "\n")
    out = qa_cli("eval", str(path), "--modes", "bm25", env_extra=cli_env)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert re.search(r"ndcg@10\s+-\n", out.stdout) and "no-answer, unanswerable" in out.stdout
