"""The OpenAPI 3.1 description of the JSON API; tests validate real responses against it."""
from __future__ import annotations

from . import __version__
from .config import MAX_K, MAX_QUERY_CHARS, MODES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(key: str, item: str) -> dict:
    """An object holding one array, `key`, of schema `item`."""
    return {"type": "object", "required": [key],
            "properties": {key: {"type": "array", "items": _ref(item)}}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


# A deadline filter: a year or year-month; empty is what a form sends for "no limit".
DUE = {"type": "string", "pattern": "^([0-9]{4}(-(0[1-9]|1[0-2]))?)?$"}

# Every operation may meet these from the server in front of the app: a Host it does not
# answer to or a request it cannot read (400), a request line too long (431), too many
# connections from one address (503).
SERVER_ERRORS = {
    "400": _json(_ref("Error"), "The request is malformed, or its Host is not one this "
                                "server answers to"),
    "431": _json(_ref("Error"), "The request line or headers are too long"),
    "503": _json(_ref("Error"), "Too many connections from this address, or too many long "
                                "searches at once; try again after Retry-After seconds")}
ERRORS = {**SERVER_ERRORS, "404": _json(_ref("Error"), "No such resource")}
# A question must hold a letter or a digit (qa.search.validate): a word character that is no
# underscore.
QUESTION = {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS,
            "pattern": "[^\\W_]"}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "Hit": {
        "type": "object",
        "required": ["rank", "score", "passage_id", "doc_id", "title", "body", "date", "area",
                     "paper", "section", "start", "end", "text", "highlights"],
        "properties": {
            "rank": {"type": "integer", "minimum": 1},
            "score": {"type": "number"},
            "passage_id": {"type": "string"},
            "doc_id": {"type": "string"},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "date": {"type": "string", "description": "ISO date, year-month or year"},
            "area": {"type": "string"},
            "paper": {"type": "string",
                      "description": "the paper inside a bundle (minutes, briefing note, "
                                     "appendix); empty for the document itself"},
            "section": {"type": "string", "description": "headings, joined by ' › '"},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
            "text": {"type": "string", "description": "document text[start:end], exactly"},
            "highlights": {"type": "array", "description": "[start, end] offsets within text",
                           "items": {"type": "array", "items": {"type": "integer"},
                                     "minItems": 2, "maxItems": 2}},
            "page": {"type": ["integer", "null"], "minimum": 1,
                     "description": "page where the passage begins; null for formats "
                                    "without pages"},
            "page_end": {"type": ["integer", "null"], "minimum": 2,
                         "description": "page where it ends, when a later one; else null"}}},
    "SearchResult": {
        "type": "object", "required": ["query", "mode", "k", "took_ms", "no_answer", "results",
                     "expansions", "missing_terms"],
        "properties": {
            "query": {"type": "string"},
            "mode": {"enum": list(MODES)},
            "k": {"type": "integer"},
            "took_ms": {"type": "number"},
            "no_answer": {"type": "boolean",
                          "description": "true when nothing in the corpus answers well"},
            "results": {"type": "array", "items": _ref("Hit")},
            "answer": {"oneOf": [{"type": "null"}, _ref("Answer")]},
            "definition": {
                "description": "when the question asks what an acronym stands for: the long "
                               "form the plans give it (the passage spelling it out ranks "
                               "first in hybrid mode); null otherwise",
                "oneOf": [{"type": "null"}, {
                    "type": "object", "required": ["acronym", "expansion"],
                    "properties": {"acronym": {"type": "string"},
                                   "expansion": {"type": "string"}}}]},
            "expansions": {
                "type": "array",
                "description": "what the health-and-care vocabulary added to the question: "
                               "each phrase of it and the wordings also searched for",
                "items": {"type": "object", "required": ["from", "to"],
                          "properties": {"from": {"type": "string"},
                                         "to": {"type": "array", "items": {"type": "string"}}}}},
            "missing_terms": {
                "type": "array", "items": {"type": "string"},
                "description": "the question's words (lower-cased) that no document holds in "
                               "any form, its vocabulary's rewordings included"}}},
    "Answer": {
        "description": "the answer box: the sentence that best answers, quoted from the hit "
                       "of rank `rank` (its citation fields are that hit's); null when "
                       "no_answer is true",
        "type": "object", "required": ["rank", "start", "end", "quote", "also_in"],
        "properties": {
            "rank": {"type": "integer", "minimum": 1},
            "start": {"type": "integer", "minimum": 0,
                      "description": "the sentence's offsets within that hit's text"},
            "end": {"type": "integer", "minimum": 0},
            "quote": {"type": "string", "description": "the sentence, its line breaks as spaces"},
            "also_in": {"type": "array", "items": {"type": "integer", "minimum": 1},
                        "description": "ranks of the best hit of each other document whose "
                                       "best sentence holds every question word the "
                                       "answer's sentence holds"}}},
    "DocumentMeta": {
        "type": "object",
        "required": ["doc_id", "path", "title", "body", "date", "area", "type", "chars"],
        "properties": {k: {"type": "string"} for k in
                       ("doc_id", "path", "title", "body", "date", "area", "type", "source_url")}
        | {"chars": {"type": "integer"},
           "pages": {"type": "array", "items": {"type": "integer", "minimum": 0},
                     "description": "offset in text where each page begins; empty for "
                                    "formats without pages"},
           "origins": {"type": "object", "description": "where each field came from",
                       "additionalProperties": {
                           "enum": ["catalog", "properties", "file name", "text"]}}}},
    "Document": {"allOf": [_ref("DocumentMeta"), {
        "type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}]},
    "Commitment": {
        "type": "object",
        "required": ["text", "due", "figures", "owner", "doc_id", "title", "area", "paper",
                     "section", "start", "end", "kind", "topic", "body", "date", "page",
                     "page_end", "link", "citation"],
        "properties": {
            "text": {"type": "string", "description": "document text[start:end], exactly"},
            "due": {"type": ["string", "null"], "pattern": "^[0-9]{4}(-[0-9]{2})?$",
                    "description": "deadline as YYYY or YYYY-MM; a financial year 2023/24 "
                                   "is due 2024-03; null if none is stated"},
            "figures": {"type": "array", "items": {"type": "string"},
                        "description": "money, percentages, multiples: £13.8m, 85%, ten-fold"},
            "owner": {"type": ["string", "null"]},
            "doc_id": {"type": "string"}, "title": {"type": "string"},
            "area": {"type": "string"}, "paper": {"type": "string"},
            "section": {"type": "string"},
            "start": {"type": "integer"}, "end": {"type": "integer"},
            "kind": {"enum": ["sentence", "bullet", "table"]},
            "topic": {"type": "string", "description": "a table item's row label"},
            "body": {"type": "string", "description": "the publishing body"},
            "date": {"type": "string", "description": "the document's date, ISO"},
            "page": {"type": ["integer", "null"], "description": "1-based, where the document "
                                                                "has pages"},
            "page_end": {"type": ["integer", "null"]},
            "link": {"type": "string", "description": "the document view at the item"},
            "citation": {"type": "string", "description": "quoted words, document, body, "
                                                          "date, section, page and link"}}},
    "Health": {
        "type": "object",
        "required": ["status", "documents", "passages", "model", "built_at", "stale_files"],
        "properties": {"status": {"const": "ok"}, "documents": {"type": "integer"},
                       "passages": {"type": "integer"}, "model": {"type": "string"},
                       "encoder": {"type": "string"}, "dimensions": {"type": "integer"},
                       "built_at": {"type": "string"},
                       "stale_files": {"type": "array", "items": {"type": "string"}},
                       "index": {"type": "string", "description": "the build folder served"},
                       "switched_at": {"type": ["string", "null"], "description":
                                       "when the server last switched to a new build"}}},
}

def paths(doc: dict, area: dict) -> dict:
    """The operations; doc and area are the filters' schemas (the served index's names)."""
    return {
        "/api/search": {"get": {
            "summary": "Passages that answer a question, ranked and cited",
            "parameters": [
                _query("q", "the question, holding a letter or a digit; control characters "
                            "part words, format characters are dropped", QUESTION, True),
                _query("k", "how many passages", {"type": "integer", "minimum": 1,
                                                  "maximum": MAX_K, "default": 10}),
                _query("mode", "retriever", {"enum": list(MODES), "default": "hybrid"}),
                _query("doc", "only this document: a doc_id from /api/documents (400 if "
                              "unknown)", doc),
                _query("area", "only documents of this area, as /api/documents names it, in "
                               "any case (400 if unknown)", area)],
            "responses": {"200": _json(_ref("SearchResult"), "The ranked passages"), **ERRORS}}},
        "/api/documents": {"get": {
            "summary": "Every document with its metadata",
            "responses": {"200": _json(_list_of("documents", "DocumentMeta"), "The documents"),
                          **SERVER_ERRORS}}},
        "/api/documents/{doc_id}": {"get": {
            "summary": "One document with its full stored text",
            "parameters": [{"name": "doc_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("Document"), "The document"), **ERRORS}}},
        "/healthz": {"get": {
            "summary": "What the loaded index holds",
            "responses": {"200": _json(_ref("Health"), "The index is loaded"),
                          **SERVER_ERRORS}}},
        "/api/commitments": {"get": {
            "summary": "Commitments, targets and deadlines the plans state",
            "parameters": [
                _query("q", "only commitments with all these words (a phrase of the synonyms "
                       "vocabulary also matches its terms)",
                       {"type": "string", "maxLength": MAX_QUERY_CHARS}),
                _query("area", "only documents of this area (400 if unknown)", area),
                _query("doc", "only this document id (400 if unknown)", doc),
                _query("due_before", "deadline ends before this year or month begins",
                       DUE),
                _query("due_after", "deadline begins after this year or month ends",
                       DUE),
                _query("sort", "order: document (default), due (soonest first, undated "
                       "last) or area", {"enum": ["document", "due", "area"]})],
            "responses": {"200": _json(_list_of("commitments", "Commitment"), "The commitments"),
                          **SERVER_ERRORS}}},
        "/api/openapi.json": {"get": {
            "summary": "This description",
            "responses": {"200": {"description": "OpenAPI 3.1 document"}, **SERVER_ERRORS}}},
    }


def spec(doc_ids: list[str] | None = None, areas: list[str] | None = None) -> dict:
    """The API description; given the served index's document ids and areas, the filters
    list them, so that a client (or a fuzzer) knows which values are accepted."""
    def names(values):
        # Empty is what a form sends for "any": no filter.
        return {"type": "string", "enum": ["", *values]} if values else {"type": "string"}

    return {
        "openapi": "3.1.0",
        "info": {"title": "planqa", "version": __version__,
                 "description": "Cited passages and commitments from health-and-care plans."},
        "paths": paths(names(doc_ids), names(areas)),
        "components": {"schemas": SCHEMAS},
    }
