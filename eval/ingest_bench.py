"""Ingest speed and the choice of libraries, measured on generated files.

    python eval/ingest_bench.py          # library comparisons, then the 300-page figures

Prints (1) pypdfium2 and pdfplumber side by side on a 40-page plan and on the four-page test
fixture: pages a second, and whether the text keeps the fact sentence whole, drops the running
header and keeps table cells apart; (2) selectolax (planqa's HTML loader) and trafilatura on
the two test pages: milliseconds a page, boilerplate left, content kept, heading levels;
(3) for a 300-page PDF generated from the corpus text: pages a second through planqa's loader
and chunker, against encoding its passages.
eval/bench.py prints the same 300-page lines among its own.
"""
from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.make import (HTML_DIV_PAGE, HTML_PAGE, PDF_FACT, RUNNING_HEADER,  # noqa: E402
                           corpus_pdf, plan_pdf)

from qa.chunk import chunk  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.ingest import read_bytes, read_corpus  # noqa: E402


def corpus_text(settings: Settings) -> str:
    docs, _ = read_corpus(settings.corpus_dir, settings.max_file_bytes)
    return "\n".join(d.text for d in docs)


def _pdfium_text(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def _plumber_text(data: bytes) -> list[str]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def _planqa_text(data: bytes) -> list[str]:
    doc = read_bytes("x.pdf", data, None)
    bounds = doc.pages + [len(doc.text)]
    return [doc.text[a:b] for a, b in zip(bounds, bounds[1:])]


READERS = {"pypdfium2 text": _pdfium_text, "pdfplumber extract_text": _plumber_text,
           "planqa loader (PDFium + pdfplumber tables)": _planqa_text}


def _quality(pages: list[str]) -> dict:
    text = "\n".join(pages)
    flat = re.sub(r"\s+", " ", text)
    return {"fact whole": PDF_FACT in flat,
            "running header gone": RUNNING_HEADER not in text,
            "page numbers gone": not re.search(r"^\s*Page \d+\s*$", text, re.M),
            "table cells apart": "Frailty unit\t70 hours a week" in text}


def compare_libraries(settings: Settings) -> list[dict]:
    long_pdf = corpus_pdf(corpus_text(settings), 40)
    small = plan_pdf()
    rows = []
    for name, read in READERS.items():
        read(small)  # imports and first-use costs are not per page
        t0 = time.perf_counter()
        n = len(read(long_pdf))
        secs = time.perf_counter() - t0
        rows.append({"reader": name, "pages": n, "pages_per_s": round(n / secs, 1),
                     **_quality(read(small))})
    return rows


HTML_CONTENT = ("hyper-acute stroke unit", "Rehabilitation moves closer to home",
                "County Hospital", "freed 40 beds", "delayed transfers")


def _trafilatura(page: str) -> tuple[str, int]:
    import trafilatura

    xml = trafilatura.extract(page, output_format="xml", include_tables=True) or ""
    return xml, xml.count("<head ")


def _selectolax(page: str) -> tuple[str, int]:
    from qa.ingest import html

    parsed = html.load(page.encode())
    return parsed.text, len(parsed.headings)


def compare_html(repeats: int = 50) -> list[dict]:
    rows = []
    for name, read in (("selectolax (planqa loader)", _selectolax),
                       ("trafilatura (xml)", _trafilatura)):
        read(HTML_PAGE)
        t0 = time.perf_counter()
        for _ in range(repeats):
            outs = [read(p) for p in (HTML_PAGE, HTML_DIV_PAGE)]
        ms = (time.perf_counter() - t0) / repeats / 2 * 1000
        text = "\n".join(o[0] for o in outs).replace("\u2011", "-")
        rows.append({"reader": name, "ms_per_page": round(ms, 2),
                     "boilerplate_left": text.count("STRIPME"),
                     "content_kept": sum(c in text for c in HTML_CONTENT),
                     "headings": sum(o[1] for o in outs)})
    return rows


def pdf_figures(settings: Settings, encoder, pages: int = 300) -> dict:
    """Ingest (read and chunk) of a generated PDF of `pages` pages, against encoding its
    passages once with the given encoder."""
    data = corpus_pdf(corpus_text(settings), pages)
    t0 = time.perf_counter()
    doc = read_bytes("plan.pdf", data, None)
    read_s = time.perf_counter() - t0
    passages = chunk(doc, settings.chunk)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    encoder.encode([p.text for p in passages])
    encode_s = time.perf_counter() - t0
    return {"pages": len(doc.pages), "megabytes": round(len(data) / 2**20, 2),
            "passages": len(passages), "read_s": round(read_s, 2),
            "ingest_s": round(ingest_s, 2), "encode_s": round(encode_s, 2),
            "pages_per_s": round(len(doc.pages) / read_s, 1)}


def pdf_rows(fig: dict) -> list[tuple[str, str, str]]:
    """bench.py's lines for these figures: (measure, value, against encoding)."""
    return [(f"PDF ingest, {fig['pages']} pages", f"{fig['pages_per_s']:.0f} pages/s", ""),
            (f"PDF ingest vs encode ({fig['passages']} passages)",
             f"{fig['ingest_s']:.1f} / {fig['encode_s']:.1f} s",
             f"{fig['ingest_s'] / fig['encode_s']:.2f} x")]


def main() -> int:
    from qa.embed import encoder_for

    settings = Settings.from_env()
    print(f"{'reader':<44}{'pages/s':>9}  fact whole  header gone  numbers gone  cells apart")
    for r in compare_libraries(settings):
        print(f"{r['reader']:<44}{r['pages_per_s']:>9}  {r['fact whole']!s:<10}  "
              f"{r['running header gone']!s:<11}  {r['page numbers gone']!s:<12}  "
              f"{r['table cells apart']}")
    print(f"\n{'reader':<44}{'ms/page':>9}  boilerplate left  content kept (of "
          f"{len(HTML_CONTENT)})  headings")
    for r in compare_html():
        print(f"{r['reader']:<44}{r['ms_per_page']:>9}  {r['boilerplate_left']:<16}  "
              f"{r['content_kept']:<21}  {r['headings']}")
    fig = pdf_figures(settings, encoder_for(settings))
    print()
    for name, value, ratio in pdf_rows(fig):
        print(f"{name:<44}{value:>22}  {ratio}")
    print(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
