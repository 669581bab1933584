"""The web page in a real browser: Debian's Chromium, headless, against the served app."""
from __future__ import annotations

from conftest import OUTPUT


def test_ask_read_and_check_in_the_document(page, live_server):
    errors = []  # what the browser's console would show a developer: a missing icon, a CSP block
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + "/")
    box = page.get_by_label("Ask a question about the plans")
    box.fill("what is the stroke model?")
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    result = page.locator("li.result", has_text="single HASU and ASU at UHCW").first
    result.wait_for()
    assert result.locator("mark").count() >= 1 and result.locator("mark").first.is_visible()
    assert "Appendix 1: Quarter 1 Stocktake letter" in result.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "results.png"), full_page=True)

    result.get_by_role("link", name="View in document").click()
    page.wait_for_url("**/doc/000_39354a0ede1fe7a3?**#passage")
    marked = page.locator("mark#passage")
    assert "single HASU and ASU at UHCW is the preferred model" in marked.inner_text()
    marked.wait_for(state="visible")
    box = marked.bounding_box()
    viewport = page.viewport_size
    assert box and 0 <= box["y"] < viewport["height"], "the cited passage is scrolled into view"
    page.screenshot(path=str(OUTPUT / "document.png"))
    assert errors == []


def test_more_passages_open_where_the_first_ten_ended(page, live_server):
    page.goto(live_server + "/search?q=stroke+services")
    assert page.locator("li.result").count() == 10
    assert page.locator("h2.count").inner_text() == "10 passages for “stroke services”, best first"
    page.get_by_role("link", name="Show more passages").click()
    page.wait_for_url("**k=20#result-11")
    assert page.locator("li.result").count() == 20
    box = page.locator("#result-11").bounding_box()
    assert box and 0 <= box["y"] < page.viewport_size["height"]
    # Past 20 the pool of candidates would grow and the first passages could change places.
    assert page.get_by_role("link", name="Show more passages").count() == 0
    page.goto(live_server + "/search?q=stroke+services&k=12")
    page.get_by_role("link", name="Show more passages").click()
    page.wait_for_url("**k=20#result-13")
    page.goto(live_server + "/search?q=stroke+services&k=1")
    assert page.locator("h2.count").inner_text() == "1 passage for “stroke services”, best first"


def test_contents_take_the_reader_to_a_section(page, live_server):
    page.goto(live_server + "/doc/002_9dbce684fc8a7123")
    page.get_by_text("Contents:").click()
    page.get_by_role("link", name="5.1 Out of hospital care").click()
    page.wait_for_url("**#s*")
    anchor = page.locator(page.url[page.url.index("#"):])
    box, viewport = anchor.bounding_box(), page.viewport_size
    assert box and 0 <= box["y"] < viewport["height"] / 2, "the section is scrolled to the top"
    top = page.evaluate("window.scrollY")
    assert top > 10000, "the section lies far down the document"


def test_copy_citation_and_keyboard_use(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(live_server + "/search?q=SWFT+vacancy+rate")
    page.get_by_role("button", name="Copy citation").first.click()
    button = page.locator("button.copy").first  # its name changes once clicked
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Our Strategic Five Year Health and Care Plan" in copied and "section:" in copied
    assert button.inner_text() == "Citation copied"
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"


def test_filters_are_shareable_links(page, live_server):
    page.goto(live_server + "/search?q=GP+workforce+plans")
    page.get_by_label("Area").select_option("Hertfordshire and West Essex")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**area=Hertfordshire+and+West+Essex**")
    metas = page.locator("li.result p.meta").all_inner_texts()
    assert metas and all("Hertfordshire and West Essex" in m for m in metas)
    # Matching by exact words keeps the area and gives only passages sharing a word.
    page.get_by_label("Match").select_option("Exact words")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**mode=bm25**")
    assert "area=Hertfordshire+and+West+Essex" in page.url
    texts = page.locator("li.result blockquote").all_inner_texts()
    assert texts and all(any(w in t.lower() for w in ("gp", "workforce", "plan")) for t in texts)


def test_page_reads_well_on_a_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    pg = context.new_page()
    pg.goto(live_server + "/search?q=what+is+the+stroke+model%3F")
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "no sideways scrolling on a phone"
    context.close()


def test_commitments_register_in_the_browser(page, live_server):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Commitments").click()
    page.get_by_label("Search the commitments").fill("stroke")
    page.get_by_label("Due after").fill("2021")
    page.get_by_label("Search the commitments").press("Enter")
    page.wait_for_url("**/commitments?*due_after=2021*")
    item = page.locator("li.commitment", has_text="thrombectomy")
    assert "2022" in item.locator("dd.due").inner_text()
    assert page.locator("li.commitment").count() >= 1
    csv_link = page.get_by_role("link", name="Download these as CSV")
    assert "due_after=2021" in csv_link.get_attribute("href")
    item.get_by_role("link", name="View in document").click()
    page.wait_for_url("**/doc/002_9dbce684fc8a7123?**#passage")
    assert "thrombectomy" in page.locator("mark#passage").inner_text()
