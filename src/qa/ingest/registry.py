"""Which loader reads a file: chosen by what the bytes are, the extension only breaking ties
(an HTML page or a PDF saved as .txt goes to its own loader)."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile

from . import docx, html, markdown, pdf, text
from .catalog import is_iso_date, is_web_address
from .meta import infer
from .record import Document, Parsed, Skip
from .scan import doc_id_for

LOADERS = {"pdf": pdf.load, "docx": docx.load, "html": html.load, "markdown": markdown.load,
           "text": text.load}
_EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".xhtml": "html",
               ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text"}
# Formats recognised by their first bytes and not read: named, so the skip says what it is.
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
          (b"\xd0\xcf\x11\xe0", "an old Office file (.doc/.xls/.ppt: save it as .docx or PDF)"),
          (b"{\\rtf", "an RTF file (save it as .docx or PDF)"), (b"\x1f\x8b", "a gzip archive"),
          (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"))
# A page starts with markup and names one of a page's own elements early on.
_HTML_START = re.compile(rb"^\s*<[!a-z?]", re.I)
_HTML_ELEMENT = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta)\b", re.I)


def _zip_kind(data: bytes) -> str:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return "a damaged ZIP file"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "an Excel workbook (.xlsx: not read)"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint file (.pptx: not read)"
    if "content.xml" in names:
        return "an OpenDocument file (save it as .docx or PDF)"
    return "a ZIP archive"


def sniff(name: str, data: bytes) -> str:
    """The loader for these bytes, or Skip naming what they are."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(data)
        if kind in LOADERS:
            return kind
        raise Skip(f"unsupported format ({kind})")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise Skip(f"unsupported format ({what})")
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""
    if (_HTML_START.match(head.lstrip(b"\xef\xbb\xbf")) and _HTML_ELEMENT.search(head)) or (
            ext in (".html", ".htm", ".xhtml") and b"<" in head):
        return "html"
    by_ext = _EXTENSIONS.get(ext)
    if by_ext in ("markdown", "text"):
        return by_ext
    if by_ext in ("pdf", "docx"):
        raise Skip(f"not a {by_ext.upper()} file, whatever its name says (damaged or mislabelled)")
    return "text"  # whatever decodes as text is read as text; the decoder says if it is not


def parse(name: str, data: bytes) -> Parsed:
    kind = sniff(name, data)
    try:
        return LOADERS[kind](data)
    except Skip:
        raise
    except Exception as e:  # a damaged file fails deep in its parser, in any of its types
        raise Skip(f"unreadable {kind} file ({type(e).__name__}: {e})"[:200]) from e


def read_bytes(name: str, data: bytes, entry: dict | None) -> Document:
    """One file as a Document: `name` its path relative to the corpus ('/' separated), `entry`
    its validated catalog entry. Pure: no file I/O. Raises Skip if it cannot be indexed."""
    parsed = parse(name, data)
    if not parsed.text.strip():
        raise Skip("no text")
    # A file's own date and address are taken only in the form the catalog requires: front
    # matter may say "2019-13-45" or "javascript:...", and the page would show or link it.
    checks = {"date": is_iso_date, "url": is_web_address}
    props = {k: v for k, v in parsed.props.items() if checks.get(k, bool)(v)}
    meta, origins = infer(name, parsed.text, parsed.headings, props, entry)
    source_url = (entry or {}).get("source_url") or props.get("url", "")
    if source_url:
        origins["source_url"] = "catalog" if (entry or {}).get("source_url") else "properties"
    return Document(doc_id=doc_id_for(name), path=name, text=parsed.text, pages=parsed.pages,
                    source_url=source_url, origins=origins,
                    sha256=hashlib.sha256(data).hexdigest(), bold_lines=parsed.bold_lines,
                    labels=parsed.labels, headings=parsed.headings, tables=parsed.tables, **meta)
