"""What a question asks for (a figure, a date, a person or body) and whether a sentence holds it.

"How many GPs ..." is answered by a sentence with a number in it, "when will ..." by one with a
date, "who leads ..." by one naming a role or an organisation. A passage that only shares the
question's topic words lacks that; the ranker and the no-answer test read the difference.
"""
from __future__ import annotations

import re

FIGURE, DATE, WHO = "figure", "date", "who"
KINDS = (FIGURE, DATE, WHO)

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

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec")
_HOLDS = {
    FIGURE: re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                       r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|half|third|"
                       r"quarter|double|twice|dozen)\b", re.I),
    DATE: re.compile(rf"\b(19|20)\d\d\b|\b\d\d?(st|nd|rd|th)?\s+({_MONTHS})\b|\b({_MONTHS})\s+"
                     r"(19|20)\d\d\b|\b(spring|summer|autumn|winter|quarter|q[1-4])\b|"
                     r"\b(by|from|until|before|after) (the )?(end|start|beginning) of\b", re.I),
    WHO: re.compile(r"\b(chief|director|chair|chairman|officer|lead|leads|manager|secretary|"
                    r"minister|board|committee|council|trust|partnership|group|team|forum|"
                    r"alliance|network|ccg|ccgs|icb|ics|stp|commissioner|commissioners|"
                    r"executive|panel|authority|mr|mrs|ms|dr|professor|cllr|councillor)\b",
                    re.I),
}


def wanted(question: str) -> str | None:
    """The kind of thing the question asks for, or None for any other question."""
    for kind, pattern in _WANTS:
        if pattern.search(question):
            return kind
    return None


def holds(kind: str, text: str) -> bool:
    """Whether the text holds something of that kind."""
    return _HOLDS[kind].search(text) is not None
