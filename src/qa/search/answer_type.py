"""What a question asks for (a figure, a date, a person or body) and whether a sentence holds it.

"How many GPs ..." is answered by a sentence with a number in it, "when will ..." by one with a
date, "who leads ..." by one naming a role or an organisation. A passage that only shares the
question's topic words lacks that; the ranker and the no-answer test read the difference.
"""
from __future__ import annotations

import re

from ..dates import MONTH_PATTERN

FIGURE, DATE, WHO = "figure", "date", "who"
# Finer kinds, read only by the no-answer test: "how much will X cost" is answered by a sum
# of money, "how long is the wait" by a duration, "how many" by a count, where any figure
# (a year, a page number) would do for the ranker's coarser FIGURE.
MONEY, DURATION, COUNT = "money", "duration", "count"
KINDS = (FIGURE, DATE, WHO, MONEY, DURATION, COUNT)

_WANTS = (
    (FIGURE, re.compile(r"\bhow (many|much|long|often|big|large|far)\b|\bwhat (percentage|"
                        r"proportion|share|number|amount|rate|level)\b|"
                        r"\b(cost|costs|budget|spend|funding|savings?) of\b", re.I)),
    (DATE, re.compile(r"^\s*when\b|\bby when\b|\bwhat (year|date|month)\b|\bhow soon\b|"
                      r"\bwhen (will|is|was|does|did|do|are|were|should)\b", re.I)),
    (WHO, re.compile(r"^\s*who\b|\bwho (is|are|will|leads?|chairs?|runs?)\b|"
                     r"\bwhich (organisations?|bodies|body|boards?|teams?|trusts?|partners?)\b",
                     re.I)),
)

_PRECISE = (
    (MONEY, re.compile(r"\bhow much (is|are|was|were|will|would|does|do|did|has|have)\b.*\b(cost|"
                       r"costs|spend|spent|pay|paid|fund|funds|funding|budget|worth|price|charge|"
                       r"save|saving|savings)\b|\bhow much (money|funding)\b|\bhow much is\b|"
                       r"\bwhat (is|was|will be) the (budget|cost|price)\b|\b(cost|budget|price)"
                       r" of\b", re.I)),
    (DURATION, re.compile(r"\bhow long\b", re.I)),
    (COUNT, re.compile(r"\bhow many\b", re.I)),
)
_UNITS = r"(minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|months?|years?)"

_HOLDS = {
    FIGURE: re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                       r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|half|third|"
                       r"quarter|double|twice|dozen)\b", re.I),
    DATE: re.compile(rf"\b(19|20)\d\d\b|\b\d\d?(st|nd|rd|th)?\s+({MONTH_PATTERN})\b|"
                     rf"\b({MONTH_PATTERN})\s+(19|20)\d\d\b|"
                     r"\b(spring|summer|autumn|winter|quarter|q[1-4])\b|"
                     r"\b(by|from|until|before|after) (the )?(end|start|beginning) of\b", re.I),
    WHO: re.compile(r"\b(chief|director|chair|chairman|officer|lead|leads|manager|secretary|"
                    r"minister|board|committee|council|trust|partnership|group|team|forum|"
                    r"alliance|network|ccg|ccgs|icb|ics|stp|commissioner|commissioners|"
                    r"executive|panel|authority|mr|mrs|ms|dr|professor|cllr|councillor)\b",
                    re.I),
    # A sum is in pounds: "1.2 million" alone is as often people, "50k" a population. A
    # number is read from its first digit only: tried from every digit of a long run such as
    # a table's "1,2,3,...", the search took time quadratic in the sentence's length.
    MONEY: re.compile(r"£\s?\d|(?<![\d,.])\b\d[\d,.]*\s?(thousand|million|billion|m|bn|k)?\s?"
                      r"(pounds?|gbp)\b", re.I),
    # "How long will it run" is also answered by when it ends: "until March 2019".
    DURATION: re.compile(rf"\b\d+(\.\d+)?\s*((-|to)\s*\d+\s*)?{_UNITS}\b|\b(one|two|three|"
                         rf"four|five|six|seven|eight|nine|ten|twelve|eighteen)\s+{_UNITS}\b|"
                         rf"\b(until|till)\s+(the\s+end\s+of\s+)?({MONTH_PATTERN}|(19|20)\d\d)\b",
                         re.I),
    # A number that is not a year.
    COUNT: re.compile(r"\b(?!(19|20)\d\d\b)\d[\d,]*(\.\d+)?\b|\b(two|three|four|five|six|"
                      r"seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
                      r"thousand|million)\b", re.I),
}


def wanted(question: str) -> str | None:
    """The kind of thing the question asks for, or None for any other question."""
    for kind, pattern in _WANTS:
        if pattern.search(question):
            return kind
    return None


def precise(question: str) -> str | None:
    """The finer kind the question asks for (MONEY, DURATION, COUNT), or None."""
    for kind, pattern in _PRECISE:
        if pattern.search(question):
            return kind
    return None


# A section or list number opening a sentence ("4.1 It is important ...", "(5) The health
# authority ..."): a heading's number, not a figure the sentence states.
_NUMBERING = re.compile(r"^\W*(\(\d+\)|\d+(\.\d+)+\.?|\d+\.)(?=\s+[A-Z(]|\s*$)")


def holds(kind: str, text: str) -> bool:
    """Whether the text holds something of that kind. The finer kinds, which say whether the
    plans state the figure asked for, do not count a sentence's own number."""
    if kind in (MONEY, DURATION, COUNT):
        text = _NUMBERING.sub("", text, count=1)
    return _HOLDS[kind].search(text) is not None
