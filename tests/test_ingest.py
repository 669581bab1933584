"""Reading real files of each format: structure, pages, metadata, and what is refused and why."""
from __future__ import annotations

import json
import re

import pytest

from fixtures.make import (DOCX_TABLE, HTML_DIV_PAGE, HTML_PAGE, MARKDOWN, PDF_FACT, PDF_TABLE, RUNNING_HEADER,
                           encrypted_pdf, pdf_bytes, plan_docx, plan_pdf, scanned_pdf)
from qa.chunk import chunk
from qa.config import ChunkSettings, Settings
from qa.ingest import (CorpusError, Skip, corpus_hashes, doc_id_for, load_catalog, read_bytes,
                       read_corpus, scan)

CFG = ChunkSettings()


def _zip(files: dict) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def passages_of(name, data, entry=None):
    doc = read_bytes(name, data, entry)
    return doc, chunk(doc, CFG)


def holding(passages, words):
    return next(p for p in passages if words in p.text)


# --- formats --------------------------------------------------------------------------------

def test_pdf_fact_on_page_3_is_cited_at_page_3_under_its_heading():
    doc, passages = passages_of("strategy.pdf", plan_pdf())
    assert len(doc.pages) == 4
    p = holding(passages, PDF_FACT)
    assert p.page == 3 and p.page_end is None
    assert p.section.endswith("2. Urgent Treatment Centres")
    assert doc.text[p.start:p.end] == p.text
    # Page furniture is gone: no running header, no "Page N" line.
    assert RUNNING_HEADER not in doc.text
    assert not [ln for ln in doc.text.split("\n") if ln.strip().startswith("Page ")]


