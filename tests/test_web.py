"""The Flask app over the real index: every route, every bad input, the OpenAPI contract."""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import jsonschema
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from conftest import validate
from qa.web import Heading, doc_segments

STROKE = "what is the stroke model?"


def assert_error(resp, status: int) -> dict:
    assert resp.status_code == status
    body = resp.get_json()
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


# --- JSON API -------------------------------------------------------------------------------

def test_api_search_returns_the_core_result(client, spec, searcher):
    resp = client.get("/api/search", query_string={"q": STROKE, "k": 5})
    assert resp.status_code == 200
    body = resp.get_json()
    validate(spec, "/api/search", 200, body)
    assert body["k"] == 5 and body["mode"] == "hybrid" and len(body["results"]) == 5
    direct = searcher.search(STROKE, k=5)
    assert [r["passage_id"] for r in body["results"]] == [h.passage_id for h in direct.results]
    assert any("single HASU and ASU at UHCW" in r["text"] for r in body["results"])


def test_api_search_gives_the_answer_box(client, spec, searcher):
    body = client.get("/api/search", query_string={"q": STROKE}).get_json()
    validate(spec, "/api/search", 200, body)
    answer, hits = body["answer"], body["results"]
    top = hits[answer["rank"] - 1]
    assert [answer["start"], answer["end"]] == top["highlights"][0]
    assert answer["quote"] == " ".join(top["text"][answer["start"]:answer["end"]].split())
    # "Also in": other documents only, each once, each a hit of this list.
    named = [hits[r - 1]["doc_id"] for r in answer["also_in"]]
    assert top["doc_id"] not in named and len(set(named)) == len(named)
    silent = client.get("/api/search", query_string={"q": "recipe for chocolate cake"}).get_json()
    validate(spec, "/api/search", 200, silent)
    assert silent["no_answer"] and silent["answer"] is None


def test_api_search_filters_and_modes(client, spec):
    body = client.get("/api/search", query_string={
        "q": "stroke", "mode": "bm25", "doc": "000_39354a0ede1fe7a3"}).get_json()
    validate(spec, "/api/search", 200, body)
    assert body["mode"] == "bm25" and {r["doc_id"] for r in body["results"]} == {
        "000_39354a0ede1fe7a3"}
    body = client.get("/api/search", query_string={
        "q": "GP workforce", "area": "Hertfordshire and West Essex"}).get_json()
    assert body["results"] and {r["area"] for r in body["results"]} == {
        "Hertfordshire and West Essex"}


def test_acronym_question_gets_its_definition(client, spec):
    body = client.get("/api/search", query_string={"q": "what does CAMHS stand for?"}).get_json()
    validate(spec, "/api/search", 200, body)
    assert body["definition"] == {"acronym": "CAMHS",
                                  "expansion": "Child and Adolescent Mental Health Services"}
    assert "Child and Adolescent Mental Health Services (CAMHS)" in body["results"][0]["text"]
    assert client.get("/api/search", query_string={"q": STROKE}).get_json()["definition"] is None
    html = client.get("/search", query_string={"q": "CAMHS meaning"}).get_data(as_text=True)
    assert ("<strong>CAMHS</strong> stands for <strong>Child and Adolescent Mental Health "
            "Services</strong>") in html
    assert "stands for" not in client.get("/search", query_string={"q": STROKE}).get_data(
        as_text=True)


def test_api_documents_and_exact_spans(client, spec):
    listing = client.get("/api/documents").get_json()
    validate(spec, "/api/documents", 200, listing)
    assert len(listing["documents"]) == 5
    results = client.get("/api/search", query_string={"q": "SWFT vacancy rate"}).get_json()
    texts = {}
    for r in results["results"]:
        if r["doc_id"] not in texts:
            doc = client.get(f"/api/documents/{r['doc_id']}").get_json()
            validate(spec, "/api/documents/{doc_id}", 200, doc)
            texts[r["doc_id"]] = doc["text"]
        assert texts[r["doc_id"]][r["start"]:r["end"]] == r["text"]


