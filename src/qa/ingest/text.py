"""Plain text, as PDF extractors and people write it: decoding, and the extraction markup of
the plan files (`**bold**`, `<ul><li>`, `<i>`) stripped line by line.

Table cells stay tab-separated and bullets become `•`; which lines were wholly bold is kept
as a heading signal for the chunker, since the cleaning removes it from the text.
"""
from __future__ import annotations

import codecs
import re

from .record import Parsed, Skip

# --- decoding -------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes) -> str:
    """Text from bytes: by its byte-order mark if it has one, else UTF-8 if it is, else
    Windows-1252 (what these PDFs' extractors emit). Raises Skip for binary data."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as e:
                raise Skip(f"binary file (a {codec} byte-order mark, then not {codec})") from e
    if b"\x00" in data:
        raise Skip("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > max(8, len(text) // 100):
        raise Skip("binary file (not text in any known encoding)")
    return text


# --- cleaning -------------------------------------------------------------------------------

_TAG_CELL = re.compile(r"</?t[dh]\b[^>]*>", re.I)
_TAG_ROW_END = re.compile(r"</tr\s*>", re.I)
_TAG_LI = re.compile(r"<li\b[^>]*>", re.I)
_TAG_DROP = re.compile(
    r"</?(?:ul|ol|li|p|i|u|b|em|strong|span|div|font|sup|sub|table|tbody|thead|tr|br)\b[^>]*/?>",
    re.I)
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BOLD = re.compile(r"\*{2,3}")
_SPACES = re.compile(r"[ \u00a0]{2,}")
_SMART = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u00ad": "", "\ufeff": "", "\f": "\n"})
# Control characters other than tab and newline never reach stored text (\f is a line break).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _clean_line(line: str) -> str:
    line = _CONTROL.sub("", line.translate(_SMART))
    line = _AUTOLINK.sub(r"\1", line)
    line = _TAG_ROW_END.sub("", line)
    line = _TAG_CELL.sub("\t", line)
    line = _TAG_LI.sub(" • ", line)
    line = _TAG_DROP.sub(" ", line)
    line = _BOLD.sub("", line)
    line = _SPACES.sub(" ", line)
    # Cells keep their tab separators; spaces around them are extraction noise.
    line = re.sub(r" *\t *", "\t", line)
    return line.rstrip()


_NUMBERING = re.compile(r"[\d.()]+")


def _bold_flags(raw_lines: list[str]) -> list[bool]:
    """Which lines sit wholly inside **...**, with bold state carried over line breaks.

    State resets at blank lines so that a stray footnote marker (`5,994**`) cannot turn a
    whole document bold.
    """
    flags, bold = [], False
    for line in raw_lines:
        if not line.strip():
            flags.append(False)
            bold = False
            continue
        parts = _BOLD.split(line)
        state, all_bold, any_text = bold, True, False
        for i, part in enumerate(parts):
            if i:
                state = not state
            # "15. **Declarations of Interest**": a plain number before a bold title is a
            # bold heading all the same.
            if part.strip() and not _NUMBERING.fullmatch(part.strip()):
                any_text = True
                all_bold &= state
        flags.append(any_text and all_bold)
        bold = state
    return flags


_LABEL = re.compile(r"^\s*(?:[-•*]\s+)?\*\*([^*]{3,80}?)\*\*\s*[-–:]")


def clean(raw: str) -> tuple[str, frozenset, dict]:
    """Markup-free text with runs of blank lines folded, the offsets of wholly-bold lines, and
    the bold lead-in label of each line that has one."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    raw_lines = raw.split("\n")
    flags = _bold_flags(raw_lines)
    out: list[str] = []
    bold: set[int] = set()
    labels: dict[int, str] = {}
    pos, blank_run = 0, 2  # leading blank lines are dropped
    for line, is_bold in zip(raw_lines, flags):
        text = _clean_line(line)
        if not text.strip():
            blank_run += 1
            if blank_run > 1:
                continue
            text = ""
        else:
            blank_run = 0
        if is_bold:
            bold.add(pos)
        label = _LABEL.match(line)
        if label:
            labels[pos + len(text) - len(text.lstrip())] = _clean_line(label.group(1)).strip()
        out.append(text)
        pos += len(text) + 1
    return "\n".join(out).rstrip() + "\n", frozenset(bold), labels


def load(data: bytes) -> Parsed:
    text, bold, labels = clean(decode(data))
    return Parsed(text, None, [], [], {}, bold, labels)
