"""The councillor's page in Chromium at a desktop's and a phone's size: the answer first, honest
empty states, quotable citations, a document view that shows where the reader is."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from conftest import OUTPUT
from qa.web import EXAMPLES

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PUBLIC = "https://plans.example.org"
HERTS_DOC, COVENTRY = "004_a45d7b1da6d1bef7", "Coventry and Warwickshire"
# One page of each kind, for the accessibility check and the screenshots.
PAGES = {"home": "/", "results": "/search?q=what+is+the+stroke+model%3F",
         "no-answer": "/search?q=recipe+for+chocolate+cake",
         "acronym": "/search?q=what+does+DTB+stand+for",
         "missing-term": "/search?q=stroke+services+in+Solihull",
         "rephrased": "/search?q=bed+blocking",
         "filtered": f"/search?q=GP+workforce&area={COVENTRY.replace(' ', '+')}&mode=bm25",
         "no-match": f"/search?q=stroke&doc={HERTS_DOC}&area={COVENTRY.replace(' ', '+')}",
         "problem": "/search?q=stroke&k=0",
         "document": None,  # reached from the results, below
         "long-document": "/doc/002_9dbce684fc8a7123",
         "commitments": "/commitments?q=stroke", "not-found": "/doc/nope"}


@pytest.fixture(scope="module")
def public_server(cli_env):
    """`qa serve` as deployed behind a public address (QA_PUBLIC_URL), in its own process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **cli_env, "HF_HUB_OFFLINE": "1", "QA_PUBLIC_URL": PUBLIC}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--no-build", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # the model loads before the first request is taken
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(params=list(SIZES))
def sized(request, browser):
    context = browser.new_context(viewport=SIZES[request.param],
                                  is_mobile=request.param == "phone")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    yield request.param, pg
    context.close()


def on_first_screen(page, locator) -> bool:
    box = locator.bounding_box()
    return bool(box) and 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"]


def document_link(page, base: str, question: str) -> str:
    page.goto(base + "/search?q=" + question.replace(" ", "+"))
    return page.locator("section.answer").get_by_role("link", name="View in document").get_attribute("href")


@pytest.mark.parametrize("question", EXAMPLES)
def test_the_answer_is_on_the_first_screen(sized, live_server, question):
    size, page = sized
    page.goto(live_server + "/")
    page.get_by_label("Ask a question about the plans").fill(question)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url("**/search?q=*")
    answer = page.locator("section.answer")
    quote = answer.locator("blockquote")
    assert quote.inner_text().startswith("“") and len(quote.inner_text()) > 10
    # The quote is the first result's highlighted sentence, word for word.
    first_mark = page.locator("li.result").first.locator("mark").first.inner_text()
    assert " ".join(first_mark.split()) in quote.inner_text()
    assert on_first_screen(page, quote), f"{size}: the answer is below the fold"
    # Where it comes from, and what to do with it, without scrolling too.
    assert on_first_screen(page, answer.locator(".answer-source"))
    assert on_first_screen(page, answer.get_by_role("link", name="View in document"))
    if size == "desktop":
        assert on_first_screen(page, answer.get_by_role("button", name="Copy citation"))


def test_filters_fold_away_on_a_phone_and_show_on_a_desktop(sized, live_server):
    size, page = sized
    page.goto(live_server + "/search?q=GP+workforce+plans")
    area = page.get_by_label("Area")
    if size == "phone":
        assert not area.is_visible()
        page.locator("summary", has_text="Filter the results").click()
    assert area.is_visible()
    area.select_option(COVENTRY)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**area=Coventry**")
    # The active filter shows as a tag that removes it.
    tag = page.get_by_role("link", name=f"Remove filter Area: {COVENTRY}")
    assert tag.is_visible() and "1 active" in page.locator("summary").first.inner_text()
    tag.click()
    page.wait_for_url(lambda url: "area=" not in url)
    assert page.locator("section.answer").is_visible()


def test_filters_that_exclude_each_other_say_so_and_clear(sized, live_server):
    _, page = sized
    page.goto(live_server + PAGES["no-match"])
    status = page.locator(".no-answer")
    assert "No passages match these filters" in status.inner_text()
    assert page.get_by_text("do not seem to answer").count() == 0
    assert page.get_by_text("Show the closest passages anyway").count() == 0
    page.get_by_role("link", name="Clear the filters and search all the plans").click()
    page.wait_for_url(lambda url: "area=" not in url and "doc=" not in url)
    assert page.locator("li.result").count() == 10 and page.locator("section.answer").is_visible()


def test_the_page_says_what_no_document_mentions_and_what_else_it_searched_for(page, live_server):
    page.goto(live_server + PAGES["missing-term"])
    box = page.locator("section.answer")
    assert "No document mentions: Solihull" in box.inner_text()  # spelt as asked
    # A place no plan names: the plans are silent, the closest passages behind a link.
    assert "do not seem to answer" in box.locator("h2").inner_text()
    assert page.get_by_text("Show the closest passages anyway").count() == 1
    # An everyday word the plans do not use: named, and the closest answer shown.
    page.goto(live_server + "/search?q=stroke+services+for+my+grandad")
    box = page.locator("section.answer")
    assert "No document mentions: grandad" in box.inner_text()
    assert "Closest answer" in box.locator("h2").inner_text()
    page.goto(live_server + PAGES["rephrased"])
    assert "delayed transfers of care" in page.locator(".expansions").inner_text()


