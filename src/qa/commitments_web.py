"""The commitments register on the web: a page, its CSV download and a JSON API."""
from __future__ import annotations

from datetime import date
from typing import Callable

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request, url_for

from .cite import citation, pages, public_link, uk_date
from .commitments import (PAGE_SIZE, SORTS, FilterError, count, due_words, extract, file_name,
                          order, page_of, select, to_csv)
from .memo import per_object
from .store import Index
from .search import Searcher

FILTERS = ("q", "area", "doc", "due_before", "due_after")
# What the page's links carry besides the filters.
VIEW = ("sort", "page")


@per_object
def _extracted(index: Index) -> list:
    return extract(index)


def register(app: Flask, current: Callable[[], Searcher]) -> None:
    """Add the register's routes; the commitments are extracted once per index served."""
    bp = Blueprint("commitments", __name__)

    def args() -> dict:
        return {k: (request.args.get(k) or "").strip() or None for k in FILTERS}

    def found() -> list:
        """The items the request's filters and order select; FilterError if they are bad."""
        searcher = current()
        given = args()
        q = given["q"] or ""
        # The searcher's own vocabulary: the register reads q as the search box does.
        expansions = searcher.synonyms.expand(q) if q else []
        items = select(_extracted(searcher.index), searcher.index, expansions=expansions,
                       **given)
        return order(items, request.args.get("sort"))

    def link(c) -> str:
        return public_link(url_for("document_page", doc_id=c.doc_id, start=c.start, end=c.end)
                           + "#passage", current().settings.public_url)

    def cite(c) -> str:
        doc = current().index.doc_by_id[c.doc_id]
        quote = f"{c.topic}: {c.text}" if c.topic else c.text
        return citation(c, quote, link(c), getattr(doc, "source_url", ""))

    def here(**change) -> str:
        """This register page with some of its arguments changed (None drops one)."""
        kept = {k: v for k in (*FILTERS, *VIEW) if (v := request.args.get(k))}
        kept.update(change)
        return url_for("commitments.page", **{k: v for k, v in kept.items() if v})

    @bp.get("/commitments")
    def page():
        total = len(_extracted(current().index))
        try:
            shown = page_of(found(), request.args.get("page"))
        except FilterError as e:
            return render_template("commitments.html", args=request.args, rows=[], shown=None,
                                   total=total, error=str(e), csv_href=None,
                                   sort_options=SORTS.items()), 400
        back = here()
        rows = [{"c": c, "due": due_words(c.due), "cite": cite(c), "date": uk_date(c.date),
                 "pages": pages(c),
                 "href": url_for("document_page", doc_id=c.doc_id, start=c.start, end=c.end,
                                 back=back) + "#passage"} for c in shown.items]
        def page_href(n: int) -> str | None:
            return here(page=str(n) if n > 1 else None) if 1 <= n <= shown.pages else None

        links = [{"number": n, "href": page_href(n), "current": n == shown.number}
                 for n in range(1, shown.pages + 1)]
        return render_template(
            "commitments.html", args=request.args, rows=rows, shown=shown, total=total,
            error=None, count=count(shown.total), pages=links,
            first_number=(shown.number - 1) * PAGE_SIZE + 1,
            prev_href=page_href(shown.number - 1), next_href=page_href(shown.number + 1),
            csv_href=url_for("commitments.csv_download",
                             **{k: v for k in (*FILTERS, "sort") if (v := request.args.get(k))}),
            sort_options=SORTS.items())

    @bp.get("/commitments.csv")
    def csv_download():
        try:
            items = found()
        except FilterError as e:
            return Response(f"{e}\n", status=400, mimetype="text/plain")
        named = args()
        if named["doc"]:
            named["doc"] = current().index.doc_by_id[named["doc"]].title
        name = file_name(named, date.today().isoformat())
        return Response(to_csv(items, link), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @bp.get("/api/commitments")
    def api():
        try:
            items = found()
        except FilterError as e:
            abort(400, description=str(e))  # the app's one error face (web.error_face)
        return jsonify({"commitments": [{**c.to_dict(), "link": link(c), "citation": cite(c)}
                                        for c in items]})

    app.register_blueprint(bp)

