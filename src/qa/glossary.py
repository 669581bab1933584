"""Acronyms and their long forms, mined from the corpus itself.

Plans define their acronyms in passing, "Local Workforce Action Board (LWAB)", and then use
them bare pages later; questions use either form. Expanding the question with the missing
form lets BM25 match it whichever way it is put. The expansion is query-side only: passages
are indexed as written, so an acronym defined in a new paper changes no stored vector.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

_PAREN = re.compile(r"\(([A-Za-z][A-Za-z&]{1,9})\)")
_ROW = re.compile(r"^([A-Z][A-Za-z&]{1,9})\t+([A-Z][^\t\n]{5,80})$", re.M)
_WORD = re.compile(r"[A-Za-z][\w'&-]*")
_LINKS = frozenset("of and the for to in on & with at".split())


def _is_acronym(s: str) -> bool:
    return sum(c.isupper() for c in s) >= 2


def _letters(acr: str) -> list[str]:
    core = acr[:-1] if acr.endswith("s") and acr[:-1].isupper() else acr
    return [c.lower() for c in core if c.isalpha()]


def long_form(words: list[str], acr: str) -> str | None:
    """The words before '(ACR)' whose initials spell it, read backwards, or None."""
    letters = _letters(acr)
    i, j = len(words) - 1, len(letters) - 1
    while i >= 0 and j >= 0:
        w = words[i]
        if w[0].lower() == letters[j]:
            j -= 1
            # "Musculoskeletal (MSK)": one word may carry several letters of the acronym.
        elif w.lower() in _LINKS and j < len(letters) - 1:
            pass
        else:
            break
        i -= 1
    if j >= 0:
        return None
    start = i + 1
    while start < len(words) and words[start].lower() in _LINKS:
        start += 1
    phrase = " ".join(words[start:])
    return phrase if len(words) - start >= 2 else None


def candidates(text: str) -> dict[str, dict[str, int]]:
    """Each acronym one text defines, with how often it spells it out each way: a document's
    share of the glossary, kept with its index segment and summed across the collection."""
    found: dict[str, Counter] = defaultdict(Counter)
    for m in _PAREN.finditer(text):
        acr = m.group(1)
        if not _is_acronym(acr):
            continue
        before = _WORD.findall(text[max(0, m.start() - 160):m.start()].split("\n")[-1])
        lf = long_form(before[-12:], acr)
        if lf:
            found[acr][lf] += 1
    for m in _ROW.finditer(text):
        acr, lf = m.group(1), m.group(2).strip()
        if _is_acronym(acr) and long_form(_WORD.findall(lf), acr) == lf:
            found[acr][lf] += 1
    return {acr: dict(forms) for acr, forms in found.items()}


class Glossary:
    def __init__(self, entries: dict[str, str]):
        self.entries = entries
        self._long = {v.lower(): k for k, v in entries.items()}
        self._by_lower = {k.lower(): k for k in entries}  # "ispa" asks about "iSPA"
        self._acr_re = (re.compile(r"\b(" + "|".join(map(re.escape, sorted(entries, key=len,
                                                                              reverse=True)))
                                   + r")\b") if entries else None)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def mine(cls, texts: Iterable[str]) -> "Glossary":
        return cls.from_candidates(candidates(t) for t in texts)

    @classmethod
    def from_candidates(cls, found_per_text: Iterable[dict]) -> "Glossary":
        """The glossary of a collection from each text's candidates (see `candidates`), summed in
        order: each acronym takes its most frequent long form, the first seen on a tie."""
        found: dict[str, Counter] = defaultdict(Counter)
        for per_text in found_per_text:
            for acr, forms in per_text.items():
                found[acr].update(forms)
        return cls({acr: forms.most_common(1)[0][0] for acr, forms in found.items()})

    def other_forms(self, text: str) -> list[str]:
        """The other form of each acronym or long form the text holds, where it lacks it."""
        if not self.entries:
            return []
        present = set(self._acr_re.findall(text))
        low = text.lower()
        extra = [self.entries[a] for a in sorted(present) if self.entries[a].lower() not in low]
        return extra + [a for lf, a in self._long.items() if a not in present and lf in low]

    def expand(self, text: str) -> str:
        """The text with the other forms it lacks appended."""
        extra = self.other_forms(text)
        return f"{text}\n{'; '.join(extra)}" if extra else text

    def asked_about(self, words: list[str]) -> str | None:
        """The acronym a question asks to have spelt out: its only word that is not a
        question's frame ("what does DTB stand for", "iSPA meaning"); None otherwise."""
        return self._by_lower.get(words[0].lower()) if len(words) == 1 else None

    def defines(self, text: str, acronym: str) -> bool:
        """Whether the text spells the acronym out: "Long Form (ACR)", or an acronym table's
        "ACR<tab>Long Form" row."""
        low, long = text.lower(), self.entries[acronym].lower()
        acr = acronym.lower()
        return (f"{long} ({acr})" in low
                or re.search(rf"^{re.escape(acr)}\t+{re.escape(long)}", low, re.M) is not None)
