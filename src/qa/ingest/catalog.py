"""corpus/catalog.json: metadata a person wrote for each file, checked before anything is read."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .record import DOC_TYPES, META_FIELDS, CorpusError

CATALOG_NAME = "catalog.json"
FIELDS = (*META_FIELDS, "source_url")
_ISO = re.compile(r"^\d{4}(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?$")
_WEB = re.compile(r"^https?://\S+$")


def is_iso_date(value: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD with a real month and day: what a catalog date may be, and
    what a format's own properties must be to be taken."""
    return bool(_ISO.match(value))


def is_web_address(value: str) -> bool:
    """An http(s) address: the only kind a page may link to as the original paper."""
    return bool(_WEB.match(value))


def check_entry(name: str, entry, corpus_dir: Path) -> dict:
    """One catalog entry, validated; CorpusError names the entry and what is wrong with it."""
    where = f"{CATALOG_NAME}: entry {name!r}"
    if not isinstance(entry, dict):
        raise CorpusError(f"{where} must be an object such as {{\"title\": \"...\"}}, "
                          f"not {type(entry).__name__}")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise CorpusError(f"{where} has unknown field(s) {', '.join(unknown)}; "
                          f"known: {', '.join(FIELDS)}")
    for k, v in entry.items():
        if not isinstance(v, str):
            raise CorpusError(f"{where}: {k} must be a string, not {json.dumps(v)}")
    if entry.get("type") and entry["type"] not in DOC_TYPES:
        raise CorpusError(f"{where}: unknown type {entry['type']!r}; use one of "
                          f"{', '.join(DOC_TYPES)}")
    if entry.get("date") and not is_iso_date(entry["date"]):
        raise CorpusError(f"{where}: date {entry['date']!r} is not ISO (YYYY, YYYY-MM or "
                          "YYYY-MM-DD)")
    url = entry.get("source_url")
    if url and not is_web_address(url):
        raise CorpusError(f"{where}: source_url {url!r} is not an http(s) address")
    if not (corpus_dir / name).is_file():
        raise CorpusError(f"{where} names no file in {corpus_dir}")
    return entry


def load_catalog(corpus_dir: Path) -> dict[str, dict]:
    """File name (relative to the corpus, '/' separated) -> validated entry; {} without a
    catalog."""
    path = corpus_dir / CATALOG_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as e:
        raise CorpusError(f"{path}: not a readable JSON catalog ({e})") from e
    docs = data.get("documents") if isinstance(data, dict) else None
    if not isinstance(docs, dict):
        raise CorpusError(f"{path}: expected {{\"documents\": {{file name: {{title, ...}}}}}}")
    return {name: check_entry(name, entry, corpus_dir) for name, entry in docs.items()}