def test_lines_at_page_edges_that_differ_by_numbers_are_text_not_furniture():
    """A paragraph running over a page break: its last line on one page and first on the
    next differ only by their numbers, as a running header's "Page 1" and "Page 2" do, but
    stand at opposite edges; the header, at the same edge of both pages, still goes."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    w, h = A4
    body = [f"Sentence {n} of the long paragraph about the new wards." for n in range(40, 55)]
    for page, lines in enumerate((body[:12], body[12:])):
        c.setFont("Helvetica", 8)
        c.drawString(72, h - 30, "Barsetshire Council - Draft plan")
        c.setFont("Helvetica", 11)
        # The first page's text reaches its foot; the second's begins at its head.
        ys = ([h - 140 - 14 * i for i in range(len(lines) - 1)] + [50] if page == 0
              else [h - 70 - 14 * i for i in range(len(lines))])
        for y, line in zip(ys, lines):
            c.drawString(72, y, line)
        c.showPage()
    c.save()
    doc = read_bytes("edge.pdf", buf.getvalue(), None)
    for n in range(40, 55):
        assert f"Sentence {n} of the long" in doc.text, n
    assert "Barsetshire Council - Draft plan" not in doc.text


def test_pdf_headings_come_from_font_size_and_bullets_stay_items():
    doc, passages = passages_of("strategy.pdf", plan_pdf())
    heads = [(doc.text[h.start:h.end], h.level) for h in doc.headings]
    assert heads[0] == ("West Essex Primary Care Strategy 2018-2021", 1)
    assert ("1. Workforce", 2) in heads and ("3. Finance", 2) in heads
    assert "• Recruit 40 additional practice nurses.\n• Train 12" in doc.text


@pytest.mark.parametrize("make, name, table, row", [
    (plan_pdf, "strategy.pdf", PDF_TABLE, 1), (plan_docx, "crisis.docx", DOCX_TABLE, 1)])
def test_a_table_row_is_found_with_its_header(make, name, table, row):
    doc, passages = passages_of(name, make())
    header, line = "\t".join(table[0]), "\t".join(table[row])
    p = holding(passages, line)
    assert p.kind == "table"
    assert header in p.text or header in p.context
    assert doc.tables and doc.tables[0].rows[0] == tuple(table[0])


def test_a_number_that_is_part_of_a_heading_stays_in_its_citation():
    """"Phase 1", "Strategy 2024", "Appendix 1": names, not page numbers (both phases were
    cited as "Phase", and the appendix took the first sentence under it for its title)."""
    import io

    import docx

    d = docx.Document()
    for heading, text in (("Phase 1", "The first phase builds two wards."),
                          ("Phase 2", "The second phase opens them in 2025."),
                          ("Strategy 2024", "The strategy of that year."),
                          ("Appendix 1", "The audit shows 312 delayed discharges.")):
        d.add_heading(heading, level=1)
        d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    _, passages = passages_of("phases.docx", buf.getvalue())
    cited = {p.text.split("\n")[-1]: (p.paper, p.section) for p in passages}
    assert cited["The first phase builds two wards."] == ("", "Phase 1")
    assert cited["The second phase opens them in 2025."] == ("", "Phase 2")
    assert cited["The strategy of that year."] == ("", "Strategy 2024")
    assert cited["The audit shows 312 delayed discharges."] == ("Appendix 1", "Appendix 1")


def test_docx_heading_styles_make_the_section_path_and_lists_stay_bullets():
    doc, passages = passages_of("crisis.docx", plan_docx())
    p = holding(passages, "A crisis house run with the voluntary sector.")
    assert p.section == "Mental health crisis care › New places of safety"
    assert "• A crisis house" in p.text
    assert holding(passages, "Twenty mental health nurses").section.endswith("› Workforce")


def test_html_keeps_the_main_content_only_with_entities_decoded():
    doc, passages = passages_of("stroke.html", HTML_PAGE.encode())
    assert "STRIPME" not in doc.text
    for furniture in ("cookies", "Bins and recycling", "dataLayer", "font-family", "©"):
        assert furniture not in doc.text
    assert "the county's patients & their families" in doc.text
    p = holding(passages, "Ambulances take suspected strokes")
    assert p.section == "Stroke services review › What changes"
    assert holding(passages, "County Hospital\t24\t30").context.endswith(
        "Site\tBeds now\tBeds in 2020") or "Site\tBeds now" in holding(
        passages, "County Hospital").text


def test_an_html_page_without_main_loses_its_menu_sidebar_and_footer():
    doc, passages = passages_of("minutes.html", HTML_DIV_PAGE.encode())
    assert "STRIPME" not in doc.text and "A to Z" not in doc.text
    assert holding(passages, "delayed transfers").section == (
        "Health Scrutiny Board minutes › Actions")


def test_markdown_headings_are_in_the_section_path_and_pipe_tables_are_rows():
    doc, passages = passages_of("camhs.md", MARKDOWN.encode())
    p = holding(passages, "urgent cases within one week")
    assert p.section == "Children's mental health transformation plan › Eating disorders"
    row = holding(passages, "CAMHS first appointment\t14 weeks\t4 weeks")
    assert row.kind == "table" and "Service\tWaiting time now\tTarget" in row.text + row.context
    assert "|" not in doc.text and "#" not in doc.text and "---" not in doc.text
    assert "1. Recruit two more clinicians.\n2. Open a Saturday clinic." in doc.text


def test_a_files_own_date_and_address_are_taken_only_when_well_formed():
    page = ("---\ntitle: Care homes plan\ndate: {date}\nsource_url: {url}\n---\n"
            "# Care homes\n\nWe will open two care homes.\n")
    bad = read_bytes("bad.md", page.format(date="2019-13-45", url="javascript:alert(1)").encode(),
                     None)
    assert bad.date != "2019-13-45" and bad.source_url == ""
    assert "source_url" not in bad.origins and bad.origins.get("date") != "properties"
    good = read_bytes("good.md", page.format(date="2019-05-01",
                                             url="https://example.org/plan").encode(), None)
    assert (good.date, good.source_url) == ("2019-05-01", "https://example.org/plan")


def test_html_or_pdf_saved_as_txt_goes_to_its_own_loader():
    html = read_bytes("saved page.txt", HTML_PAGE.encode(), None)
    assert "STRIPME" not in html.text and "<" not in html.text and html.headings
    pdf = read_bytes("plan.txt", plan_pdf(), None)
    assert "%PDF" not in pdf.text and PDF_FACT in pdf.text and len(pdf.pages) == 4


def test_plain_text_keeps_its_line_rules_and_gets_no_pages():
    doc, passages = passages_of("notes.txt", b"1. Purpose\n\nThe plan sets out the aims.\n")
    assert doc.headings is None and doc.pages == [] and passages[0].page is None
    assert passages[0].section == "1. Purpose"


def test_utf16_and_bom_are_decoded_and_control_characters_never_stored():
    text = "Caf\u00e9 strategy\n\nBeds rise\x07 to 30\x1b[0m by 2019.\n"
    for data in (text.encode("utf-16"), b"\xef\xbb\xbf" + text.encode()):
        doc = read_bytes("strategy.txt", data, None)
        assert doc.text.startswith("Caf\u00e9 strategy")
        assert "Beds rise to 30[0m by 2019." in doc.text
        assert not [c for c in doc.text if ord(c) < 32 and c not in "\t\n"]
    html = read_bytes("p.html", b"<html><body><p>Bell\x07 here\x0b</p></body></html>", None)
    assert html.text == "Bell here\n"


# --- metadata -------------------------------------------------------------------------------

def test_titles_dates_and_kinds_are_inferred_with_their_origins():
    text = ("Source: https://example.org/papers/123\n\nHerts Valleys CCG\n\n"
            "Board meeting in public\n\nThe board last met on 4 January 2016 to agree the plan.\n")
    doc = read_bytes("2018-05-23 Herts Valleys CCG board minutes.txt", text.encode(), None)
    assert (doc.date, doc.origins["date"]) == ("2018-05-23", "file name")
    assert (doc.type, doc.origins["type"]) == ("minutes", "file name")
    assert (doc.body, doc.origins["body"]) == ("Herts Valleys CCG", "file name")
    assert doc.title == "Herts Valleys CCG board minutes"
    # Without a telling file name, the text: not the "Source:" line; the date by the title.
    doc = read_bytes("notes.txt", ("Source: https://example.org/x\n\nWinter plan for Coventry\n"
                                   "March 2018\n\nWe met in May 2016 and agreed it.\n").encode(),
                     None)
    assert (doc.title, doc.origins["title"]) == ("Winter plan for Coventry", "text")
    assert (doc.date, doc.type) == ("2018-03", "plan")


def test_a_deadline_or_period_by_the_title_is_not_the_papers_date():
    doc = read_bytes("van.html", b"<h1>Mobile dental van</h1><p>The van will tour the eastern "
                     b"wards from June 2027, and the old clinic stays open until May 2027.</p>",
                     None)
    assert doc.date == "" and "date" not in doc.origins
    doc = read_bytes("van.md", b"# Mobile dental van\n\nPublished 4 January 2026. The van "
                     b"will tour the eastern wards by the end of June 2027.\n", None)
    assert (doc.date, doc.origins["date"]) == ("2026-01-04", "text")
    doc = read_bytes("hub.txt", b"Winter hub\n\nThe hub will open by 23 May 2027 and stay open "
                     b"from 1st June 2027.\n\nApril 2018\n", None)
    assert doc.date == "2018-04"
    # What will happen, and when: the plan's date, not the paper's.
    doc = read_bytes("ward.txt", b"New ward\n\nZebrafield Community Hospital will open a 24-bed "
                     b"rehabilitation ward in October 2028.\n", None)
    assert doc.date == "" and "date" not in doc.origins


def test_format_properties_come_first_and_the_catalog_overrides_all():
    pdf = read_bytes("2018-05-23 strategy.pdf", plan_pdf(), None)
    assert (pdf.title, pdf.origins["title"]) == ("West Essex Primary Care Strategy", "properties")
    assert (pdf.body, pdf.origins["body"]) == ("West Essex CCG", "properties")
    assert (pdf.date, pdf.origins["date"]) == ("2018-05-23", "file name")
    word = read_bytes("crisis.docx", plan_docx(), None)
    # The author is a person, no publishing body; the creation time is the last resort.
    assert word.title == "Mental Health Crisis Care Plan" and word.type == "plan"
    assert word.body == "" and (word.date, word.origins["date"]) == ("2019-02-11", "properties")
    html = read_bytes("stroke.html", HTML_PAGE.encode(), None)
    assert (html.title, html.body, html.date) == ("Stroke services review",
                                                  "Herefordshire Council", "2018-03-14")
    entry = {"title": "Strategy", "date": "2018-06", "source_url": "https://example.org/s.pdf"}
    pdf = read_bytes("strategy.pdf", plan_pdf(), entry)
    assert (pdf.title, pdf.date, pdf.source_url) == ("Strategy", "2018-06", entry["source_url"])
    assert pdf.origins["title"] == pdf.origins["date"] == pdf.origins["source_url"] == "catalog"


@pytest.mark.parametrize("entry, message", [
    ({"type": "nonsense"}, "unknown type 'nonsense'"),
    ({"date": "23/05/2018"}, "date '23/05/2018' is not ISO"),
    ("a string", "must be an object"),
    ({"titel": "x"}, "unknown field(s) titel"),
])
def test_a_bad_catalog_entry_is_one_line_naming_it(tmp_path, entry, message):
    (tmp_path / "plan.txt").write_text("Plan\n")
    (tmp_path / "catalog.json").write_text(json.dumps({"documents": {"plan.txt": entry}}))
    with pytest.raises(CorpusError) as e:
        load_catalog(tmp_path)
    assert message in str(e.value) and "'plan.txt'" in str(e.value) and "\n" not in str(e.value)


def test_a_catalog_entry_naming_no_file_is_refused(tmp_path):
    (tmp_path / "catalog.json").write_text(json.dumps({"documents": {"gone.pdf": {}}}))
    with pytest.raises(CorpusError, match="'gone.pdf' names no file"):
        load_catalog(tmp_path)


# --- what is refused ------------------------------------------------------------------------

def test_every_file_is_read_or_named_with_its_reason(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "plan.md").write_text(MARKDOWN)
    (corpus / "sub" / "strategy.pdf").write_bytes(plan_pdf())
    (corpus / "scan.pdf").write_bytes(scanned_pdf())
    (corpus / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (corpus / "data.bin").write_bytes(b"\x00\x01\x02" * 100)
    (corpus / "empty.txt").write_text("\n\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    (corpus / "locked.pdf").write_bytes(encrypted_pdf())
    docx = plan_docx()
    (corpus / "broken.docx").write_bytes(docx.replace(b"word/document.xml", b"word/document.xmX"))
    (corpus / "sheet.xlsx").write_bytes(_zip({"xl/workbook.xml": "<workbook/>"}))
    (corpus / "big.txt").write_text("word " * 300_000)
    (corpus / ".DS_Store").write_bytes(b"\x00")
    (corpus / "passwd").symlink_to("/etc/passwd")
    docs, skipped = read_corpus(corpus, max_bytes=1_000_000)
    reasons = dict(skipped)
    assert sorted(d.path for d in docs) == ["plan.md", "sub/strategy.pdf"]
    assert "no text layer" in reasons["scan.pdf"]
    assert "unsupported format (a PNG image)" == reasons["chart.png"]
    assert "binary" in reasons["data.bin"]
    assert reasons["empty.txt"] == "no text"
    assert "unreadable PDF" in reasons["broken.pdf"]
    assert "encrypted PDF" in reasons["locked.pdf"]
    assert "unreadable" in reasons["broken.docx"] or "unsupported" in reasons["broken.docx"]
    assert "Excel workbook" in reasons["sheet.xlsx"]
    assert "over the size limit" in reasons["big.txt"] and "QA_MAX_FILE_MB" in reasons["big.txt"]
    assert reasons[".DS_Store"] == "hidden file"
    assert "outside the corpus" in reasons["passwd"]
    found = {d.path for d in docs} | set(reasons) | {"catalog.json"}
    assert found >= {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()
                     or p.is_symlink()}


def test_a_link_out_of_the_corpus_is_refused_and_one_inside_is_read(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret plan\n")
    (corpus / "plan.txt").write_text("Plan\n\nBeds rise.\n")
    (corpus / "leak.txt").symlink_to(outside)
    (corpus / "again.txt").symlink_to(corpus / "plan.txt")
    files, skipped = scan(corpus, 10**6)
    assert sorted(p.name for p in files) == ["again.txt", "plan.txt"]
    assert skipped == [("leak.txt", f"outside the corpus (a link to {outside.resolve()})")]
    # Staleness notices the link changing, without reading what it points to.
    assert corpus_hashes(corpus)["leak.txt"].startswith("link:")


def test_names_that_would_share_a_doc_id_are_refused(tmp_path):
    ids = {doc_id_for(n) for n in ("a b.txt", "a_b.txt", "x.txt", "x.md", "sub/x.txt")}
    assert len(ids) == 5 and doc_id_for("a b.txt") == "a~20b"
    # Reversible: ~XX is a byte of the name's UTF-8, and "~" itself is escaped.
    for name in ("a b.txt", "sub/plan (2).pdf", "caf\u00e9.docx", "x~y.md"):
        doc_id = doc_id_for(name)
        back = re.sub(rb"~([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                      doc_id.encode()).decode()
        assert back in (name, name[:-4]) and re.fullmatch(r"[A-Za-z0-9_.~-]+", doc_id)
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "x").write_text("one\n")
    (corpus / "x.txt").write_text("two\n")
    with pytest.raises(CorpusError, match="'x' and 'x.txt' would share the document id 'x'"):
        scan(corpus, 10**6)
    other = tmp_path / "d"
    other.mkdir()
    (other / "caf\u00e9.txt").write_text("one\n")
    (other / "cafe\u0301.txt").write_text("two\n")  # the same name, decomposed
    with pytest.raises(CorpusError, match="would share the document id"):
        scan(other, 10**6)


def test_staleness_covers_every_file_whatever_its_format(tmp_path):
    (tmp_path / "plan.pdf").write_bytes(plan_pdf())
    (tmp_path / "chart.png").write_bytes(b"\x89PNG")
    assert set(corpus_hashes(tmp_path)) == {"plan.pdf", "chart.png"}


def test_the_size_limit_is_a_setting():
    assert Settings.from_env(env={"QA_MAX_FILE_MB": "2"}).max_file_bytes == 2 * 2**20
    assert Settings.from_env(env={}).max_file_mb >= 30


def test_scanned_pdf_is_reported_as_such():
    with pytest.raises(Skip, match="no text layer"):
        read_bytes("scan.pdf", scanned_pdf(), None)


def test_a_passage_running_onto_the_next_page_names_both():
    from qa.chunk import pages_of

    assert pages_of([0, 100, 200], 50, 150) == (1, 2)
    assert pages_of([0, 100, 200], 100, 200) == (2, None)
    assert pages_of([0, 100, 200], 150, 260) == (2, 3)
    assert pages_of([], 0, 10) == (None, None)
    # A paragraph too long for its page: the sentence the page break cuts stays whole, the
    # page beginning inside it, and the passage holding it is cited "pp. 1-2".
    sentence = "Beds in the community will rise as the new model of care beds in. "
    data = pdf_bytes([[("h2", "1. Community beds"), ("p", sentence * 100)]])
    doc, passages = passages_of("beds.pdf", data)
    assert len(doc.pages) == 2 and "\n" not in doc.text[doc.pages[1] - 40:doc.pages[1] + 40]
    assert sentence * 80 in doc.text
    across = [p for p in passages if p.start < doc.pages[1] < p.end]
    assert across and all((p.page, p.page_end) == (1, 2) for p in across)


def test_a_pdf_table_running_over_a_page_break_keeps_its_header():
    rows = [["Practice", "List size", "Nurses"]] + [
        [f"Practice {i}", f"{5000 + i * 10}", f"{i % 7}"] for i in range(1, 91)]
    doc, passages = passages_of("lists.pdf", pdf_bytes([[("h2", "Practices"), ("table", rows)]]))
    assert len(doc.pages) >= 2
    last = holding(passages, "Practice 90\t5900\t6")
    assert last.page >= 2 and last.kind == "table"
    assert "Practice\tList size\tNurses" in last.context
    assert all(t.rows[0] == tuple(rows[0]) for t in doc.tables)