def test_a_bad_k_is_reported_once_not_carried(page, live_server):
    page.goto(live_server + "/search?q=stroke&k=0")
    assert "k must be a whole number" in page.get_by_role("alert").inner_text()
    box = page.get_by_label("Ask a question about the plans")
    box.fill("what is the stroke model?")
    box.press("Enter")
    page.wait_for_url("**/search?q=what*")
    assert "k=" not in page.url and page.get_by_role("alert").count() == 0
    assert page.locator("li.result").count() == 10
    # A k the reader chose, and valid, is kept through filtering and can be removed.
    page.goto(live_server + "/search?q=stroke&k=3")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**k=3**")
    assert page.locator("li.result").count() == 3
    page.get_by_role("link", name="Remove filter Passages shown: 3").click()
    page.wait_for_url(lambda url: "k=" not in url)
    assert page.locator("li.result").count() == 10


def test_copy_citation_quotes_with_the_public_link_and_a_uk_date(sized, public_server):
    _, page = sized
    # Only this paper's passages, so the date is a full one: 21 November 2017.
    page.goto(public_server + "/search?q=stroke+services&doc=003_47a7c2baa2766db0")
    answer = page.locator("section.answer")
    quote = " ".join(answer.locator("blockquote").inner_text().split())
    answer.get_by_role("button", name="Copy citation").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(quote), "the citation opens with the quoted sentence"
    title = answer.locator(".answer-source a").inner_text()
    assert title in copied and ", 21 November 2017, " in copied, copied
    link = re.search(r"https?://\S+#passage", copied).group(0)
    assert link.startswith(PUBLIC + "/doc/") and "127.0.0.1" not in copied
    # The link, on this server, opens the document with the quoted sentence marked.
    page.goto(public_server + link.removeprefix(PUBLIC))
    assert " ".join(page.locator("strong.answer-mark").inner_text().split()) in quote


def test_without_a_public_address_the_citation_link_is_relative(page, live_server):
    page.goto(live_server + "/search?q=SWFT+vacancy+rate")
    cite = page.locator("section.answer details.citation p").text_content()
    assert " /doc/" in cite and "http" not in cite.split(" — ")[1]


def test_the_document_view_shows_its_title_and_the_sentence_on_arrival(sized, live_server):
    size, page = sized
    href = document_link(page, live_server, "what is the stroke model?")
    page.goto(live_server + href)
    title = page.locator("h1")
    assert on_first_screen(page, title), f"{size}: the title is off screen"
    assert on_first_screen(page, page.locator(".doc-head .meta"))
    assert page.evaluate("window.scrollY") > 1000, "the passage lies far down the document"
    sentence = page.locator("mark#passage strong.answer-mark")
    box, head = sentence.bounding_box(), page.locator(".doc-head").bounding_box()
    assert box["y"] >= head["y"] + head["height"], "the sentence is not hidden under the title"
    assert box["y"] < page.viewport_size["height"], "the sentence is in view"
    # The way back returns to the same question.
    page.get_by_role("link", name="Back to results").click()
    page.wait_for_url("**/search?q=what+is+the+stroke+model*")
    assert page.locator("section.answer").is_visible()


@pytest.mark.parametrize("size", SIZES)
def test_the_document_view_without_javascript_keeps_the_title_in_view(browser, live_server, size):
    context = browser.new_context(viewport=SIZES[size], java_script_enabled=False)
    page = context.new_page()
    href = document_link(page, live_server, "what is the stroke model?")
    page.goto(live_server + href)
    assert on_first_screen(page, page.locator("h1"))
    sentence = page.locator("mark#passage strong.answer-mark").bounding_box()
    head = page.locator(".doc-head").bounding_box()
    assert head["y"] + head["height"] <= sentence["y"] < page.viewport_size["height"]
    context.close()


def test_a_shared_or_register_link_leads_back_where_it_came_from(page, live_server):
    page.goto(live_server + "/doc/002_9dbce684fc8a7123?back=/commitments%3Fq%3Dstroke")
    page.get_by_role("link", name="Back to the commitments").click()
    page.wait_for_url("**/commitments?q=stroke")
    page.goto(live_server + "/doc/002_9dbce684fc8a7123?back=//evil.example/search")
    assert page.locator("a.back").get_attribute("href") == "/"


def test_headings_in_the_document_are_headings(page, live_server):
    page.goto(live_server + "/doc/002_9dbce684fc8a7123")
    heading = page.get_by_role("heading", name="5.1 Out of hospital care")
    assert heading.count() >= 1
    weight = heading.first.evaluate("e => getComputedStyle(e).fontWeight")
    assert int(weight) >= 700


def test_every_kind_of_page_passes_axe_at_both_sizes(sized, live_server):
    """axe-core (WCAG 2.1 A and AA rules, and best practice) finds nothing; each page is
    photographed at both sizes."""
    size, page = sized
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    OUTPUT.mkdir(exist_ok=True)
    found = {}
    for name, path in PAGES.items():
        page.goto(live_server + (path or document_link(page, live_server,
                                                       "what is the stroke model?")))
        page.screenshot(path=str(OUTPUT / f"{name}-{size}.png"))
        page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")
        results = axe.run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                     "best-practice"]})
        found.update({f"{name}: {v['id']}": v["help"] for v in results.response["violations"]})
    assert found == {}
