"""A health-and-care vocabulary for questions: the asker's words matched to the plans' words.

People ask about "bed blocking", "family doctors" and "care packages"; the plans write
"delayed transfers of care", "GP" and "domiciliary care". The vocabulary is a file in the
Solr/Elasticsearch synonyms format, so it can be read, edited and extended by hand:

    # equivalent terms, each gaining the others:
    delayed transfers of care, delayed discharge, DToC
    # one way, the left gaining the right:
    bed blocking => delayed transfers of care, DToC

Phrases match a question case-insensitively on whole words, each word Snowball-stemmed so
plurals and simple inflections match ("care homes", "nursing home"); stop words are kept, so
"care at home" and "care home" stay apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .bm25 import STOPWORDS, _stemmer, fold

SHIPPED = "data/synonyms.txt"

# "A&E" and "people's" are one word each, and so are "A & E" and "A and E" (read as "a&e");
# "out-of-hours" is three.
_WORD = re.compile(r"\b(?P<pair>[a-z])\s*(?:&|\band\b)\s*(?P<other>[a-z])\b"
                   r"|[a-z0-9£%]+(?:[&'][a-z0-9]+)*", re.I)
_VOWELS = frozenset("aeiouy")


class SynonymsError(ValueError):
    """A vocabulary file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Expansion:
    source: str               # the words as the question has them ("bed blocking")
    terms: tuple[str, ...]    # what they expand to (professional wording first), never source

    def to_dict(self) -> dict:
        return {"from": self.source, "to": list(self.terms)}


@lru_cache(maxsize=1 << 16)  # the vocabulary repeats its words; questions repeat theirs
def _norm(word: str) -> str:
    stem = _stemmer().stemWord(fold(word))
    # Snowball keeps the s of a plural acronym ("GPs", "CCGs", "A&Es": no vowel before it).
    if stem.endswith("s") and len(stem) > 2 and ("&" in stem or not _VOWELS & set(stem[:-1])):
        stem = stem[:-1]
    return stem


def tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, word) of each word, the word lower-cased and stemmed."""
    # Matched in the text as given (lower() may change its length), so offsets hold.
    return [(m.start(), m.end(),
             _norm((f"{m['pair']}&{m['other']}" if m["pair"] else m.group()).lower()))
            for m in _WORD.finditer(text.replace("\u2019", "'"))]


def key(phrase: str) -> tuple[str, ...]:
    """The phrase as matched: its words, lower-cased and stemmed."""
    return tuple(w for _, _, w in tokens(phrase))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


Term = tuple[str, tuple[str, ...]]  # a phrase as written, and its key
Rule = tuple[tuple[Term, ...], tuple[Term, ...]]  # (terms that match, terms they expand to)


class Synonyms:
    def __init__(self, rules: list[Rule]):
        self._rules = rules  # in file order
        # phrase key -> [(term, term key)], each term once, never the phrase itself
        self._targets: dict[tuple[str, ...], list[Term]] = {}
        # An acronym can stem to a function word ("ONS" to "on"): such a key matches only
        # where the question writes it exactly as the vocabulary does.
        self._exact: dict[tuple[str, ...], set[str]] = {}
        for sources, targets in rules:
            for source, k in sources:
                if all(w in STOPWORDS for w in k):
                    self._exact.setdefault(k, set()).add(source)
                out = self._targets.setdefault(k, [])
                seen = {k, *(tk for _, tk in out)}
                for term, tk in targets:
                    if tk not in seen:
                        seen.add(tk)
                        out.append((term, tk))
        self._longest = max((len(k) for k in self._targets), default=0)

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The lines in file order, each (terms that match, terms they expand to)."""
        return tuple(self._rules)

    @classmethod
    def parse(cls, text: str, origin: str = "<text>") -> "Synonyms":
        rules = []
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                rules.append(_rule(line))
            except SynonymsError as e:
                raise SynonymsError(f"{origin}, line {n}: {e}: {line[:80]!r}") from None
        return cls(rules)

    @classmethod
    def load(cls, extra: Path | None = None) -> "Synonyms":
        """The shipped vocabulary, with the lines of a user's file (QA_SYNONYMS) added."""
        ours = cls.parse(resources.files("qa").joinpath(SHIPPED).read_text("utf-8"), SHIPPED)
        if extra is None:
            return ours
        try:
            text = Path(extra).read_text("utf-8-sig")  # an editor's byte-order mark is no term
        except FileNotFoundError:
            raise SynonymsError(f"the synonyms file {extra} (QA_SYNONYMS) does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SynonymsError(f"the synonyms file {extra} (QA_SYNONYMS) cannot be read: "
                                f"{e}") from None
        return cls(ours._rules + cls.parse(text, str(extra))._rules)

    def expand(self, question: str) -> list[Expansion]:
        """What the question's phrases expand to, longest phrase first where two overlap,
        in question order; terms the question already holds are left out."""
        toks = tokens(question)
        words = tuple(w for _, _, w in toks)
        found = []
        for i in range(len(words)):
            for n in range(min(self._longest, len(words) - i), 0, -1):
                k = words[i:i + n]
                if k in self._targets and (
                        k not in self._exact
                        or question[toks[i][0]:toks[i + n - 1][1]] in self._exact[k]):
                    found.append((i, i + n))
        taken: set[int] = set()
        chosen = []
        for i, j in sorted(found, key=lambda s: (s[0] - s[1], s[0])):
            if taken.isdisjoint(range(i, j)):
                taken.update(range(i, j))
                chosen.append((i, j))
        out = []
        for i, j in sorted(chosen):
            terms = tuple(t for t, tk in self._targets[words[i:j]] if not _contains(words, tk))
            if terms:
                out.append(Expansion(question[toks[i][0]:toks[j - 1][1]], terms))
        return out


def _rule(line: str) -> Rule:
    if line.count("=>") > 1:
        raise SynonymsError("more than one '=>'")
    left, arrow, right = line.partition("=>")
    sources = _phrases(left)
    if arrow:
        return sources, _phrases(right)
    if len(sources) < 2:
        raise SynonymsError("a line of equivalent terms needs at least two, separated by commas")
    return sources, sources


def _phrases(side: str) -> tuple[Term, ...]:
    terms = []
    for p in (p.strip() for p in side.split(",")):
        if not p:
            raise SynonymsError("an empty term (two commas together, or nothing beside '=>')")
        k = key(p)
        if not k:
            raise SynonymsError(f"the term {p!r} has no letters or digits")
        terms.append((p, k))
    return tuple(terms)
