"""HTML: the page's main content only (no navigation, cookie banners, scripts, footers), its
h1-h6 headings, lists and tables, entities decoded, through selectolax (the Lexbor parser)."""
from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from .record import Parsed, TextBuilder, inline
from .text import decode

_DROP = ("script, style, noscript, template, iframe, svg, canvas, form, button, select, "
         "dialog, aside, nav, [role=navigation], [role=banner], [role=contentinfo], "
         "[role=search], [role=dialog], [role=alertdialog], [aria-hidden=true], [hidden]")
# Page furniture marked only by a word of its class or id ("cookie-banner", "site_menu").
_FURNITURE = frozenset("cookie cookies consent gdpr banner breadcrumb breadcrumbs skiplink "
                       "share sharing social newsletter promo advert advertisement popup modal "
                       "masthead menu navbar navigation sitemap sidebar related footer "
                       "pagination toolbar feedback".split())
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "blockquote", "pre",
           "ul", "ol", "li", "dl", "dt", "dd", "table", "figure", "figcaption", "address",
           "h1", "h2", "h3", "h4", "h5", "h6", "hr", "br", "body", "center", "details", "summary"}


def _is_furniture(node) -> bool:
    attrs = node.attributes
    marks = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    return not _FURNITURE.isdisjoint(re.split(r"[\s_-]+", marks))


def _main(tree):
    for node in tree.css(_DROP):
        node.decompose()
    for node in tree.css("[class], [id]"):
        if node.tag not in ("html", "body", "main", "article") and _is_furniture(node):
            node.decompose()
    main = tree.css_first("main, [role=main]")
    if main is None:
        articles = tree.css("article")
        main = articles[0] if len(articles) == 1 else tree.body
    if main is not None and main is not tree.body:
        return main
    # The whole body: page headers and footers outside any article are the site's, not text.
    for node in (tree.body.css("body > header, body > footer") if tree.body else ()):
        node.decompose()
    return tree.body


class _Walker:
    def __init__(self, out: TextBuilder):
        self.out = out
        self.buf: list[str] = []

    def flush(self, item: bool = False) -> None:
        s = inline("".join(self.buf))
        self.buf = []
        if s:
            self.out.item(s) if item else self.out.para(s)

    def walk(self, node) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.buf.append(child.text(deep=False))
            elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.flush()
                self.out.heading(child.text(deep=True, separator=" "), int(tag[1]))
            elif tag == "table":
                self.flush()
                self.table(child)
            elif tag == "li":
                self.flush()
                self.walk(child)
                self.flush(item=True)
            elif tag in ("br", "hr"):
                self.flush()
            elif tag in _BLOCKS:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def table(self, node) -> None:
        rows = []
        for tr in node.css("tr"):
            rows.append([cell.text(deep=True, separator=" ") for cell in tr.css("th, td")])
        self.out.table(rows)


def _props(tree, main) -> dict:
    props = {}
    h1 = main.css_first("h1") if main is not None else None
    title = tree.css_first("title")
    if h1 is not None and inline(h1.text()):
        props["title"] = inline(h1.text())
    elif title is not None and inline(title.text()):
        # "Plan on a page | Coventry City Council": the site's name is no part of the title.
        props["title"] = re.split(r"\s+[|–—]\s+", inline(title.text()))[0]
    for sel, key in (('meta[name="author"]', "author"), ('meta[property="og:site_name"]', "author"),
                     ('meta[property="article:published_time"]', "date"),
                     ('meta[name="date"]', "date"), ('meta[name="dcterms.date"]', "date"),
                     ('meta[property="og:url"]', "url"), ('link[rel="canonical"]', "url")):
        node = tree.css_first(sel)
        value = node and inline(node.attributes.get("content") or node.attributes.get("href") or "")
        if value and key not in props:
            props[key] = value
    if "date" in props:
        m = re.match(r"\d{4}-\d\d(?:-\d\d)?", props["date"])
        props["date"] = m.group(0) if m else ""
    if not re.match(r"^https?://", props.get("url", "")):
        props.pop("url", None)
    return props


def load(data: bytes) -> Parsed:
    tree = LexborHTMLParser(decode(data))
    main = _main(tree)
    out = TextBuilder()
    if main is not None:
        _Walker(out).walk(main)
    return out.result(_props(tree, main))
