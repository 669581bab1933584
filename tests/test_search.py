"""Search over the real index and model: the vocabulary's expansions in both retrievers,
missing terms and silence, what a question asks for, and the two rankers."""
from __future__ import annotations

import json
import os
import re
from dataclasses import replace

import numpy as np
import pytest

from conftest import qa_cli, validate
from qa.search import Searcher
from qa.search import answer_type, features, no_answer, rank


def test_bed_blocking_finds_delayed_transfers(searcher):
    res = searcher.search("what is being done about bed blocking?", k=5)
    assert any(e["from"] == "bed blocking" and "delayed transfers of care" in e["to"]
               for e in res.expansions)
    assert any("delayed transfer" in h.text.lower() or "dtoc" in h.text.lower()
               for h in res.results[:3])
    # Without the vocabulary the lay words find no such passage near the top.
    bare = searcher.search("what is being done about bed blocking?", k=5, mode="bm25")
    assert bare.expansions  # the expansions are reported whatever the mode
    assert not res.missing_terms
    # The passages that hold "delayed transfers of care" hold what the question asks about.
    assert not res.no_answer


def test_expansions_weigh_below_the_askers_words(searcher, index):
    q = searcher.analyse("family doctors in coventry")
    own, syn, also = searcher.bm25_scores(q, None)
    assert syn.any() or also.any()
    # A passage holding the asker's own words outscores one holding only an expansion of
    # the same BM25 weight: the expansions are scaled by weights below 1.
    s = searcher.settings
    assert 0 < s.synonym_weight <= 1 and 0 <= s.also_weight <= 1
    c = searcher.candidates(q, "hybrid", 20, None)
    assert np.allclose(rank.sparse_of(c, s),
                       c.bm25 + s.synonym_weight * c.bm25_syn + s.also_weight * c.bm25_also)


def test_a_reworded_question_is_encoded_beside_the_question(searcher):
    q = searcher.analyse("what is being done about bed blocking?")
    assert q.rephrased and "delayed transfers of care" in q.rephrased
    assert searcher.query_vectors(q).shape[0] == (1 if searcher.settings.expansion == "off" else 2)
    # An acronym is left as asked: the corpus glossary and the encoder handle those.
    assert searcher.analyse("what does the CCG do").rephrased is None


def test_json_result_carries_expansions_and_missing_terms(searcher, client, spec):
    body = client.get("/api/search?q=bed+blocking+in+Solihull").get_json()
    validate(spec, "/api/search", 200, body)
    assert body["missing_terms"] == ["solihull"]
    assert body["expansions"][0]["from"] == "bed blocking"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_a_place_no_plan_mentions_is_missing_and_silent(searcher, mode):
    res = searcher.search("what is the plan for Solihull?", k=5, mode=mode)
    assert res.missing_terms == ["solihull"]
    assert res.no_answer
    assert res.results  # the closest passages are still offered


@pytest.mark.parametrize("question", [
    "how many family doctors are there in Coventry",  # a synonym: the plans say GP
    "what does the STP say about GPs",                # an acronym and a plural
    "are there plans for integrated neighbourhood teams",  # stemming, framing words
])
def test_words_the_plans_spell_otherwise_are_not_missing(searcher, question):
    assert searcher.search(question, k=3).missing_terms == []


def test_a_name_the_plans_hold_only_in_other_words_is_not_silence(searcher):
    """"the Walsgrave" is the plans' "UHCW" (the vocabulary says so): no word of it is
    missing, and passages that hold the rewording cover it, though the word itself has no
    idf to weigh by (it weighed nothing, so no passage covered it and the page said the
    plans were silent)."""
    r = searcher.search("the Walsgrave", k=5)
    assert r.missing_terms == [] and not r.no_answer
    assert any("UHCW" in h.text for h in r.results)
    q = searcher.analyse("the Walsgrave")
    c = searcher.candidates(q, "hybrid", searcher.settings.candidate_depth, None)
    assert no_answer.signals(q, c, no_answer.absence(q, searcher.index.bm25)).coverage == 1.0
    # Exact words alone: the rewording is a match, and its sentence the highlight.
    r = searcher.search("the Walsgrave", k=10, mode="bm25")
    held = [h for h in r.results if "UHCW" in h.text]
    assert not r.no_answer and held
    for h in held:
        (a, b), = h.highlights
        assert "UHCW" in h.text[a:b]