def test_healthz_reports_the_index(client, spec, index):
    body = client.get("/healthz").get_json()
    validate(spec, "/healthz", 200, body)
    assert body["documents"] == 5 and body["passages"] == len(index.passages)
    assert body["model"] == index.manifest["model"] and body["built_at"]


def test_openapi_describes_every_route(spec, app):
    assert spec["openapi"].startswith("3.")
    served = {rule.rule.replace("<", "{").replace(">", "}") for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") or rule.rule == "/healthz"}
    assert served >= {"/api/search", "/api/documents", "/api/documents/{doc_id}", "/healthz",
                      "/api/openapi.json"}
    assert set(spec["paths"]) == served
    jsonschema.Draft202012Validator.check_schema(
        {"$defs": spec["components"]["schemas"]})


@pytest.mark.parametrize("params,status", [
    ({"q": ""}, 400),
    ({"q": "   "}, 400),
    ({}, 400),
    ({"q": "x" * 1001}, 400),
    ({"q": "stroke", "k": "0"}, 400),
    ({"q": "stroke", "k": "51"}, 400),
    ({"q": "stroke", "k": "abc"}, 400),
    ({"q": "stroke", "mode": "fuzzy"}, 400),
    ({"q": "stroke", "doc": "no-such-doc"}, 400),
    ({"q": "stroke", "area": "Atlantis"}, 400),
])
def test_api_bad_input(client, spec, params, status):
    body = assert_error(client.get("/api/search", query_string=params), status)
    validate(spec, "/api/search", status, body)


def test_api_other_methods_are_refused_as_json(client):
    for method in (client.post, client.put, client.delete):
        resp = method("/api/search", query_string={"q": STROKE})
        assert assert_error(resp, 405)["error"]["code"] == "method_not_allowed"
        assert "GET" in resp.headers["Allow"]


def test_api_unknown_document_is_404(client, spec):
    body = assert_error(client.get("/api/documents/nope"), 404)
    validate(spec, "/api/documents/{doc_id}", 404, body)


@pytest.mark.parametrize("path", ["/doc/..%2f..%2fetc%2fpasswd", "/api/documents/..%2f..%2fetc",
                                  "/doc/../../etc/passwd", "/static/..%2f..%2fpyproject.toml"])
def test_path_traversal_finds_nothing(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert "root:" not in resp.get_data(as_text=True) and "[project]" not in resp.get_data(
        as_text=True)


def _raw_get(app, path: str, query_string: str):
    env = EnvironBuilder(path=path).get_environ()
    env["QUERY_STRING"] = query_string  # bytes the test client would re-encode for us
    body, status, headers = run_wsgi_app(app, env, buffered=True)
    return int(status.split()[0]), b"".join(body).decode(), headers


def test_non_utf8_query_string_is_refused(app):
    status, body, headers = _raw_get(app, "/api/search", "q=%ff%fe")
    assert status == 400 and '"bad_encoding"' in body
    status, body, headers = _raw_get(app, "/search", "q=%ff%fe")
    assert status == 400 and "not valid UTF-8" in body and "Traceback" not in body


# --- pages ----------------------------------------------------------------------------------

def test_home_page(client):
    html = client.get("/").get_data(as_text=True)
    assert '<label for="q"' in html and 'role="search"' in html and "<main" in html
    assert "what is the stroke model?" in html  # an example question
    assert "Coventry and Warwickshire" in html and "Hertfordshire and West Essex" in html
    assert "2016–2019" in html


def test_results_page_cites_and_highlights(client, searcher):
    resp = client.get("/search", query_string={"q": STROKE})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.count('class="result"') == 10 and "<mark>" in html
    assert "single HASU and ASU at UHCW" in html
    hit = next(h for h in searcher.search(STROKE).results if "HASU" in h.text)
    assert f"/doc/{hit.doc_id}?start={hit.start}&amp;end={hit.end}" in html
    assert "Appendix 1: Quarter 1 Stocktake letter" in html and "Coventry City Council" in html
    assert "Copy citation" in html and "section: Appendix 1" in html
    # The citation carries a link that opens the document at the passage.
    cite = html.split('data-citation="')[1].split('"')[0].replace("&amp;", "&")
    link = cite.rsplit(" ", 1)[1]
    # Without QA_PUBLIC_URL the link is relative: never built from the request's Host.
    assert link.startswith("/doc/") and link.endswith("#passage")
    doc_page = client.get(link.split("#")[0], headers={"Host": "evil.example"})
    assert "evil.example" not in doc_page.get_data(as_text=True)
    assert doc_page.status_code == 200 and '<mark id="passage"' in doc_page.get_data(as_text=True)


def test_results_filters_are_in_the_url_and_the_form(client):
    html = client.get("/search", query_string={"q": "stroke", "doc": "000_39354a0ede1fe7a3"}
                      ).get_data(as_text=True)
    assert 'value="000_39354a0ede1fe7a3" selected' in html
    assert "Our Strategic Five Year" not in html.split('class="results"')[1]


def test_document_view_highlights_the_cited_span(client, searcher):
    hit = searcher.search(STROKE).results[0]
    resp = client.get(f"/doc/{hit.doc_id}", query_string={"start": hit.start, "end": hit.end})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    marked = html.split('<mark id="passage" tabindex="-1">')[1].split("</mark>")[0]
    assert marked.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"') == hit.text


def test_document_view_marks_any_span_given_in_the_url(client, index):
    doc = index.doc_by_id["000_39354a0ede1fe7a3"]
    start = doc.text.index("single HASU and ASU at UHCW")
    end = start + len("single HASU and ASU at UHCW")  # inside a passage, not a passage's span
    html = client.get(f"/doc/{doc.doc_id}?start={start}&end={end}").get_data(as_text=True)
    assert '<mark id="passage" tabindex="-1">single HASU and ASU at UHCW</mark>' in html
    assert "The cited text is highlighted below" in html and 'href="#passage"' in html
    for bad in ("start=5&end=2", f"start=0&end={len(doc.text) + 1}", "start=x&end=9"):
        resp = client.get(f"/doc/{doc.doc_id}?{bad}")  # the document, with nothing marked
        assert resp.status_code == 200 and "<mark" not in resp.get_data(as_text=True)


def test_document_view_has_contents_that_lead_to_each_section(client, index):
    doc_id = "002_9dbce684fc8a7123"
    doc = index.doc_by_id[doc_id]
    first = min((p for p in index.passages if p.doc_id == doc_id and
                 p.section.endswith("5.1 Out of hospital care")), key=lambda p: p.start)
    html = client.get(f"/doc/{doc_id}?start={first.start}&end={first.end}").get_data(as_text=True)
    contents = html.split('<details class="contents">')[1].split("</details>")[0]
    n = contents.split(">5.1 Out of hospital care</a>")[0].rsplit('href="#s', 1)[1].split('"')[0]
    # The anchor sits where the section's first passage begins: just before the cited mark.
    assert f'<span id="s{n}" class="anchor"></span><mark id="passage"' in html
    # Cut into pieces for the anchors, the document still reads whole.
    body = html.split('<div class="doc-text">')[1].split("</div>")[0]
    anchors = re.findall(r'<span id="s(\d+)" class="anchor"></span>', body)
    assert anchors == [str(i) for i in range(1, contents.count("<li") + 1)]
    assert len(anchors) > 20
    # Headings whose label opens their section are marked as headings, one level at a time.
    levels = [int(x) for x in re.findall(r'role="heading" aria-level="(\d)"', body)]
    assert len(levels) > 20 and all(b <= a + 1 for a, b in zip([1] + levels, levels))
    assert unescape(re.sub(r"<[^>]+>", "", body)) == doc.text


def test_document_segments_mark_the_span_its_sentence_and_headings():
    text = "0123456789abcdefghij"
    heads = [Heading(0, "012", 0), Heading(5, "x", 1), Heading(12, "cd", 1), Heading(15, "f", 2)]
    segs = doc_segments(text, heads, 10, 14, (11, 13))  # anchor 3 falls inside the span
    assert "".join(s["text"] for s in segs) == text
    assert "".join(s["text"] for s in segs if s["marked"]) == "abcd"
    assert "".join(s["text"] for s in segs if s["strong"]) == "bc"
    assert [(s["anchors"], s["text"], s["heading"]) for s in segs] == [
        ([1], "012", 2), ([], "34", None), ([2], "56789", None), ([], "a", None),
        ([], "b", None), ([3], "c", 3), ([], "d", 3), ([], "e", None), ([4], "f", 4),
        ([], "ghij", None)]


def test_search_settings_survive_filtering_and_the_round_trip(client):
    area = "Coventry and Warwickshire"
    html = client.get("/search", query_string={"q": "stroke", "k": 3, "mode": "bm25",
                                               "area": area}).get_data(as_text=True)
    assert html.count('class="result"') == 3
    assert '<input type="hidden" name="k" value="3">' in html
    assert '<option value="bm25" selected>Exact words</option>' in html
    link = html.split('<a href="/doc/')[1].split('"')[0].replace("&amp;", "&")
    doc_page = client.get("/doc/" + link).get_data(as_text=True)
    back = doc_page.split('<a class="back" href="')[1].split('"')[0].replace("&amp;", "&")
    again = client.get(back).get_data(as_text=True)
    assert again.count('class="result"') == 3 and f'value="{area}" selected' in again


def test_nothing_relevant_is_said_plainly(client):
    html = client.get("/search", query_string={"q": "recipe for chocolate cake"}).get_data(
        as_text=True)
    assert "The plans do not seem to answer this" in html and "Answer from the plans" not in html
    assert html.count('class="result"') <= 3 and "Show the closest passages anyway" in html


def test_user_input_is_escaped_and_headers_are_safe(client):
    resp = client.get("/search", query_string={"q": "<script>alert(1)</script>"})
    html = resp.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in html.replace(
        '<script src="/static/app.js" defer></script>', "")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/search?q=stroke", "/doc/000_39354a0ede1fe7a3",
                                  "/api/search?q=stroke", "/api/search?q=", "/healthz",
                                  "/nowhere", "/api/nowhere", "/static/style.css"])
