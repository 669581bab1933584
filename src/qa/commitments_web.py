"""The commitments register on the web: a page, its CSV download and a JSON API."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from flask import Blueprint, Flask, Response, jsonify, render_template, request, url_for

from .commitments import FilterError, extract, select, to_csv
from .store import Index

FILTERS = ("q", "area", "doc", "due_before", "due_after")


@lru_cache(maxsize=2)  # the index served and, during a switch, the one before it
def _extracted(index: Index) -> list:
    return extract(index)


def register(app: Flask, current_index: Callable[[], Index]) -> None:
    """Add the register's routes; the commitments are extracted once per index served."""
    bp = Blueprint("commitments", __name__)

    def filtered():
        index = current_index()
        args = {k: (request.args.get(k) or "").strip() or None for k in FILTERS}
        return args, select(_extracted(index), index, **args)

    @bp.get("/commitments")
    def page():
        try:
            args, found = filtered()
        except FilterError as e:
            return render_template("commitments.html", args=request.args, items=[],
                                   total=len(_extracted(current_index())),
                                   error=str(e), csv_href=None), 400
        rows = [{"c": c, "href": url_for("document_page", doc_id=c.doc_id, start=c.start,
                                         end=c.end) + "#passage"} for c in found]
        csv_href = url_for("commitments.csv_download", **{k: v for k, v in args.items() if v})
        return render_template("commitments.html", args=request.args, items=rows,
                               total=len(_extracted(current_index())), error=None,
                               csv_href=csv_href)

    @bp.get("/commitments.csv")
    def csv_download():
        try:
            _, found = filtered()
        except FilterError as e:
            return Response(f"{e}\n", status=400, mimetype="text/plain")
        return Response(to_csv(found), mimetype="text/csv", headers={
            "Content-Disposition": "attachment; filename=commitments.csv"})

    @bp.get("/api/commitments")
    def api():
        try:
            _, found = filtered()
        except FilterError as e:
            return jsonify({"error": {"code": "bad_request", "message": str(e)}}), 400
        return jsonify({"commitments": [c.to_dict() for c in found]})

    app.register_blueprint(bp)