def test_answer_type_of_a_question_and_a_sentence():
    assert answer_type.wanted("how many people live in rural Warwickshire?") == answer_type.FIGURE
    assert answer_type.wanted("by when will the plan be agreed") == answer_type.DATE
    assert answer_type.wanted("who chairs the board") == answer_type.WHO
    assert answer_type.wanted("what is the stroke model") is None
    assert answer_type.holds(answer_type.FIGURE, "a shortfall of 120 GPs")
    assert not answer_type.holds(answer_type.FIGURE, "GPs are key partners")
    assert answer_type.holds(answer_type.DATE, "to be agreed by March 2019")
    # The finer kinds the no-answer test reads: a sum, a duration, a count (not a year).
    assert answer_type.precise("how much will the new unit cost") == answer_type.MONEY
    assert answer_type.precise("how long is the wait for a scan") == answer_type.DURATION
    assert answer_type.precise("how many people live in rural Warwickshire?") == answer_type.COUNT
    assert answer_type.precise("when will the plan be agreed") is None
    assert answer_type.holds(answer_type.MONEY, "a gap of £120m")
    assert not answer_type.holds(answer_type.MONEY, "a gap of 120 GPs")
    assert answer_type.holds(answer_type.DURATION, "seen within 18 weeks")
    assert not answer_type.holds(answer_type.COUNT, "agreed in 2019")


def test_a_sentence_holding_the_figure_asked_for_is_evidence(searcher, index):
    q = searcher.analyse("how many people live in rural Warwickshire?")
    c = searcher.candidates(q, "hybrid", 50, None)
    held = c.answer > 0
    assert held.any()
    for j in np.flatnonzero(held)[:5]:
        text = index.passages[int(c.ids[j])].text
        assert answer_type.holds(answer_type.FIGURE, text)


def test_silence_thresholds_combine_the_signals():
    t = no_answer.Thresholds(missing=0.5, cosine=0.3, coverage=0.5, answer=0.1)
    sig = no_answer.Signals(missing=0.0, cosine=0.6, coverage=0.8, answer=0.5, wants=True)
    assert not no_answer.silent(sig, t)
    assert no_answer.silent(replace(sig, missing=0.7), t)
    assert no_answer.silent(replace(sig, cosine=0.2, coverage=0.1), t)
    assert no_answer.silent(replace(sig, answer=0.0), t)
    assert not no_answer.silent(replace(sig, answer=0.0, wants=False), t)
    asks_sum = replace(t, precise=0.3)
    assert not no_answer.silent(sig, asks_sum)  # not asked for a sum: precise stays 1
    assert no_answer.silent(replace(sig, precise=0.2), asks_sum)


def test_a_sum_no_sentence_states_is_silence(searcher):
    """The plans discuss maternity services at length but put no sum of money to them:
    passages about maternity do not answer what a maternity unit will cost."""
    question = "how much will the new maternity unit cost"
    q = searcher.analyse(question)
    assert q.precise == answer_type.MONEY
    c = searcher.candidates(q, "hybrid", searcher.settings.candidate_depth, None)
    sig = no_answer.signals(q, c, no_answer.absence(q, searcher.index.bm25))
    # Every word is in the plans, and without the new signal they would not seem silent.
    assert sig.missing == 0.0
    assert not no_answer.silent(sig, replace(no_answer.fitted(), precise=0.0))
    assert sig.precise < no_answer.fitted().precise
    res = searcher.search(question, k=5)
    assert res.no_answer and not res.missing_terms and res.results
    # A sum the plans state (the financial gap, "circa £100m to £120m") is not silence.
    gap = searcher.analyse("how much is the financial gap")
    c = searcher.candidates(gap, "hybrid", searcher.settings.candidate_depth, None)
    assert (no_answer.signals(gap, c, no_answer.absence(gap, searcher.index.bm25)).precise
            >= no_answer.fitted().precise)
    assert not searcher.search("how much is the financial gap", k=5).no_answer


def test_diversity_keeps_one_document_from_filling_the_list(searcher):
    q = searcher.analyse("stroke services")
    c = searcher.candidates(q, "hybrid", 50, None)
    final = rank.plain(c, "hybrid", "score", searcher.settings)
    plain = rank.diversify(final, c, 0.0, 10)
    spread = rank.diversify(final, c, 1.0, 10)
    assert list(plain) == list(np.argsort(-final, kind="stable")[:10])
    assert len(set(c.doc[spread])) >= len(set(c.doc[plain]))
    assert len(set(c.doc[spread])) == min(len(set(c.doc)), 10)


@pytest.mark.parametrize("ranker", ["plain", "ltr"])
def test_each_ranker_ranks(index, settings, ranker):
    s = Searcher(index, replace(settings, ranker=ranker))
    res = s.search("what is the stroke model?", k=10)
    assert len(res.results) == 10
    assert any("HASU" in h.text for h in res.results[:5])


def test_the_shipped_ranker_reads_the_features_the_searcher_computes():
    model = rank.shipped_model()
    assert model["features"] == list(rank.FEATURES)
    assert len(model["coef"]) == len(model["mean"]) == len(rank.FEATURES)


def test_an_unknown_ranker_is_refused(index, settings):
    with pytest.raises(ValueError, match="unknown ranker"):
        Searcher(index, replace(settings, ranker="neural"))