def test_every_response_carries_the_safety_headers(client, path):
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("params,text", [
    ({"q": "x" * 1001}, "limit is 1,000"),
    ({"q": "stroke", "doc": "nope"}, "unknown document"),
    ({"q": "stroke", "k": "²"}, "k must be a whole number"),
    ({"q": "stroke", "k": "٥"}, "k must be a whole number"),
])
def test_page_bad_input_is_friendly(client, params, text):
    resp = client.get("/search", query_string=params)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and text in html and "There is a problem" in html


def test_unknown_pages_are_friendly_404s(client):
    resp = client.get("/nowhere")
    assert resp.status_code == 404 and "Page not found" in resp.get_data(as_text=True)
    assert_error(client.get("/api/nowhere"), 404)


def test_static_assets_are_local(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    # A page names its icon, so a browser asks for no /favicon.ico (a 404 in its console).
    assert 'rel="icon"' in html and client.get("/static/icon.svg").status_code == 200


# --- concurrency ----------------------------------------------------------------------------

def test_concurrent_clients_get_the_same_answers(live_server):
    """8 clients at once over HTTP get exactly what one client gets (25 requests each here;
    eval/load.py sends the full 200 each)."""
    questions = ["what is the stroke model?", "SWFT vacancy rate", "herts cancer plans",
                 "what does LEF stand for", "STP total allocations 2018/19",
                 "how many people live in rural Warwickshire?", "social prescribing plans",
                 "when will urgent treatment centres open?"]

    def ask(q: str) -> list:
        url = f"{live_server}/api/search?{urllib.parse.urlencode({'q': q})}"
        with urllib.request.urlopen(url, timeout=60) as resp:
            return json.loads(resp.read())["results"]

    expected = {q: ask(q) for q in questions}

    def client(n: int) -> list:
        asked = [questions[(n + i) % len(questions)] for i in range(25)]
        return [q for q in asked if ask(q) != expected[q]]

    with ThreadPoolExecutor(8) as pool:
        wrong = [q for found in pool.map(client, range(8)) for q in found]
    assert wrong == []
