"""The commitments register on the real corpus: extraction, normalisation, filters, outputs."""
from __future__ import annotations

import csv
import io

import pytest

from qa.commitments import (CSV_COLUMNS, FilterError, due_date, extract, figures, is_commitment,
                            select, to_csv)
from conftest import qa_cli, validate


@pytest.fixture(scope="session")
def items(index):
    return extract(index)


def find(items, needle: str):
    found = [c for c in items if needle in c.text]
    assert found, f"not extracted: {needle!r}"
    return found[0]


def test_every_commitment_is_an_exact_span(items, index):
    assert len(items) > 200
    for c in items:
        assert index.doc_by_id[c.doc_id].text[c.start:c.end] == c.text


@pytest.mark.parametrize("needle,due,figs,topic", [
    ("Deliver ten-fold increase in the number of our patients who receive a thrombectomy",
     "2022", ["ten-fold"], "Stroke Care"),
    ("An Action plan will be agreed by October.", "2017-10", [], ""),
    ("to be implemented by 1st March 2018", "2018-03", [], ""),
    ("Reduce Face to face outpatient attendances by 30% by 2023/24", "2024-03", ["30%"],
     "Short waits for planned care"),
    ("Establish iSPA", "2018-09", [], ""),
    ("The savings target for 2017/18 is £13.8m", None, ["£13.8m", "£4m"], ""),
])
def test_commitments_found_in_the_plans(items, needle, due, figs, topic):
    c = find(items, needle)
    assert (c.due, c.topic, c.figures) == (due, topic, figs)
    assert c.title and c.section


@pytest.mark.parametrize("text", [
    "Shared care records have been successfully implemented in west Essex",
    "The board is asked to note this report and its contents",
    "Workforce challenges will be an issue for all work streams.",
    "These show how they will achieve the following key targets:",
])
def test_background_past_events_and_notes_are_not_commitments(items, index, text):
    assert any(text in d.text for d in index.docs), "the example is from the corpus"
    assert not [c for c in items if text in c.text]


def test_owner_is_taken_from_the_text(items):
    c = find(items, "This work stream will be relaunching the programme of work in December 2017")
    assert c.owner == "Self-Management" and c.due == "2017-12"


@pytest.mark.parametrize("kind,text,expected", [
    ("sentence", "We will reduce face to face outpatients by 30% by 2023.", True),
    ("sentence", "The system aims to halve delayed transfers.", True),
    ("cell", "Expand pulmonary rehabilitation", True),
    ("sentence", "Expand pulmonary rehabilitation", False),
    ("sentence", "The report was submitted to NHS England in June.", False),
    ("sentence", "What the first year will look like", False),
])
def test_is_commitment(kind, text, expected):
    assert is_commitment(text, kind) is expected


@pytest.mark.parametrize("text,doc_date,expected", [
    ("direct record sharing by September 2018", "", "2018-09"),
    ("in place by 2023/24", "", "2024-03"),
    ("by the end of 19/20", "", "2020-03"),
    ("Extend lung health checks model by 2022", "", "2022"),
    ("An Action plan will be agreed by October.", "2017-07-10", "2017-10"),
    ("agreed by February", "2017-07-10", "2018-02"),
    ("Sept 18 for health", "", "2018-09"),
    ("Roll out of Rapid Diagnostic Centres from 2019", "", None),
    ("We will improve community first response", "", None),
])
def test_due_dates_are_normalised(text, doc_date, expected):
    assert due_date(text, doc_date) == expected


def test_figures_are_normalised():
    assert figures("savings of £13.8m, £274 million a year, £7million, £1,200k and 85% "
                   "with a ten-fold rise; £000's") == ["£13.8m", "£274m", "£7m", "£1200k", "85%",
                                                      "ten-fold"]


