"""The web page and JSON API: a thin Flask shell over the searcher a source hands each request."""
from __future__ import annotations

import html
import json
import os
import re
import threading
import time
import weakref
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from . import commitments_web, openapi
from .answer import answer_of, sentence_of
from .chunk import SECTION_SEP, section_path
from .cite import citation, pages, public_link, uk_date
from .config import HEAVY_K, MAX_K, whole
from .memo import per_object
from .search import QueryError, Searcher, clean_query, has_words

# Templates and static files ship inside the package, so an installed wheel serves the page.
WEB_DIR = Path(__file__).resolve().parent
# Beside the brief's own stroke question, none is a dev question (eval/dev.jsonl): the page
# does not show off what was tuned on.
EXAMPLES = ("what is the stroke model?", "how many GPs are close to retirement?",
            "how will A&E change?", "what does STP stand for")
# Everything of a search a results link carries, so "Back to results" returns to the same list.
SEARCH_ARGS = ("q", "doc", "area", "k", "mode")
# The pages a document view leads back to, by path, and what its link says.
ORIGINS = {"/search": "Back to results", "/commitments": "Back to the commitments"}
# The retrieval modes, as the page names them: hybrid first, the default.
MODE_OPTIONS = (("hybrid", "Words and meaning"), ("bm25", "Exact words"), ("dense", "Meaning only"))
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HTTP_REASONS = {s.value: s.phrase for s in HTTPStatus}
SECURITY_HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                    ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"))
INTERNAL_ERROR = "Something went wrong on our side."


def wants_json(path: str) -> bool:
    """Whether errors on this path are JSON (the API) rather than an HTML page."""
    return path.startswith("/api/") or path in ("/api", "/healthz")


def error_face(status: int, code: str, message: str):
    """The one face of an error, inside a request: JSON on the API, the error page elsewhere."""
    if wants_json(request.path):
        return jsonify({"error": {"code": code, "message": message}}), status
    return render_template("error.html", status=status, message=message), status


def render_error(app: Flask, status: int, code: str, message: str, path: str):
    """An error response made outside any request the app saw (the server refusing a
    connection, a malformed request, a forbidden Host), with the same face and headers as the
    app's own errors: (status line, headers, body). The request context is built on a fixed
    host, so nothing the client sent reaches the page."""
    api = wants_json(path)
    try:
        with app.test_request_context("/api/" if api else "/", base_url="http://localhost/"):
            resp = app.process_response(app.make_response(error_face(status, code, message)))
            body, headers = resp.get_data(), list(resp.headers.items())
    except Exception:  # no page can be drawn (no index to hand): a bare one still can
        app.logger.exception("error page failed")
        if api:
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            kind = "application/json"
        else:
            body = (f'<!doctype html><html lang="en"><title>{status} – planqa</title>'
                    f"<h1>{html.escape(message)}</h1></html>").encode()
            kind = "text/html; charset=utf-8"
        headers = [("Content-Type", kind), *SECURITY_HEADERS]
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    return f"{status} {HTTP_REASONS.get(status, 'Error')}", headers, body


class App(Flask):
    def make_default_options_response(self):
        # OPTIONS says which methods a path takes, and nothing else.
        resp = super().make_default_options_response()
        resp.status_code = 204
        del resp.headers["Content-Type"]
        return resp


class BadRequest(Exception):
    def __init__(self, message: str, code: str = "bad_request", status: int = 400):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def _arg(name: str, default: str | None = None) -> str | None:
    return request.args.get(name, default)