def test_cli_prints_what_was_also_searched_for(cli_env):
    out = qa_cli("search", "bed blocking in Solihull", "-k", "2", env_extra=cli_env)
    assert out.returncode == 0, out.stderr
    assert "Also searched for: delayed transfers of care" in out.stdout
    assert "No document mentions: solihull" in out.stdout
    data = json.loads(qa_cli("search", "bed blocking", "--json", "-k", "2",
                             env_extra=cli_env).stdout)
    assert data["expansions"][0]["from"] == "bed blocking" and data["missing_terms"] == []


def test_cli_plain_ranker_setting(cli_env):
    out = qa_cli("search", "what is the stroke model?", "-k", "5",
                 env_extra={**cli_env, "QA_RANKER": "plain"})
    assert out.returncode == 0 and "HASU" in out.stdout
    out = qa_cli("search", "stroke", env_extra={**cli_env, "QA_RANKER": "nope"})
    assert out.returncode != 0 and "QA_RANKER" in out.stderr
    assert "Traceback" not in out.stderr


def test_candidates_features_line_up(searcher):
    q = searcher.analyse("how much will the new urgent treatment centres cost")
    c = searcher.candidates(q, "hybrid", 30, None)
    n = len(c)
    assert n >= 30
    for name in ("bm25", "bm25_syn", "bm25_also", "cos", "sent", "coverage", "answer",
                 "section", "defining", "length", "doc"):
        assert len(getattr(c, name)) == n
    assert ((0 <= c.coverage) & (c.coverage <= 1 + 1e-6)).all()
    sub = c.take(np.arange(5))
    assert list(sub.ids) == list(c.ids[:5]) and sub.sims is None
    assert isinstance(searcher.passages, features.PassageCache)


def test_a_search_from_a_new_thread_scans_on_one_openmp_thread(searcher):
    """OpenMP's thread count belongs to the calling thread: a server's worker thread that
    searched with FAISS's default (a worker a core) spun against the encoder."""
    import threading

    import faiss

    seen = {}

    def worker():
        seen["before"] = faiss.omp_get_max_threads()
        seen["hits"] = len(searcher.search("stroke services").results)
        seen["after"] = faiss.omp_get_max_threads()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["hits"] > 0 and seen["after"] == 1
    # The default a new thread starts from: on one core there is nothing to show.
    if (os.cpu_count() or 1) > 1:
        assert seen["before"] > 1


def test_a_passages_heading_is_not_its_answering_sentence(searcher):
    """A section's heading repeats the question's words ("4.2 Cancer" for a cancer question)
    but answers nothing: the highlight, and so the answer box, is another of its sentences;
    a heading is highlighted only when asked what an acronym stands for."""
    headed = 0
    for question in ("cancer workstream", "self-management programme", "place based care",
                     "estates strategy", "primary care workforce", "urgent and emergency care"):
        for hit in searcher.search(question).results:
            pid = searcher.index.passage_ids.index(hit.passage_id)
            facts = searcher.passages.facts(pid)
            if facts.heading is None or len(facts.sentences) < 2:
                continue
            headed += 1
            heading = facts.sentences[facts.heading]
            assert hit.highlights != [[heading.start, heading.end]], (question, hit.section)
    assert headed >= 5  # the questions reach passages that open with their heading


def test_a_passage_found_through_the_vocabulary_is_highlighted_where_it_says_so(searcher):
    """Exact words alone (no sentence vectors to go by): a passage ranked for a wording the
    vocabulary gives ("within 4 hours" for "A&E waits") still shows its answering sentence,
    and so gets an answer box, rather than none and no word of silence either."""
    r = searcher.search("A&E waits", k=3, mode="bm25", area="Coventry and Warwickshire")
    assert r.results and all(h.highlights for h in r.results)
    top = r.results[0]
    a, b = top.highlights[0]
    assert re.search(r"A ?& ?E|4 hours", top.text[a:b])


def test_no_quotable_sentence_is_said_not_left_blank(client):
    """Exact words alone, where the best passage holds the question's word only in a label
    ("Ambulance Service" heading a row): no answer to quote, and the page says so, with a
    way to search by meaning too, rather than showing neither an answer nor silence."""
    html = client.get("/search?q=ambulance&mode=bm25").get_data(as_text=True)
    assert "no answer to quote" in html and "mode=hybrid" in html
    html = client.get("/search?q=what+is+the+stroke+model").get_data(as_text=True)
    assert "no answer to quote" not in html and "Answer from the plans" in html


def test_a_label_is_not_the_answering_sentence(searcher):
    """A table row's label ("Stroke Care" before the row's targets) holds the question's word
    and nothing else: one of the row's sentences is highlighted instead."""
    hits = [h for h in searcher.search("what is the stroke model?").results
            if "Stroke Care" in h.text]
    assert hits, "the table row of stroke targets is among the results"
    for hit in hits:
        (a, b), = hit.highlights
        assert len(hit.text[a:b].split()) > 2, hit.text[a:b]
