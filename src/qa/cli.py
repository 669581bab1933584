"""The `qa` command: a thin shell over the library."""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

from .cite import pages
from .config import FUSIONS, MAX_K, MODES, Settings, SettingsError, describe, whole



class CliError(Exception):
    pass


def _k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_K}, "
                                         f"not {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_K}, not {k}")
    return k


def _port(value: str) -> int:
    try:
        return whole(1, 65535)(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- index lifecycle ------------------------------------------------------------------------

def build_index(settings: Settings, full: bool = False, wait: bool = True, encoder=None):
    """Update the index from the corpus and say what changed, in one line on stdout."""
    from .store import build

    report = build(settings, full=full, wait=wait, progress=_say, encoder=encoder)
    print(report.summary())
    return report


def open_searcher(settings: Settings, rebuild_if_needed: bool = False, encoder=None):
    """The searcher over the current index; with rebuild_if_needed, build a missing or stale
    one (with the searcher's encoder, when given: the model is loaded once)."""
    from .search import Searcher
    from .store import Index, IndexMissing, IndexOutdated, IndexUnwritable

    try:
        index = Index.load(settings.index_dir)
    except IndexMissing as e:
        if not rebuild_if_needed:
            raise
        why = "written by an older planqa" if isinstance(e, IndexOutdated) else "missing"
        _say(f"the index at {settings.index_dir} is {why}: building it")
        build_index(settings, encoder=encoder)
        index = Index.load(settings.index_dir)
    if not rebuild_if_needed:  # another model: that one line, before any warning
        index.check_model(settings.model)
    stale = index.stale_files(settings.corpus_dir)
    mismatch = index.mismatch(settings)
    if (stale or mismatch) and rebuild_if_needed:
        _say(f"the corpus changed since the index was built ({', '.join(stale[:5])}): updating"
             if stale else f"{mismatch}: rebuilding it")
        try:
            build_index(settings, encoder=encoder)
        except IndexUnwritable as e:
            if mismatch:  # its vectors are not the questions': nothing to answer from
                raise
            # A read-only index (a mount shared by several servers) still answers, stale.
            _say(f"warning: {e}; answering from the index as it is")
            return Searcher(index, settings, encoder)
        index = Index.load(settings.index_dir)
        return Searcher(index, settings, encoder)
    if stale:
        _say(f"warning: the index is stale, the corpus changed since it was built "
             f"({', '.join(stale[:5])}{' …' if len(stale) > 5 else ''}); run 'qa build'")
    if mismatch:
        _say(f"warning: {mismatch}; run 'qa build'")
    return Searcher(index, settings, encoder)


# --- commands -------------------------------------------------------------------------------

def cmd_build(args, settings: Settings) -> int:
    build_index(settings, full=args.full, wait=not args.no_wait)
    return 0


def cmd_add(args, settings: Settings) -> int:
    from .store import add

    report = add(settings, [Path(p) for p in args.paths], wait=not args.no_wait, progress=_say)
    print(report.summary())
    return 0


def cmd_remove(args, settings: Settings) -> int:
    from .store import remove

    report = remove(settings, args.documents, wait=not args.no_wait, progress=_say)
    print(report.summary() + f"; the files are in {settings.index_dir / 'removed'}")
    return 0


def _mark(text: str, spans: list, color: bool) -> str:
    if not spans:
        return text
    a, b = spans[0]
    on, off = ("\033[1;33m", "\033[0m") if color else ("»", "«")
    return text[:a] + on + text[a:b] + off + text[b:]


def cmd_search(args, settings: Settings) -> int:
    searcher = open_searcher(settings)
    res = searcher.search(args.query, k=args.k, mode=args.mode, doc=args.doc, area=args.area,
                          fusion=args.fusion)
    if args.json:
        print(json.dumps(res.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(format_results(res, color=sys.stdout.isatty()))
    return 0


def page_label(item) -> str:
    """"p. 12, " or "pp. 12–13, " for a hit or commitment from a paged document, else ""."""
    return f"{label}, " if (label := pages(item)) else ""


def format_results(res, color: bool = False) -> str:
    from .chunk import section_path

    out = []
    if res.missing_terms:
        out.append(f"No document mentions: {', '.join(res.missing_terms)}")
    if res.expansions:
        out.append("Also searched for: "
                   + "; ".join(", ".join(e["to"]) for e in res.expansions))
    if res.missing_terms or res.expansions:
        out.append("")
    if res.no_answer:
        out.append("No passage answers this well; the closest are below.\n")
    elif res.definition:
        out.append(f"{res.definition.acronym} stands for {res.definition.expansion}, "
                   "as the plans spell it out.\n")
    for h in res.results:
        where = " — ".join(x for x in (h.title, h.body, h.date) if x)
        out.append(f"{h.rank}. {where}  [score {h.score:.3f}]")
        cite = section_path(h)
        if cite:
            out.append(f"   § {cite}")
        out.append(f"   ({h.doc_id}, {page_label(h)}characters {h.start}–{h.end})")
        body = _mark(h.text, h.highlights, color)
        for para in body.split("\n"):
            out.append(textwrap.fill(para, 100, initial_indent="   ", subsequent_indent="   ")
                       if para.strip() else "")
        out.append("")
    n = len(res.results)
    out.append(f"{n} passage{'s' if n != 1 else ''}, {res.mode}, {res.took_ms:.1f} ms")
    return "\n".join(out)


def cmd_eval(args, settings: Settings) -> int:
    from .evaluate import evaluate, format_report, load_questions

    questions = load_questions(Path(args.file))
    searcher = open_searcher(settings)
    modes = args.modes.split(",")
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise CliError(f"unknown mode(s) {', '.join(bad)}: use {', '.join(MODES)}")
    searcher.search("warm up", k=1)  # model load is not a per-query cost
    reports = [evaluate(searcher, questions, m, fusion=args.fusion) for m in modes]
    if args.json:
        config = {"model": settings.model, "encoder": searcher.index.manifest.get("encoder"),
                  "fusion": args.fusion or settings.fusion, "dense_weight": settings.dense_weight,
                  "sentence_weight": settings.sentence_weight,
                  "chunker": searcher.index.manifest.get("chunker"),
                  "questions": str(args.file)}
        print(json.dumps({"config": config, "reports": reports}, indent=1))
    else:
        print(format_report(reports))
    return 0


def cmd_serve(args, settings: Settings) -> int:
    from .embed import serving_encoder
    from .processes import worker_count
    from .server import ServeError, serve
    from .store import Live

    # Requests run side by side: one onnx thread each while others run, two for a question
    # served alone (embed.ByLoad; eval/README.md, "Serving"). Forked workers (QA_WORKERS) run
    # one: onnxruntime's thread pools do not survive a fork.
    # Resolved once (QA_WORKERS=0: by the cores): the encoder's threads and serve() read it.
    settings = replace(settings, workers=worker_count(settings.workers))
    threads = settings.encoder_threads or (1 if settings.workers > 1 else 0)
    encoder = serving_encoder(settings, threads)
    searcher = open_searcher(settings, rebuild_if_needed=not args.no_build, encoder=encoder)
    live = Live(settings, searcher)  # follows CURRENT: new builds are served by themselves
    host, port = args.host or settings.host, args.port or settings.port
    try:
        serve(live, host, port, settings)
    except ServeError as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_settings(args, settings: Settings) -> int:
    for row in describe(settings):
        value = row["value"]
        value = ",".join(value) if isinstance(value, tuple) else ("" if value is None else value)
        default = "" if row["default"] is None else f" (default: {row['default']})"
        print(f"{row['env']}={value}\n    {row['help']}{default}")
    return 0


def cmd_commitments(args, settings: Settings) -> int:
    from .chunk import SECTION_SEP, section_path
    from .cite import public_link, uk_date
    from .commitments import count, doc_path, extract, order, select, to_csv
    from .store import Index
    from .synonyms import Synonyms

    index = Index.load(settings.index_dir)
    expansions = Synonyms.load(settings.synonyms).expand(args.q) if args.q else []
    items = order(select(extract(index), index, q=args.q, area=args.area, doc=args.doc,
                         due_before=args.due_before, due_after=args.due_after,
                         expansions=expansions), args.sort)
    if not items:
        _say("no commitments match these filters")
    if args.csv:
        # Bytes, so the byte-order mark and the CSV's own line ends reach a redirected file as is.
        text = to_csv(items, lambda c: public_link(doc_path(c), settings.public_url))
        sys.stdout.buffer.write(text.encode("utf-8"))
    elif args.json:
        print(json.dumps({"commitments": [c.to_dict() for c in items]}, ensure_ascii=False,
                         indent=1))
    else:
        for c in items:
            extras = [f"due {c.due}" if c.due else "", ", ".join(c.figures), c.owner or ""]
            tail = "; ".join(x for x in extras if x)
            where = SECTION_SEP.join(x for x in (c.title, section_path(c)) if x)
            topic = f"{c.topic}: " if c.topic else ""
            print(f"- {topic}{c.text}" + (f"  [{tail}]" if tail else ""))
            made = ", ".join(x for x in (c.body, uk_date(c.date)) if x)  # either may be unknown
            print(f"    {where} ({made + '; ' if made else ''}{c.doc_id}, "
                  f"{page_label(c)}{c.start}–{c.end})")
        if items:
            print(count(len(items)))
    return 0


def cmd_synonyms(args, settings: Settings) -> int:
    from .search import validate
    from .synonyms import Synonyms

    query, _ = validate(args.query, 1, MODES[0])  # the same limits as a search's question
    expansions = Synonyms.load(settings.synonyms).expand(query)
    if args.json:
        print(json.dumps({"query": query, "expansions": [e.to_dict() for e in expansions]},
                         ensure_ascii=False, indent=1))
    else:
        print("\n".join(f"{e.source} -> {'; '.join(e.terms)}" for e in expansions)
              or "no expansions")
    return 0


def cmd_info(args, settings: Settings) -> int:
    from .store import disk
    from .store.index import stale_files

    index_dir = settings.index_dir
    build = index_dir / disk.current_name(index_dir)
    manifest = disk.read_manifest(build)
    if args.verify:
        checked = disk.verify(index_dir)
        _say(f"verified: {len(checked)} index files match their checksums")
    info = {k: v for k, v in manifest.items() if k not in ("files", "segments", "checksum")}
    info["index"] = str(build)
    info["documents_held"] = [{"doc_id": e["doc_id"], "file": e["path"],
                               "passages": e["passages"]} for e in manifest["segments"]]
    info["stale_files"] = stale_files(manifest, settings.corpus_dir)
    print(json.dumps(info, indent=1, ensure_ascii=False))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in the CLI's one line (it would print its usage first);
    subcommands' parsers are made of the same class."""

    def error(self, message):
        self.exit(2, f"qa: error: {message} (see '{self.prog} --help')\n")


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="qa", description="Cited answers from health-and-care plans.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    no_wait = _Parser(add_help=False)
    no_wait.add_argument("--no-wait", action="store_true",
                         help="fail rather than wait when another build holds the index")
    sp = sub.add_parser("build", parents=[no_wait],
                        help="update the index from corpus/ (only what changed)")
    sp.add_argument("--full", action="store_true", help="rebuild every document from scratch")
    sp.set_defaults(func=cmd_build)

    sp = sub.add_parser("add", parents=[no_wait], help="copy papers into corpus/ and index them")
    sp.add_argument("paths", nargs="+", metavar="PATH")
    sp.set_defaults(func=cmd_add)

    sp = sub.add_parser("remove", parents=[no_wait],
                        help="take papers out of corpus/ (to index/removed/) and the index")
    sp.add_argument("documents", nargs="+", metavar="DOC_ID|FILE",
                    help="a doc id, a file name in the corpus, or a path to the file")
    sp.set_defaults(func=cmd_remove)

    sp = sub.add_parser("search", help="answer a question with cited passages")
    sp.add_argument("query")
    sp.add_argument("-k", type=_k, default=10, help=f"how many passages (1-{MAX_K}, default 10)")
    sp.add_argument("--mode", choices=MODES, default="hybrid")
    sp.add_argument("--fusion", choices=FUSIONS, default=None,
                    help="how hybrid joins the two rankings (default: the configured one)")
    sp.add_argument("--doc", help="only this document id")
    sp.add_argument("--area", help="only documents of this area")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_search)

    sp = sub.add_parser("eval", help="score retrieval on a question file (JSON lines)")
    sp.add_argument("file")
    sp.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated modes")
    sp.add_argument("--fusion", choices=FUSIONS, default=None)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("serve", help="serve the web page and JSON API (builds the index if needed)")
    sp.add_argument("--host")
    sp.add_argument("--port", type=_port)
    sp.add_argument("--no-build", action="store_true", help="fail rather than build an index")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("commitments", help="list the commitments, targets and deadlines")
    sp.add_argument("--q", help="only commitments mentioning these words")
    sp.add_argument("--area", help="only documents of this area")
    sp.add_argument("--doc", help="only this document id")
    sp.add_argument("--due-before", metavar="YEAR[-MM]", help="deadline before this (2020, 2019-03)")
    sp.add_argument("--due-after", metavar="YEAR[-MM]", help="deadline after this")
    sp.add_argument("--sort", default="document", help="document (default), due or area")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV output")
    fmt.add_argument("--json", action="store_true", help="JSON output")
    sp.set_defaults(func=cmd_commitments)

    sp = sub.add_parser("settings", help="list every QA_* setting: its value, default and meaning")
    sp.set_defaults(func=cmd_settings)

    sp = sub.add_parser("synonyms", help="show what a question's words expand to")
    sp.add_argument("query")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_synonyms)

    sp = sub.add_parser("info", help="show what the index holds and whether it is stale")
    sp.add_argument("--verify", action="store_true",
                    help="check every index file against its recorded checksum")
    sp.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    from .commitments import FilterError
    from .embed import ModelError
    from .evaluate import EvalFileError
    from .ingest import CorpusError
    from .search import QueryError
    from .store import BadInput, IndexError_
    from .synonyms import SynonymsError

    args = make_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return 2
    try:
        return args.func(args, settings)
    except (QueryError, IndexError_, CorpusError, ModelError, EvalFileError, CliError,
            FilterError, SynonymsError, BadInput) as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, (QueryError, CliError, FilterError, SynonymsError,
                                   BadInput, EvalFileError)) else 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`qa commitments | head`): stop quietly as other filters
        # do; stdout goes to /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
