"""The commitments register on the real corpus: extraction, normalisation, filters, outputs."""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import date

import pytest

from qa.commitments import (CSV_COLUMNS, PAGE_SIZE, FilterError, due_date, extract, figures,
                            is_commitment, owner, select)
from conftest import ROOT, qa_cli, validate

PRONOUNS = {"we", "our", "us", "this", "that", "these", "those", "they", "there", "it", "its"}


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


def test_a_cell_copied_across_a_row_is_one_item(items):
    """A merged cell that the extraction copied into each of a row's columns: the register
    shows it once, not twice joined by tabs."""
    c = find(items, "Develop and deliver specific plans for specific project areas")
    assert "\t" not in c.text and c.text.count("Develop and deliver") == 1


@pytest.mark.parametrize("text", [
    "Shared care records have been successfully implemented in west Essex",
    "The board is asked to note this report and its contents",
    "Workforce challenges will be an issue for all work streams.",
    "These show how they will achieve the following key targets:",
])
def test_background_past_events_and_notes_are_not_commitments(items, index, text):
    assert any(text in d.text for d in index.docs), "the example is from the corpus"
    assert not [c for c in items if text in c.text]


def test_a_contents_page_lists_no_commitments(items, index):
    # The plan's contents page lists its sections, some worded as promises ("NHS staff will
    # get the backing they need"), each with its page number.
    assert any(p.section.endswith("CONTENTS") for p in index.passages), "a contents page"
    assert not [c for c in items if c.section.rsplit("›", 1)[-1].strip().lower() == "contents"]


def test_owner_is_taken_from_the_text(items):
    c = find(items, "This work stream will be relaunching the programme of work in December 2017")
    assert c.owner == "Self-Management" and c.due == "2017-12"
    assert find(items, "The Strategic Commissioner will move away").owner == "Strategic Commissioner"


@pytest.mark.parametrize("kind,text,expected", [
    ("sentence", "We will reduce face to face outpatients by 30% by 2023.", True),
    ("sentence", "The system aims to halve delayed transfers.", True),
    ("cell", "Expand pulmonary rehabilitation", True),
    ("sentence", "Expand pulmonary rehabilitation", False),
    ("sentence", "The report was submitted to NHS England in June.", False),
    ("sentence", "What the first year will look like", False),
    # issue 14: an ambition described is not one stated
    ("sentence", "This also expresses more clearly our shared ambition for the outcomes we "
                 "aspire towards.", False),
    # issue 14's misses: a task list's imperatives, "X to commission", a season's deadline
    ("bullet", "1. IAPT Long term Conditions Integration: Expand Improving Access to "
               "Psychological Therapies into Long Term Conditions pathways", True),
    ("bullet", "Core 24: Implement expansion of existing Rapid Access Interface Discharge "
               "psychiatric liaison services", True),
    ("bullet", "Directors of Finance to commission independent external review, addressing", True),
    ("bullet", "introducing Urgent Treatment Centres (UTCs) by autumn 2020", True),
    # a forecast is no undertaking; a clause before "to" is no named doer
    ("sentence", "With an ageing population, this issue is likely to increase by 2025.", False),
    ("sentence", "Projections suggest that there will be over 21,000 people aged 65+ living "
                 "alone in the city by 2025.", False),
    ("sentence", "We anticipate that by 2025 in Warwickshire there will be a 4.5% increase in "
                 "school age children on 2017.", False),
    ("sentence", "Estimates suggest that there will be approximately 32% more people aged 74 or "
                 "over living in a care home by 2025.", False),
    ("sentence", "In Coventry females can expect to live almost a quarter of their lives in poor "
                 "health (18.9 years).", False),
    ("sentence", "The CCG expects to commission two new services.", True),
    ("bullet", "Modelling undertaken as part of the strategy indicates that the gap between "
               "the number of GP FTEs and demand, by 2020, will be 91 FTE GPs.", False),
    ("bullet", "Demand and capacity modelling tools will be developed to assist System flow.",
     True),
    ("bullet", "The national specification does not require general practice to offer a set "
               "number of consultations", False),
    ("sentence", "Whilst members of the Board will represent their organisations, it is "
                 "recognised that planning will require an approach.", False),
    # a heading in a list is no task, though its first word may be a verb
    ("bullet", "Career pathways", False),
    ("row", "Stroke Care", False),
])
def test_is_commitment(kind, text, expected):
    assert is_commitment(text, kind) is expected


def test_a_list_after_a_committing_lead_in_is_pledged(items):
    # "This commits to" / "- providing an acute frailty service for 70hours a week ..."
    c = find(items, "providing an acute frailty service for 70hours a week")
    assert c.kind == "bullet"
    assert find(items, "introducing Urgent Treatment Centres (UTCs) by autumn 2020").due == "2020"
    assert not [c for c in items if c.text.strip() == "This commits to"]


