"""Real files of each format through a real build, the real model and a real search."""
from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import qa_cli
from fixtures.make import HTML_PAGE, MARKDOWN, PDF_FACT, plan_docx, plan_pdf, scanned_pdf
from qa.index import Index, build
from qa.search import Searcher


@pytest.fixture(scope="module")
def mixed(settings, tmp_path_factory):
    """A corpus of one file per format (and two that cannot be read), built and loaded."""
    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "2018-05-23 West Essex strategy.pdf").write_bytes(plan_pdf())
    (corpus / "crisis care.docx").write_bytes(plan_docx())
    (corpus / "stroke.html").write_bytes(HTML_PAGE.encode())
    (corpus / "camhs.md").write_text(MARKDOWN)
    (corpus / "scan.pdf").write_bytes(scanned_pdf())
    (corpus / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    s = replace(settings, corpus_dir=corpus, index_dir=root / "index")
    index, warnings = build(s)
    index.save(s.index_dir)
    return s, Searcher(Index.load(s.index_dir), s), warnings


def test_a_fact_on_page_3_of_a_pdf_is_found_and_cited_at_page_3(mixed):
    _, searcher, _ = mixed
    res = searcher.search("when will the urgent treatment centre at Watford open?", k=3)
    top = res.results[0]
    assert PDF_FACT in top.text
    assert (top.page, top.page_end) == (3, None)
    assert top.section.endswith("2. Urgent Treatment Centres")
    assert top.doc_id == "2018-05-23~20West~20Essex~20strategy.pdf"
    assert res.to_dict()["results"][0]["page"] == 3


def test_table_rows_of_pdf_and_word_are_found_with_their_headers(mixed):
    _, searcher, _ = mixed
    hit = searcher.search("frailty unit hours a week", k=1).results[0]
    assert "Frailty unit\t70 hours a week\tMarch 2019" in hit.text and hit.page == 3
    idx = searcher.index
    row = idx.passages[hit.passage_id]
    assert "Service\tTarget\tDue" in row.text + row.context
    hit = searcher.search("how many beds in the crisis house", k=1).results[0]
    assert "Crisis house\t12 beds" in hit.text and hit.page is None
    row = idx.passages[hit.passage_id]
    assert "Scheme\tBeds\tOpens" in row.text + row.context


def test_every_format_is_indexed_and_each_skip_is_named(mixed):
    s, searcher, warnings = mixed
    assert sorted(d.path for d in searcher.index.docs) == [
        "2018-05-23 West Essex strategy.pdf", "camhs.md", "crisis care.docx", "stroke.html"]
    skipped = searcher.index.manifest["skipped"]
    assert any("scan.pdf" in w and "no text layer" in w for w in skipped)
    assert any("chart.png" in w and "PNG image" in w for w in skipped)
    assert "STRIPME" not in searcher.index.doc_by_id["stroke.html"].text
    # Staleness watches every file, the skipped ones too.
    assert {"scan.pdf", "chart.png"} <= set(searcher.index.manifest["files"])


def test_cli_shows_the_page_and_names_skipped_files(mixed, tmp_path):
    s, _, _ = mixed
    env = {"QA_CORPUS": str(s.corpus_dir), "QA_INDEX": str(s.index_dir)}
    out = qa_cli("search", "urgent treatment centre at Watford", "-k", "1", env_extra=env)
    assert out.returncode == 0, out.stderr
    assert "p. 3, characters" in out.stdout and "2. Urgent Treatment Centres" in out.stdout
    out = qa_cli("build", env_extra={**env, "QA_INDEX": str(tmp_path / "index")})
    assert out.returncode == 0, out.stderr
    assert "skipped scan.pdf: no text layer" in out.stderr
    assert "skipped chart.png: unsupported format (a PNG image)" in out.stderr
    assert "4 documents" in out.stdout and "2 file(s) skipped" in out.stdout
