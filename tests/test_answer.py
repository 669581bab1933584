"""The answer box and the citation text: pure functions of a search's records."""
from __future__ import annotations

from qa.answer import answer_of
from qa.cite import citation, pages, public_link, uk_date
from qa.search import Hit, SearchResult


def hit(rank: int, doc_id: str, text: str, highlights=None, **kw) -> Hit:
    fields = dict(score=1.0, passage_id=rank, title=f"Plan {doc_id}", body="Council",
                  date="2017-11-21", area="Area", paper="", section="", start=100, end=100 + len(text))
    return Hit(rank=rank, doc_id=doc_id, text=text,
               highlights=highlights if highlights is not None else [[0, len(text)]],
               **{**fields, **kw})


def result(query: str, hits: list[Hit], no_answer: bool = False) -> SearchResult:
    return SearchResult(query, "hybrid", 10, 1.0, no_answer, hits)


def test_the_answer_quotes_the_top_sentence_on_one_line():
    text = "Intro. The stroke\nmodel is one HASU. Other words."
    a = answer_of(result("what is the stroke model?", [hit(1, "a", text, [[7, 36]])]))
    assert (a.rank, a.start, a.end, a.quote) == (1, 7, 36, "The stroke model is one HASU.")


def test_a_bullets_mark_is_no_part_of_the_quote():
    text = "Who:\n- Programme director and manager\n• 3.3 Providers will merge."
    a = answer_of(result("who runs the programme", [hit(1, "a", text, [[5, 38]])]))
    assert (a.start, a.quote) == (7, "Programme director and manager")
    b = answer_of(result("providers", [hit(1, "a", text, [[39, len(text)]])]))
    assert b.quote == "3.3 Providers will merge."
    assert answer_of(result("dash", [hit(1, "a", "- ", [[0, 2]])])) is None  # a mark alone


def test_a_label_is_no_quotation():
    """A passage of slide labels ("One Herefordshire / Health and Social / Care / Programme")
    whose highlight fell on one of them: no answer box, rather than "Programme" quoted."""
    text = "One Herefordshire\n\nHealth and Social\nCare\nTransformation\nProgramme"
    assert answer_of(result("what is the deficit", [hit(1, "a", text, [[57, 66]])])) is None
    for said in ("The deficit is £13.8m.", "It will open in 2019."):  # short, but sentences
        assert answer_of(result("what is the deficit", [hit(1, "a", said)])).quote == said


def test_also_in_names_other_documents_holding_the_answers_question_words():
    hits = [hit(1, "a", "The stroke model: one HASU."),
            hit(2, "a", "The stroke model again."),          # same document: not named
            hit(3, "b", "Our stroke services follow the model."),  # both words: named
            hit(4, "c", "A model of care."),                 # only one: not named
            hit(5, "b", "The stroke model, later.")]         # b named once, at its best rank
    assert answer_of(result("what is the stroke model?", hits)).also_in == [3]


def test_no_answer_box_when_the_plans_are_silent_or_nothing_is_quotable():
    assert answer_of(result("cake", [hit(1, "a", "Cake.")], no_answer=True)) is None
    assert answer_of(result("cake", [])) is None
    assert answer_of(result("cake", [hit(1, "a", "Cake.", highlights=[])])) is None


def test_dates_read_the_uk_way():
    assert uk_date("2017-11-21") == "21 November 2017"
    assert uk_date("2016-03") == "March 2016" and uk_date("2019") == "2019"
    assert uk_date("") == "" and uk_date("2017-13") == "2017-13" and uk_date("soon") == "soon"


def test_a_citation_quotes_names_dates_and_links():
    h = hit(1, "a", "x", paper="Appendix 1", section="Stroke", page=12, page_end=13)
    assert pages(h) == "pp. 12–13" and pages(hit(1, "a", "x")) == ""
    link = public_link("/doc/a?start=1#passage", "https://plans.example.org")
    assert citation(h, "The model.", link, "https://example.org/paper.pdf") == (
        "“The model.” — Plan a, Council, 21 November 2017, section: Appendix 1 › Stroke, "
        "pp. 12–13. https://plans.example.org/doc/a?start=1#passage "
        "(original: https://example.org/paper.pdf)")
    assert public_link("/doc/a", "") == "/doc/a"