def test_filters(items, index):
    before = select(items, index, due_before="2020")
    assert before and all(c.due and int(c.due[:4]) < 2020 for c in before)
    after = select(items, index, due_after="2022")
    assert after and all(c.due and int(c.due[:4]) > 2022 for c in after)
    assert any(c.due == "2024-03" for c in after)
    month = select(items, index, due_before="2019-04", due_after="2019-02")
    assert month and all(c.due == "2019-03" for c in month)
    stroke = select(items, index, q="thrombectomy")
    assert [c.topic for c in stroke] == ["Stroke Care"]
    herts = select(items, index, area="hertfordshire and west essex")
    assert herts and {c.doc_id for c in herts} == {"004_a45d7b1da6d1bef7"}
    assert {c.doc_id for c in select(items, index, doc="000_39354a0ede1fe7a3")} == {
        "000_39354a0ede1fe7a3"}
    assert select(items, index, q="zebra crossing") == []


@pytest.mark.parametrize("kwargs,message", [
    ({"due_before": "abc"}, "year"),
    ({"due_after": "2019-13"}, "year"),
    ({"area": "Atlantis"}, "unknown area"),
    ({"doc": "nope"}, "unknown document"),
])
def test_filters_that_make_no_sense(items, index, kwargs, message):
    with pytest.raises(FilterError, match=message):
        select(items, index, **kwargs)


def test_csv_columns(items, index):
    rows = list(csv.reader(io.StringIO(to_csv(select(items, index, q="stroke")))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) > 2 and all(len(r) == len(CSV_COLUMNS) for r in rows)
    thrombectomy = next(r for r in rows if "thrombectomy" in r[0])
    record = dict(zip(CSV_COLUMNS, thrombectomy))
    assert record["due"] == "2022" and record["figures"] == "ten-fold"
    assert record["topic"] == "Stroke Care" and int(record["end"]) > int(record["start"])


# --- API, page, command line ----------------------------------------------------------------

def test_api_commitments(app, spec, index):
    client = app.test_client()
    resp = client.get("/api/commitments", query_string={"q": "stroke", "due_after": "2019"})
    body = resp.get_json()
    assert resp.status_code == 200
    validate(spec, "/api/commitments", 200, body)
    assert body["commitments"] and all(int(c["due"][:4]) > 2019 for c in body["commitments"])
    for c in body["commitments"]:
        assert index.doc_by_id[c["doc_id"]].text[c["start"]:c["end"]] == c["text"]
    bad = client.get("/api/commitments", query_string={"due_before": "abc"})
    assert bad.status_code == 400
    validate(spec, "/api/commitments", 400, bad.get_json())


def test_commitments_page_and_csv_download(app):
    client = app.test_client()
    html = client.get("/commitments", query_string={"q": "thrombectomy"}).get_data(as_text=True)
    assert "1 commitments" in html and "Stroke Care" in html and "2022" in html
    assert "/commitments.csv?q=thrombectomy" in html and "/doc/002_9dbce684fc8a7123?start=" in html
    resp = client.get("/commitments.csv", query_string={"q": "thrombectomy"})
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_data(as_text=True).count("\n") == 2
    empty = client.get("/commitments", query_string={"q": "zebra"}).get_data(as_text=True)
    assert "No commitments match these filters." in empty
    bad = client.get("/commitments", query_string={"due_before": "soon"})
    assert bad.status_code == 400 and "must be a year" in bad.get_data(as_text=True)


def test_cli_commitments(cli_env):
    out = qa_cli("commitments", "--q", "thrombectomy", env_extra=cli_env)
    assert out.returncode == 0 and "Stroke Care: Deliver ten-fold increase" in out.stdout
    out = qa_cli("commitments", "--q", "stroke", "--csv", env_extra=cli_env)
    assert out.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    out = qa_cli("commitments", "--due-before", "abc", env_extra=cli_env)
    assert out.returncode == 2 and "year" in out.stderr and "Traceback" not in out.stderr
    out = qa_cli("commitments", "--area", "Atlantis", env_extra=cli_env)
    assert out.returncode == 2 and "unknown area" in out.stderr
    out = qa_cli("commitments", "--q", "zebra", "--json", env_extra=cli_env)
    assert out.returncode == 0 and "no commitments match" in out.stderr
    assert out.stdout.strip().replace("\n", "").replace(" ", "") == '{"commitments":[]}'