def test_owners_are_bodies_or_workstreams_never_pronouns(items):
    owners = [c.owner for c in items if c.owner]
    assert len(owners) > 50
    for o in owners:
        assert o.split()[0].lower() not in PRONOUNS, o
        assert o[0].isupper(), o
    # "we" is the publishing body, or the workstream of a workstream's section
    c = find(items, "we will offer them support to develop in their new roles")
    assert c.owner == c.body == "Coventry and Warwickshire Health and Care Partnership"
    assert owner("We will roll out the model.", "5. Work stream updates › 5.2. Urgent Care",
                 "Some Council") == "Urgent Care"
    assert owner("They will also develop their role.", "5.1 Out of hospital care", "X") is None


def test_items_carry_publisher_and_date(items, index):
    for c in items:
        doc = index.doc_by_id[c.doc_id]
        assert (c.body, c.date, c.title) == (doc.body, doc.date, doc.title)


@pytest.mark.parametrize("text,doc_date,expected", [
    ("direct record sharing by September 2018", "", "2018-09"),
    ("in place by 2023/24", "", "2024-03"),
    ("by the end of 19/20", "", "2020-03"),
    ("Extend lung health checks model by 2022", "", "2022"),
    ("An Action plan will be agreed by October.", "2017-07-10", "2017-10"),
    ("agreed by February", "2017-07-10", "2018-02"),
    # a comma before the year is no month without one ("due July 2018" from a 2017 paper)
    ("submitted by 11th September, 2017", "2017-07-10", "2017-09"),
    ("tools were available in July, 2017", "2017-07-10", "2017-07"),
    ("in July,2017", "2017-09-01", "2017-07"),
    ("by October, 20 beds will open", "2017-07-10", "2017-10"),
    # a deadline before a date in passing; a day or "early" before the month
    ("tools were available in July, 2017 with the plan being submitted by 11th September, 2017",
     "2017-07-10", "2017-09"),
    ("the work will be launched on the 13th December 2017", "", "2017-12"),
    ("the revised plan will be presented in early February 2018", "", "2018-02"),
    # a timetable row whose last cell is its date
    ("Open the extra-care scheme\tHousing\tJune 2025", "", "2025-06"),
    ("Recommission home care\tAdult social care\t2025/26\t", "", "2026-03"),
    ("Housing\t2025 review of 2,400 homes", "", None),
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
    ({"q": "stroke " * 200}, "the most allowed is 1,000"),
])
def test_filters_that_make_no_sense(items, index, kwargs, message):
    with pytest.raises(FilterError, match=message):
        select(items, index, **kwargs)


def test_csv_reads_back_in_a_spreadsheet(app):
    resp = app.test_client().get("/commitments.csv",
                                 query_string={"area": "Hertfordshire and West Essex"})
    data = resp.get_data()
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark, for Excel"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="commitments-hertfordshire-and-west-essex-{date.today()}.csv"')
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    records = [dict(zip(CSV_COLUMNS, r)) for r in rows[1:]]
    assert len(records) > 20 and all(len(r) == len(CSV_COLUMNS) for r in rows)
    assert not [cell for r in rows for cell in r if "\n" in cell or "\r" in cell]
    assert {r["publisher"] for r in records} == {"Hertfordshire County Council"}
    assert {r["document date"] for r in records} == {"13 December 2017"}
    # deadlines as words a spreadsheet keeps as text, never "2018-09" (which Excel makes a date)
    dues = [r["due"] for r in records if r["due"]]
    assert dues and all(re.fullmatch(r"by ([A-Z][a-z]+ )?\d{4}", d) for d in dues)
    assert "by September 2018" in dues
    assert all(r["link"].startswith("/doc/004_a45d7b1da6d1bef7?start=") for r in records)
    pounds = app.test_client().get("/commitments.csv", query_string={"q": "savings target"})
    assert "£13.8m" in pounds.get_data().decode("utf-8-sig")


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
        assert c["link"] == f"/doc/{c['doc_id']}?start={c['start']}&end={c['end']}#passage"
        assert c["text"] in c["citation"] and c["link"] in c["citation"]
    herts = client.get("/api/commitments", query_string={
        "q": "signposting", "area": "Hertfordshire and West Essex"}).get_json()
    assert "Hertfordshire County Council, 13 December 2017" in herts["commitments"][0]["citation"]
    bad = client.get("/api/commitments", query_string={"due_before": "abc"})
    assert bad.status_code == 400
    validate(spec, "/api/commitments", 400, bad.get_json())


