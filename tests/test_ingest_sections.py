"""Section labels that are sections (issue 14), on the real agenda pack and on made-up lines
of the same shapes: the rules are general, not keyed to the pack."""
from __future__ import annotations

import pytest

from conftest import CORPUS
from qa.chunk import chunk
from qa.config import ChunkSettings
from qa.ingest import read_bytes

CFG = ChunkSettings()


def sections_of(name: str, data: bytes) -> set[str]:
    doc = read_bytes(name, data, None)
    return {p.section for p in chunk(doc, CFG)}


@pytest.fixture(scope="module")
def pack_sections():
    name = "003_47a7c2baa2766db0.txt"
    return sections_of(name, (CORPUS / name).read_bytes())


def test_a_heading_ending_in_a_range_keeps_it(pack_sections):
    assert "24. Better Care Fund Plan 2017-19" in pack_sections
    assert "24. Better Care Fund Plan 2017-" not in pack_sections
    made = sections_of("m.txt", b"Intro\n\n1. Estates Strategy 2019/20\n\nText of it.\n\n"
                                b"2. Workforce Plan 2018-21\n\nMore text.\n\n"
                                b"3. Better Care Fund Plan 2017-\n19\n\nThe fund grows.\n\n"
                                b"4. Health and Wellbeing Strategy for\nCoventry\n\nIt ends.\n")
    assert {"1. Estates Strategy 2019/20", "2. Workforce Plan 2018-21",
            "3. Better Care Fund Plan 2017-19",
            "4. Health and Wellbeing Strategy for Coventry"} <= made


def test_a_letters_sign_off_and_on_behalf_of_are_no_sections():
    made = sections_of("m.txt", b"Intro\n\nThe letter follows.\n\nYours sincerely\n\n"
                                b"Jane Doe\n\nOn behalf of: the Board\n\nTelephone: 024 7683\n")
    assert not [s for s in made if "Yours sincerely" in s or "On behalf of" in s]


def test_a_page_number_after_a_heading_is_still_dropped():
    made = sections_of("m.txt", b"Contents\n\n1. Introduction 4\n\nThe plan begins.\n")
    assert "1. Introduction" in made


def test_people_notices_and_empty_entries_are_no_sections(pack_sections):
    parts = {part for s in pack_sections for part in s.split(" › ")}
    for odd in ("Martin Yardley", "Please note", "hearing loop", "Please see page 2", "Nil"):
        assert not [s for s in parts if s.startswith(odd)], odd
    made = sections_of("m.txt", b"Agenda\n\nJane Doe, Director of Public Health, Town Hall\n\n"
                                b"Item one is the plan.\n\nNote: papers are available online\n\n"
                                b"Item two is the budget.\n\nNone\n\nItem three.\n")
    assert not [s for s in made if "Jane Doe" in s or "Note:" in s or s.endswith("None")]
    # Headings of the same look stay headings.
    kept = sections_of("m.txt", b"Intro\n\nNotes\n\nThe notes follow.\n\n"
                                b"Priority 1: improving access\n\nMore GP hours.\n")
    assert {"Notes", "Priority 1: improving access"} <= kept