def _check_query_string() -> None:
    # Werkzeug leaves undecodable %-escapes in place ("%FF") rather than failing; a question
    # is text, so refuse bytes that are not UTF-8 instead of searching for their escapes.
    try:
        unquote_to_bytes(request.query_string.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the query string is not valid UTF-8", "bad_encoding") from None


def _search(searcher: Searcher):
    """The search a request asks for; raises BadRequest for anything malformed."""
    # The core checks q, k (given as text here), mode, doc and area, with messages for people.
    try:
        return searcher.search(_arg("q", ""), k=_arg("k", "10"), mode=_arg("mode", "hybrid"),
                               doc=_arg("doc") or None, area=_arg("area") or None)
    except QueryError as e:
        raise BadRequest(str(e)) from None


def _search_args() -> dict:
    """The search this request came from (q and its filters), to carry from page to page. A
    k is carried only as the user chose it and only when valid: a bad one is reported once,
    not resubmitted with every later search."""
    args = {k: v for k in SEARCH_ARGS if (v := request.args.get(k))}
    # The settings' rule for whole numbers: str.isdigit() also passes "²", which int() refuses.
    try:
        if "k" in args:
            whole(1, MAX_K)(args["k"])
    except ValueError:
        del args["k"]
    return args


def _filter_tags(args: dict, searcher: Searcher) -> list[dict]:
    """The active filters, each with the link that removes it."""
    titles = {d.doc_id: d.title for d in searcher.index.docs}
    modes = dict(MODE_OPTIONS)
    shown = {"doc": ("Document", titles.get(args.get("doc", ""), args.get("doc"))),
             "area": ("Area", args.get("area")),
             "mode": ("Match", modes.get(args.get("mode", ""), args.get("mode"))),
             "k": ("Passages shown", args.get("k"))}
    return [{"name": name, "value": value,
             "href": url_for("search_page", **{k: v for k, v in args.items() if k != key})}
            for key, (name, value) in shown.items()
            if key in args and not (key == "mode" and args[key] == "hybrid")]


def as_asked(terms: list[str], query: str) -> list[str]:
    """Each term as the question spells it ("solihull" -> "Solihull"), where it does."""
    return [m.group(0) if (m := re.search(rf"\b{re.escape(t)}\b", query, re.I)) else t
            for t in terms]


def filters_match(docs: list, doc: str | None, area: str | None) -> bool:
    """Whether any document passes both filters (a document of one area and another area
    exclude each other: then no passage can match, whatever the question)."""
    return any((not doc or d.doc_id == doc) and (not area or d.area.lower() == area.lower())
               for d in docs)


def _back_link() -> tuple[str, str] | None:
    """Where the reader came from (?back=, a path on this site), and the link's words."""
    back = request.args.get("back", "")
    path = back.split("?", 1)[0]
    # Only the pages named, by exact path: never another host ("//evil") or a script URL.
    if path in ORIGINS:
        return back, ORIGINS[path]
    return None


def _form_values() -> dict:
    """The filter and mode choices, as the form shows them again above the results."""
    return {"doc": _arg("doc") or "", "area": _arg("area") or "", "mode": _arg("mode") or "hybrid"}


def _corpus_summary(searcher: Searcher) -> dict:
    docs = searcher.index.docs
    years = sorted({d.date[:4] for d in docs if d.date[:4].isdigit()})
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else (years[0] if years else "")
    return {"documents": len(docs), "areas": searcher.areas, "years": span}


class Staleness:
    """The index's stale files for /healthz, which monitors poll: the corpus folder is looked
    at no more often than every `every` seconds, and its files are hashed again only when
    their names, sizes or modification times have changed."""

    def __init__(self, every: float = 5.0):
        self.every = every
        self._lock = threading.Lock()
        # The searcher (weakly: a switched-out index must be free to go), checked at, signature.
        self._last: tuple = (lambda: None, 0.0, None, [])

    @staticmethod
    def signature(folder: Path) -> tuple:
        # The whole tree, as the build reads it: a paper in a sub-folder counts too.
        stats = []
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    st = os.stat(os.path.join(root, name))  # a link: what it points to
                except OSError:
                    continue
                stats.append((os.path.join(root, name), st.st_size, st.st_mtime_ns))
        return tuple(sorted(stats))

    def of(self, searcher: Searcher) -> list[str]:
        with self._lock:
            seen_ref, at, sig, result = self._last
            seen, now = seen_ref(), time.monotonic()
            if seen is searcher and now - at < self.every:
                return result
            folder = searcher.settings.corpus_dir
            new_sig = self.signature(folder)
            if seen is not searcher or new_sig != sig:
                result = searcher.index.stale_files(folder)
            self._last = (weakref.ref(searcher), now, new_sig, result)
            return result


class Fixed:
    """A source that always hands out one searcher (tests, a server that never reloads)."""

    def __init__(self, searcher: Searcher):
        self.searcher = searcher

    def current(self) -> Searcher:
        return self.searcher


@dataclass(frozen=True)
class IndexView:
    """What the pages show of one index that does not change while that index is served."""

    page_globals: dict
    by_doc: dict
    outlines: dict


@per_object
def index_view(searcher: Searcher) -> IndexView:
    page_globals = {"corpus": _corpus_summary(searcher), "docs": searcher.index.docs,
                    "doc_options": [(d.doc_id, d.title) for d in searcher.index.docs],
                    "area_options": [(a, a) for a in searcher.areas],
                    "mode_options": MODE_OPTIONS}
    by_doc: dict[str, list] = {d.doc_id: [] for d in searcher.index.docs}
    for p in searcher.index.passages:
        by_doc[p.doc_id].append(p)
    return IndexView(page_globals, by_doc,
                     {doc_id: outline(ps) for doc_id, ps in by_doc.items()})


def create_app(source) -> Flask:
    """The app over `source`: a Searcher, or anything whose current() gives the searcher to
    answer the next request with (so a server can switch indexes between requests)."""
    if isinstance(source, Searcher):
        source = Fixed(source)
    app = App(__name__, template_folder=str(WEB_DIR / "templates"),
              static_folder=str(WEB_DIR / "static"), static_url_path="/static")
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False
    app.extensions["searchers"] = source

    def current() -> Searcher:
        # One searcher per request, read once: a switch between requests never mixes indexes.
        from flask import g

        if "searcher" not in g:
            g.searcher = source.current()
        return g.searcher

    app.context_processor(lambda: index_view(current()).page_globals)
    app.add_template_filter(section_path)
    app.add_template_filter(uk_date)
    app.add_template_filter(pages)

    app.before_request(_check_query_string)

    @app.after_request
    def _headers(resp):
        resp.headers.update(SECURITY_HEADERS)
        return resp

    @app.errorhandler(BadRequest)
    def _bad_request(e: BadRequest):
        return error_face(e.status, e.code, e.message)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        body, status = error_face(e.code or 500, (e.name or "error").lower().replace(" ", "_"),
                                  e.description or e.name)
        # Keep what the exception says beside its page, such as a 405's Allow (RFC 9110).
        extra = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
        return body, status, extra

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unhandled error")
        return error_face(500, "internal_error", INTERNAL_ERROR)

    # --- pages ------------------------------------------------------------------------------

    @app.get("/")
    def home():
        return render_template("index.html", examples=EXAMPLES)

    @app.get("/search")
    def search_page():
        q = clean_query(_arg("q", "") or "")  # as the search reads it: "%01" is no question
        if not q:
            return render_template("index.html", examples=EXAMPLES,
                                   message="Type a question to search the plans.")
        searcher = current()
        args = _search_args()
        form = {**_form_values(), "q": q, "search_args": args,
                "tags": _filter_tags(args, searcher), "clear_href": url_for("search_page", q=q),
                # Something besides the question was asked (a filter, a k): searching again
                # without it may help; the question alone asked again would not, nor one of
                # no words.
                "filtered": any(request.args.get(k) for k in SEARCH_ARGS if k != "q")
                and has_words(q)}
        try:
            result = _search(searcher)
        except BadRequest as e:
            return render_template("results.html", result=None, error=e.message, **form), e.status
        back = url_for("search_page", **args)
        hits = [_hit_view(h, searcher, back) for h in result.results]
        # As many again while this list came back full, and only as long as the pool of
        # candidates stays the one this list was ranked from (it grows with k past
        # candidate_depth, and the first passages could then change places): those shown
        # stay where they are, and the reader goes on from the first new one.
        most = min(HEAVY_K, searcher.settings.candidate_depth)
        more = min(2 * result.k, most) if len(hits) == result.k < most else 0
        answer = answer_of(result)
        return render_template(
            "results.html", result=result, hits=hits, answer=answer, error=None,
            missing=as_asked(result.missing_terms, result.query),
            answer_item=hits[answer.rank - 1] if answer else None,
            also=[hits[r - 1] for r in answer.also_in] if answer else [],
            filters_match=filters_match(searcher.index.docs, _arg("doc"), _arg("area")),
            # Opened at the first passage not shown before.
            more_href=more and url_for("search_page", **{**args, "k": more},
                                       _anchor=f"result-{result.k + 1}"), **form)

    @app.get("/doc/<doc_id>")
    def document_page(doc_id: str):
        searcher = current()
        doc = searcher.index.doc_by_id.get(doc_id)
        if doc is None:
            abort(404, description=f"There is no document {doc_id!r}.")
        start, end = _span(len(doc.text))
        mark = _sentence_span(start, end)
        view = index_view(searcher)
        passage = next((p for p in view.by_doc[doc_id] if p.start == start and p.end == end), None)
        contents = view.outlines[doc_id]
        return render_template(
            "doc.html", doc=doc, passage=passage, cited=start < end, contents=contents,
            segments=doc_segments(doc.text, contents, start, end, mark),
            back=_back_link(), source_url=doc.source_url)

    # --- JSON API ---------------------------------------------------------------------------

    @app.get("/api/search")
    def api_search():
        result = _search(current())
        answer = answer_of(result)
        return jsonify({**result.to_dict(), "answer": answer and answer.to_dict()})

    @app.get("/api/documents")
    def api_documents():
        return jsonify({"documents": [d.meta() for d in current().index.docs]})

    @app.get("/api/documents/<doc_id>")
    def api_document(doc_id: str):
        doc = current().index.doc_by_id.get(doc_id)
        if doc is None:
            raise BadRequest(f"unknown document {doc_id!r}", "not_found", 404)
        return jsonify({**doc.meta(), "text": doc.text})

    staleness = Staleness()

    @app.get("/healthz")
    def healthz():
        searcher = current()
        m = searcher.index.manifest
        return jsonify({"status": "ok", "documents": m["documents"], "passages": m["passages"],
                        "model": m["model"], "encoder": m.get("encoder", ""),
                        "dimensions": m["dimensions"], "built_at": m["built_at"],
                        "stale_files": staleness.of(searcher),
                        # Which build is served and when a live source last switched to it.
                        "index": searcher.index.path.name if searcher.index.path else "",
                        "switched_at": getattr(source, "switched_at", None)})

    @app.get("/api/openapi.json")
    def api_openapi():
        searcher = current()
        return jsonify(openapi.spec([d.doc_id for d in searcher.index.docs], searcher.areas))

    commitments_web.register(app, current)
    return app


@dataclass(frozen=True)
class Heading:
    start: int  # where its first passage begins in the document text
    label: str
    depth: int


def outline(passages: list) -> list[Heading]:
    """A document's contents, from its passages' papers and section paths, in text order."""
    out, seen = [], set()
    for p in sorted(passages, key=lambda p: p.start):
        if p.paper and p.paper not in seen:
            seen.add(p.paper)
            out.append(Heading(p.start, p.paper, 0))
        parts = [x for x in p.section.split(SECTION_SEP) if x]
        for d in range(len(parts)):
            key = (p.paper, *parts[:d + 1])
            if key not in seen:
                seen.add(key)
                out.append(Heading(p.start, parts[d], d + bool(p.paper)))
    return out


def doc_segments(text: str, headings: list[Heading], start: int, end: int,
                 mark: tuple[int, int] | None = None) -> list[dict]:
    """The document text cut where contents anchors, headings, the cited span and its
    answering sentence (`mark`) begin and end: each piece with the anchor numbers placed
    before it, whether it lies in the cited span, in the sentence, and the level of the
    heading it is part of (a heading whose label opens its first passage, as most do)."""
    cut = {0, len(text)} | ({start, end} if start < end else set()) | set(mark or ())
    placed: dict[int, list[int]] = {}
    titled: list[tuple[int, int, int]] = []
    level = 1  # the page's h1 is the document's title
    for n, h in enumerate(headings, 1):
        placed.setdefault(h.start, []).append(n)
        cut.add(h.start)
        if h.label and text.startswith(h.label, h.start):
            # One level at most below the heading before, as a screen reader expects: a
            # section whose paper's heading is not in the text steps up to fill its place.
            level = min(h.depth + 2, level + 1, 6)
            titled.append((h.start, h.start + len(h.label), level))
            cut.add(h.start + len(h.label))
    bounds = sorted(cut)
    return [{"anchors": placed.get(a, []), "text": text[a:b], "marked": start <= a < end,
             "strong": bool(mark) and mark[0] <= a < mark[1],
             "heading": next((lvl for hs, he, lvl in titled if hs <= a < he), None)}
            for a, b in zip(bounds, bounds[1:]) if b > a]


def _sentence_span(start: int, end: int) -> tuple[int, int] | None:
    """The answering sentence inside the cited span, from ?hl=START-END; none if absent,
    malformed or outside the span."""
    try:
        a, b = (int(x) for x in request.args.get("hl", "").split("-"))
    except ValueError:
        return None
    return (a, b) if start <= a < b <= end else None


def _hit_view(hit, searcher: Searcher, back: str) -> dict:
    """What the results page shows of one hit: its text cut at the highlight, the quoted
    sentence, a link into the document at it (carrying the way back) and its citation."""
    found = sentence_of(hit)
    where = {"doc_id": hit.doc_id, "start": hit.start, "end": hit.end}
    if found:
        where["hl"] = f"{hit.start + found[0]}-{hit.start + found[1]}"
    source_url = searcher.index.doc_by_id[hit.doc_id].source_url
    link = public_link(url_for("document_page", **where) + "#passage",
                       searcher.settings.public_url)
    quote = found[2] if found else ""
    return {"hit": hit, "parts": _split_highlight(hit.text, hit.highlights), "quote": quote,
            "href": url_for("document_page", **where, back=back) + "#passage",
            "cite": citation(hit, quote, link, source_url), "source_url": source_url}


def _span(length: int) -> tuple[int, int]:
    """The highlighted span of the document view, from ?start=&end=; none if absent or bad."""
    try:
        start, end = int(request.args.get("start", 0)), int(request.args.get("end", 0))
    except ValueError:
        return 0, 0
    return (start, end) if 0 <= start < end <= length else (0, 0)


def _split_highlight(text: str, spans: list) -> list[tuple[str, bool]]:
    """The text as (piece, highlighted) pairs, for a template to wrap in <mark>."""
    out, pos = [], 0
    for a, b in sorted(spans):
        if a < pos:
            continue
        out += [(text[pos:a], False), (text[a:b], True)]
        pos = b
    out.append((text[pos:], False))
    return [(t, m) for t, m in out if t]