def test_commitments_page_and_csv_download(app):
    client = app.test_client()
    html = client.get("/commitments", query_string={"q": "thrombectomy"}).get_data(as_text=True)
    assert "1 commitment." in html and "Stroke Care" in html and "by 2022" in html
    assert "Coventry and Warwickshire Health and Care Partnership" in html
    assert "/commitments.csv?q=thrombectomy" in html and "/doc/002_9dbce684fc8a7123?start=" in html
    assert 'class="secondary copy" data-citation="“Stroke Care: Deliver ten-fold' in html
    resp = client.get("/commitments.csv", query_string={"q": "thrombectomy"})
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_data(as_text=True).count("\n") == 2
    empty = client.get("/commitments", query_string={"q": "zebra"}).get_data(as_text=True)
    assert "No commitments match these filters." in empty
    bad = client.get("/commitments", query_string={"due_before": "soon"})
    assert bad.status_code == 400 and "must be a year" in bad.get_data(as_text=True)


def _items_on(html: str) -> int:
    return html.count('<li class="result commitment">')


def test_register_pages_keep_filters(app, items):
    client = app.test_client()
    first = client.get("/commitments").get_data(as_text=True)
    pages = -(-len(items) // PAGE_SIZE)
    assert f"{len(items):,} commitments, page 1 of {pages}" in first
    assert _items_on(first) == PAGE_SIZE
    last = client.get("/commitments", query_string={"page": pages}).get_data(as_text=True)
    assert _items_on(last) == len(items) - (pages - 1) * PAGE_SIZE
    filtered = client.get("/commitments", query_string={"area": "Coventry and Warwickshire",
                                                        "sort": "due"}).get_data(as_text=True)
    assert ('href="/commitments?area=Coventry+and+Warwickshire&amp;sort=due&amp;page=2" '
            'rel="next"') in filtered
    for page in ("0", "999", "two", "²"):
        resp = client.get("/commitments", query_string={"page": page})
        assert resp.status_code == 400 and "page must be a whole number" in resp.get_data(
            as_text=True)


def test_register_sorts(app, spec):
    client = app.test_client()
    body = client.get("/api/commitments", query_string={"sort": "due"}).get_json()
    validate(spec, "/api/commitments", 200, body)
    dues = [c["due"] for c in body["commitments"]]
    dated = [d for d in dues if d]
    assert dues[:len(dated)] == dated, "undated items come last"
    ends = [(int(d[:4]), int(d[5:7]) if len(d) > 4 else 12) for d in dated]
    assert ends == sorted(ends)
    by_doc = client.get("/api/commitments", query_string={"sort": "document"}).get_json()
    titles = [c["title"].lower() for c in by_doc["commitments"]]
    assert titles == sorted(titles)
    by_area = client.get("/api/commitments", query_string={"sort": "area"}).get_json()
    areas = [c["area"] for c in by_area["commitments"]]
    assert areas == sorted(areas) and len(set(areas)) > 1
    bad = client.get("/api/commitments", query_string={"sort": "colour"})
    assert bad.status_code == 400 and "sort must be one of" in bad.get_json()["error"]["message"]


def test_register_search_applies_the_synonyms(app):
    """"bed blocking" is the vocabulary's lay phrase for delayed transfers of care."""
    client = app.test_client()
    found = client.get("/api/commitments", query_string={"q": "bed blocking"}).get_json()
    texts = [c["text"] for c in found["commitments"]]
    assert texts and not [t for t in texts if "bed blocking" in t.lower()]
    assert any(re.search(r"delayed transfers? of care|DToC|delayed discharge", t, re.I)
               for t in texts)


def test_cli_commitments(cli_env):
    out = qa_cli("commitments", "--q", "thrombectomy", env_extra=cli_env)
    assert out.returncode == 0 and "Stroke Care: Deliver ten-fold increase" in out.stdout
    assert out.stdout.rstrip().endswith("1 commitment")
    out = qa_cli("commitments", "--q", "stroke", "--csv", env_extra=cli_env)
    assert out.stdout.splitlines()[0] == "\ufeff" + ",".join(CSV_COLUMNS)
    out = qa_cli("commitments", "--due-before", "abc", env_extra=cli_env)
    assert out.returncode == 2 and "year" in out.stderr and "Traceback" not in out.stderr
    out = qa_cli("commitments", "--area", "Atlantis", env_extra=cli_env)
    assert out.returncode == 2 and "unknown area" in out.stderr
    out = qa_cli("commitments", "--sort", "colour", env_extra=cli_env)
    assert out.returncode == 2 and "sort must be one of" in out.stderr
    out = qa_cli("commitments", "--q", "zebra", "--json", env_extra=cli_env)
    assert out.returncode == 0 and "no commitments match" in out.stderr
    assert out.stdout.strip().replace("\n", "").replace(" ", "") == '{"commitments":[]}'


def test_cli_commitments_into_a_pipe_closed_early(cli_env):
    # `qa commitments | head -1`: the reader goes after one line; the command stops quietly.
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "commitments"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", **cli_env})
    assert proc.stdout.readline().startswith(b"- ")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""
