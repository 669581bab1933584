"""Read the corpus folder: decode each file, strip PDF-extraction markup, attach catalog metadata.

The cleaned text is what the index stores and what every passage offset points into; the
files in corpus/ are never modified.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

CATALOG_NAME = "catalog.json"
DOC_SUFFIXES = (".txt", ".md")
DOC_TYPES = ("report", "minutes", "briefing", "plan", "letter")


class CorpusError(Exception):
    """The corpus as a whole cannot be read (missing folder, nothing indexable, bad catalog)."""


@dataclass
class DocRecord:
    """A document as the index keeps it: metadata and the cleaned text passages cite."""

    doc_id: str
    path: str
    title: str
    body: str
    date: str
    area: str
    type: str
    text: str

    def meta(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(DocRecord) if f.name != "text"}
        return {**d, "chars": len(self.text)}

    def record(self) -> "DocRecord":
        return DocRecord(**{f.name: getattr(self, f.name) for f in fields(DocRecord)})


@dataclass
class Document(DocRecord):
    """A document as read from the corpus, with what only chunking needs."""

    sha256: str = ""
    # Offsets of lines that were wholly bold in the source: a strong heading signal that the
    # cleaning itself removes.
    bold_lines: frozenset = field(default_factory=frozenset, repr=False)
    # Bold lead-in labels ("- **Medicines Optimisation** - The ..."), by line offset: the
    # topic of the paragraphs that follow, which often never name it again.
    labels: dict = field(default_factory=dict, repr=False)


# --- decoding -------------------------------------------------------------------------------

def decode(data: bytes) -> str:
    """Text from bytes: UTF-8 if it is, else Windows-1252 (what these PDFs' extractors emit)."""
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > max(8, len(text) // 100):
        raise ValueError("binary file (not text in any known encoding)")
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


def _clean_line(line: str) -> str:
    line = line.translate(_SMART)
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


# --- metadata inference ---------------------------------------------------------------------

_MONTHS = ("january february march april may june july august september october november "
           "december").split()
_MONTH_RE = "|".join(m[:3] + r"\w*" for m in _MONTHS)
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE}),?\s+((?:19|20)\d\d)\b", re.I)
_DATE_MY = re.compile(rf"\b({_MONTH_RE})\s+((?:19|20)\d\d)\b", re.I)
_DATE_NUM = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})\b")


def _month(name: str) -> int:
    return _MONTHS.index(next(m for m in _MONTHS if name.lower().startswith(m[:3]))) + 1


def find_date(text: str) -> str:
    """The first date stated in the text, as ISO (YYYY-MM-DD, or YYYY-MM), or ''."""
    best: tuple[int, str] | None = None
    for m in _DATE_DMY.finditer(text):
        day, month, year = int(m.group(1)), _month(m.group(2)), int(m.group(3))
        if 1 <= day <= 31:
            best = (m.start(), f"{year:04d}-{month:02d}-{day:02d}")
            break
    for m in _DATE_NUM.finditer(text):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        year += 2000 if year < 100 else 0
        if 1 <= day <= 31 and 1 <= month <= 12 and 1990 <= year <= 2100:
            if best is None or m.start() < best[0]:
                best = (m.start(), f"{year:04d}-{month:02d}-{day:02d}")
            break
    m = _DATE_MY.search(text)
    if m and (best is None or m.start() < best[0]):
        best = (m.start(), f"{int(m.group(2)):04d}-{_month(m.group(1)):02d}")
    return best[1] if best else ""


_BODY = re.compile(r"^(?:[A-Z][\w&'-]*\s){0,5}(?:City|County|District|Borough)\s+Council\b.*$|"
                   r"^(?:[A-Z][\w&'-]*\s){0,6}(?:CCG|NHS Trust|Clinical Commissioning Group)$",
                   re.I | re.M)
_AREA = re.compile(r"\b((?:[A-Z][a-z]+|[A-Z]+)(?:\s(?:and|&|AND)\s(?:[A-Z][a-z]+|[A-Z]+)){1,2}"
                   r"(?:\s(?:[A-Z][a-z]+|[A-Z]+))?)\s+(?:STP|Sustainability\s+(?:and|&)\s+Transformation|"
                   r"SUSTAINABILITY)", re.I)


