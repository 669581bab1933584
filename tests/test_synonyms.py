"""The health-and-care vocabulary: its format, matching and expansion, on the shipped file."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from importlib import resources

import pytest

from conftest import qa_cli
from qa.synonyms import SHIPPED, Expansion, Synonyms, SynonymsError, key


@pytest.fixture(scope="module")
def shipped() -> Synonyms:
    return Synonyms.load()


def expanded(syn: Synonyms, question: str) -> dict[str, tuple[str, ...]]:
    return {e.source: e.terms for e in syn.expand(question)}


# --- the format -----------------------------------------------------------------------------

def test_equivalent_terms_each_gain_the_others():
    syn = Synonyms.parse("# a comment\n\nalpha beta, gamma, delta\n")
    assert len(syn) == 1
    assert expanded(syn, "what about gamma?") == {"gamma": ("alpha beta", "delta")}
    assert expanded(syn, "Alpha Beta") == {"Alpha Beta": ("gamma", "delta")}


def test_irregular_plurals_match_their_singulars():
    """A rule written in the singular matches a question in the plural, and BM25 counts both
    forms as one term, for the plurals a stemmer leaves apart."""
    from qa.bm25 import words

    syn = Synonyms.parse("child obesity => overweight children\nmedical diagnosis => assessment")
    assert [e.source for e in syn.expand("rising children obesity")] == ["children obesity"]
    assert [e.source for e in syn.expand("waits for medical diagnoses")] == ["medical diagnoses"]
    assert words("women's teeth, children, diagnoses") == words("a woman's tooth, child, diagnosis")
    assert words("she lives alone") == words("she live alone")  # a verb too: not folded
    assert words("diagnosis") == words("diagnosed")


def test_one_way_rule_expands_only_its_left_side():
    syn = Synonyms.parse("lay word, lay term => trade word, trade term\n")
    assert expanded(syn, "a lay term here") == {"lay term": ("trade word", "trade term")}
    assert syn.expand("trade word") == []


@pytest.mark.parametrize("line, why", [
    ("alpha, , beta", "empty term"),
    ("alpha =>", "empty term"),
    ("=> beta", "empty term"),
    ("alpha => beta => gamma", "more than one '=>'"),
    ("alpha", "at least two"),
    ("alpha, !!!", "no letters or digits"),
])
def test_malformed_line_names_file_and_line(line, why):
    with pytest.raises(SynonymsError) as err:
        Synonyms.parse(f"# header\nfine, good\n{line}\n", "mine.txt")
    msg = str(err.value)
    assert msg.startswith("mine.txt, line 3: ") and why in msg and "\n" not in msg


# --- matching -------------------------------------------------------------------------------

def test_shipped_vocabulary_is_over_a_thousand_rules(shipped):
    assert len(shipped) >= 1000


def shipped_rule_lines() -> list[tuple[int, str]]:
    """(line number, line) of each rule of the shipped file."""
    text = resources.files("qa").joinpath(SHIPPED).read_text("utf-8")
    return [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.startswith("#")]


def test_every_shipped_line_expands_something():
    # A line whose terms all stem alike ("school nurse, school nurses") would do nothing.
    idle = [n for n, line in shipped_rule_lines()
            if not any(Synonyms.parse(line).expand(t) for t in line.split("=>")[0].split(","))]
    assert idle == []


def test_phrases_on_different_lines_stem_apart_unless_they_are_the_same_phrase():
    # Two different words that stem alike on different lines would each gain the other's
    # expansions: "ER" (A&E) and the plans' "eRS" (e-Referral Service) once did.
    uses = defaultdict(set)  # key -> {(line, phrase as written, case and punctuation aside)}
    for n, line in shipped_rule_lines():
        for phrase in line.split("=>")[0].split(","):
            uses[key(phrase)].add((n, " ".join(re.findall(r"[a-z0-9&]+", phrase.lower()))))
    clashes = {k: sorted(u) for k, u in uses.items()
               if len({n for n, _ in u}) > 1 and len({w for _, w in u}) > 1}
    assert clashes == {}


@pytest.mark.parametrize("word", ["care", "plan", "money", "health", "staff", "service", "local",
                                  "hospital", "people", "special", "modern", "organ", "the",
                                  "broke", "admitted", "referred", "advocates", "mum",
                                  "parking", "travel", "second", "fit", "parent", "enable",
                                  "foster", "called", "adoption", "section", "cycle", "lump",
                                  "turnaround", "era"])
def test_a_bare_everyday_word_expands_to_nothing(shipped, word):
    # A lone common word would pull every question that uses it towards one topic; no spelling
    # line may stem onto one ("hospitalised" stems to "hospit", "specialized" to "special");
    # and a word with an everyday sense besides the health one ("she broke her hip", "the
    # report referred to", "my mum has dementia") is no trigger on its own. Some once stemmed
    # onto a lay word: "parks" took "parking", "travellers" "travel", "secondment" "second",
    # "fitness" "fit", "parenting" "parent", "enablement" "enable", "fostering" "foster", and
    # "call-in" took "GPs were called in". "Sectioned", "cycling", "lumps", "turnaround" and
    # "ERAS" stem onto "section 75", "contract life cycle", "lump sum", "test turnaround times"
    # and "era", so those lines use longer phrases ("got sectioned", "cycle to work").
    assert shipped.expand(word) == []


@pytest.mark.parametrize("question, phrase, term", [
    ("Why are nurses quitting?", "nurses quitting", "retention"),
    ("Are children sent miles away for a bed?", "sent miles away", "out of area placements"),
    ("Are there enough beds at Walsgrave?", "Walsgrave", "UHCW"),
    ("Which treatments will the NHS stop paying for?", "stop paying for",
     "procedures of limited clinical value"),
    ("Is there help for people who hear voices?", "hear voices", "psychosis"),
    ("How are they helping pregnant women smoking less?", "pregnant women smoking",
     "smoking at time of delivery"),
    ("Are they selling off hospital land?", "selling off hospital land", "disposals"),
    ("Is the money being spent wisely?", "spent wisely", "value for money"),
    ("How long are opthalmology waits?", "opthalmology", "ophthalmology"),
    ("What is the organizational culture?", "organizational", "organisation"),
    ("Will I lose my house to pay for care?", "lose my house", "deferred payment agreement"),
    ("Was the decision called in?", "decision called in", "overview and scrutiny committee"),
    ("Is there free parking at the hospital?", "parking at the hospital", "parking charges"),
    ("Why are ambulance queues so long?", "ambulance queues", "ambulance handover delays"),
    ("Is there a GP crisis here?", "GP crisis", "primary care sustainability"),
    ("I am struggling to look after my mother", "struggling to look after", "carers' support"),
    ("Can I see a nurse instead?", "see a nurse instead", "practice nurse"),
    ("Who is the councillor responsible for social care?",
     "councillor responsible for social care", "cabinet member"),
    # Third pass: a longer phrase now wins over a single word that pointed elsewhere.
    ("My daughter is cutting herself", "cutting herself", "self-harm"),  # not "cuts"
    ("Is unexplained weight loss a worry?", "unexplained weight loss", "early diagnosis"),
    ("Are retirement villages planned?", "retirement villages", "extra care housing"),
    ("Children say they feel unsafe", "feel unsafe", "community safety"),
    ("Is bullying at school rising?", "bullying at school", "emotional wellbeing"),
    ("My dad was sent home too early", "sent home too early", "safe discharge"),
    ("Is the Alex going to shut?", "shut", "closure"),
    ("Is the waiting list longer?", "waiting list", "referral to treatment waiting times"),
])
def test_everyday_phrases_reach_the_plans_terms(shipped, question, phrase, term):
    assert term in expanded(shipped, question)[phrase]


def test_multiword_lay_phrase_gains_the_plans_term(shipped):
    got = expanded(shipped, "Is bed blocking getting worse?")
    assert got["bed blocking"][0] == "delayed transfers of care"
    assert "DToC" in got["bed blocking"]


def test_plurals_and_case_match(shipped):
    assert "GP" in expanded(shipped, "How many Family Doctors are there?")["Family Doctors"]
    # Snowball leaves the s of a plural acronym; it still matches the singular rule.
    assert "general practitioner" in expanded(shipped, "where are GPs short")["GPs"]
    assert "care home" in expanded(shipped, "old people's homes")["old people's homes"]
    # "A & E" and "A and E" are A&E; the source is quoted as the question wrote it.
    for written in ("A & E waits", "a and e waits", "A&E waits"):
        assert "4-hour standard" in expanded(shipped, f"why are {written} long?")[written]
    assert list(expanded(shipped, "Bed Blocking\u2019s cost")) == ["Bed Blocking\u2019s"]


def test_whole_words_only(shipped):
    # "ED" (emergency department) must not fire inside "needed"; "cuts" not inside "haircuts".
    assert shipped.expand("the needed haircuts") == []


def test_small_words_keep_care_at_home_apart_from_care_homes(shipped):
    at_home = expanded(shipped, "care at home")["care at home"]
    homes = expanded(shipped, "care homes")["care homes"]
    assert "domiciliary care" in at_home and "domiciliary care" not in homes
    assert "residential home" in homes and "residential home" not in at_home


def test_longest_match_wins_and_matches_do_not_overlap(shipped):
    # "A&E waits" is one phrase (the 4-hour standard), not "A&E" plus "waits".
    got = expanded(shipped, "are A&E waits improving")
    assert list(got) == ["A&E waits"] and "4-hour standard" in got["A&E waits"]
    syn = Synonyms.parse("care home, residential home\nhome, house\nold people's home => care home\n")
    assert [e.source for e in syn.expand("old people's home")] == ["old people's home"]


def test_matches_come_in_question_order(shipped):
    sources = [e.source for e in shipped.expand("temp staff and the deficit")]
    assert sources == ["temp staff", "deficit"]


def test_lay_words_are_never_added_to_a_professional_term(shipped):
    terms = expanded(shipped, "delayed transfers of care")["delayed transfers of care"]
    assert "bed blocking" not in terms and "DToC" in terms


def test_terms_already_in_the_question_are_not_added():
    syn = Synonyms.parse("alpha, beta, gamma\n")
    assert expanded(syn, "alpha and beta") == {"alpha": ("gamma",), "beta": ("gamma",)}
    assert syn.expand("alpha, beta and gamma") == []


def test_expansion_serialises_for_the_json_result(shipped):
    e = shipped.expand("bed blocking")[0]
    assert isinstance(e, Expansion)
    assert e.to_dict() == {"from": "bed blocking", "to": list(e.terms)}
    assert "bed blocking" not in e.terms


# --- the user's file and the command --------------------------------------------------------

def test_command_prints_expansions_and_json():
    out = qa_cli("synonyms", "is bed blocking worse?")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("bed blocking -> delayed transfers of care; ")
    out = qa_cli("synonyms", "family doctors", "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["expansions"][0]["from"] == "family doctors" and "GP" in body["expansions"][0]["to"]
    out = qa_cli("synonyms", "what is the weather tomorrow?")
    assert out.returncode == 0 and out.stdout.strip() == "no expansions"


def test_user_file_adds_to_the_shipped_vocabulary(tmp_path):
    mine = tmp_path / "mine.txt"
    # As a Windows editor saves it: a byte-order mark and CRLF line ends.
    mine.write_bytes("\ufeff# our words\r\nfamily doctors => family medicine\r\n"
                     "waiting rooms, lobbies\r\n".encode("utf-8"))
    out = qa_cli("synonyms", "family doctors and waiting rooms",
                 env_extra={"QA_SYNONYMS": str(mine)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("family doctors -> GP; ") and lines[0].endswith("; family medicine")
    assert lines[1] == "waiting rooms -> lobbies"


def test_malformed_user_file_is_a_one_line_error(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("waiting rooms, lobbies\nbroken => \n")
    out = qa_cli("synonyms", "bed blocking", env_extra={"QA_SYNONYMS": str(mine)})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert f"{mine}, line 2" in out.stderr


def test_missing_user_file_is_a_one_line_error(tmp_path):
    out = qa_cli("synonyms", "bed blocking", env_extra={"QA_SYNONYMS": str(tmp_path / "no.txt")})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no.txt" in out.stderr and "Traceback" not in out.stderr


def test_an_acronym_that_stems_to_a_function_word_never_matches_it():
    vocab = Synonyms.load()
    assert not any("Office for National Statistics" in e.terms
                   for e in vocab.expand("can residents sit in on the meetings"))
    assert any("Office for National Statistics" in e.terms for e in vocab.expand("ONS figures"))