def infer_meta(text: str, stem: str) -> dict:
    """Best guesses at title, body, date, area and type from a document's opening."""
    head = text[:4000]
    lines = [ln.strip() for ln in head.split("\n") if ln.strip()]
    subject = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("subject:")),
                   "")
    title = subject or next((ln for ln in lines if 8 <= len(ln) <= 120 and "\t" not in ln), stem)
    body_m = _BODY.search(head)
    area_m = _AREA.search(text[:20000])
    low = head.lower()
    if "minutes of the" in low:
        kind = "minutes"
    elif "briefing" in low[:1500]:
        kind = "briefing"
    elif re.search(r"\bplan\b", title.lower()):
        kind = "plan"
    elif re.search(r"^dear\s", low, re.M):
        kind = "letter"
    else:
        kind = "report"
    return {"title": title, "body": body_m.group(0).strip() if body_m else "",
            "date": find_date(head), "area": _title_case(area_m.group(1)) if area_m else "",
            "type": kind}


def _title_case(s: str) -> str:
    return " ".join(w if w in ("and", "&") else w.capitalize() for w in s.lower().split())


# --- the corpus -----------------------------------------------------------------------------

def load_catalog(corpus_dir: Path) -> dict:
    path = corpus_dir / CATALOG_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CorpusError(f"{path}: not a readable JSON catalog ({e})") from e
    docs = data.get("documents") if isinstance(data, dict) else None
    if not isinstance(docs, dict):
        raise CorpusError(f"{path}: expected {{\"documents\": {{file name: {{title, ...}}}}}}")
    return docs


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    return sorted(p for p in corpus_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in DOC_SUFFIXES and not p.name.startswith("."))


def doc_id_for(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)


class Skip(ValueError):
    """A file that cannot be indexed; the message says why."""


# Larger files are skipped before reading: a plan runs to a few MB of text at most.
MAX_FILE_BYTES = 50 * 2**20


def read_bytes(name: str, data: bytes, entry: dict | None) -> Document:
    """One file's bytes and catalog entry as a Document: pure, no file I/O; raises Skip."""
    try:
        text, bold, labels = clean(decode(data))
    except ValueError as e:
        raise Skip(str(e)) from None
    if not text.strip():
        raise Skip("no text")
    meta = infer_meta(text, Path(name).stem)
    meta.update({k: str(v) for k, v in (entry or {}).items() if k in meta and v})
    return Document(doc_id=doc_id_for(Path(name)), path=name, text=text,
                    sha256=hashlib.sha256(data).hexdigest(), bold_lines=bold, labels=labels, **meta)


def scan(corpus_dir: Path, max_bytes: int) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files to read, and (file name, reason) for each one skipped before reading."""
    paths, skipped = [], []
    for p in corpus_files(corpus_dir):
        try:
            size = p.stat().st_size
        except OSError as e:
            skipped.append((p.name, str(e)))
            continue
        if size > max_bytes:
            skipped.append((p.name, f"{size:,} bytes, over the {max_bytes:,}-byte limit"))
        else:
            paths.append(p)
    return paths, skipped


def read_document(path: Path, catalog: dict) -> Document:
    """One corpus file as a Document; raises ValueError or OSError if it cannot be read as text."""
    return read_bytes(path.name, path.read_bytes(), catalog.get(path.name))


def read_corpus(corpus_dir: Path) -> tuple[list[Document], list[str]]:
    """All readable documents, and a warning for each file skipped."""
    catalog = load_catalog(corpus_dir)
    docs, warnings = [], []
    for path in corpus_files(corpus_dir):
        try:
            docs.append(read_document(path, catalog))
        except (OSError, ValueError) as e:
            warnings.append(f"skipped {path.name}: {e}")
    if not docs:
        raise CorpusError(f"no readable documents in {corpus_dir}")
    return docs, warnings


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """sha256 of every file that makes the index, catalog included: what staleness compares."""
    paths = corpus_files(corpus_dir)
    if (corpus_dir / CATALOG_NAME).exists():
        paths.append(corpus_dir / CATALOG_NAME)
    out = {}
    for p in paths:
        try:
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            out[p.name] = "unreadable"
    return out
