"""What a reader sees without scrolling: the answer box on a phone and a desktop, in Chromium.

    python eval/page_fold.py [N]   # the example questions and the first N dev questions (30)

Serves the app on the index in QA_INDEX (or index/) under waitress, opens each question's
results page at 390×844 and 1366×900 and counts the pages where the answer's quote, its
source line and its actions (View in document, Copy citation) lie wholly on the first
screen, and where the first ranked passage's title begins (its y).
"""
from __future__ import annotations

import json
import socket
import statistics
import sys
import threading
from pathlib import Path
from urllib.parse import quote_plus

from playwright.sync_api import sync_playwright

from qa.config import Settings
from qa.search import Searcher
from qa.server import make_server
from qa.web import EXAMPLES

SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
PARTS = {"quote": "section.answer blockquote", "source": "section.answer .answer-source",
         "view": "section.answer .actions a", "copy": "section.answer button.copy"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]


def on_screen(page, selector: str, height: int) -> bool:
    box = page.locator(selector).first.bounding_box() if page.locator(selector).count() else None
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= height


def main(n: int = 30) -> None:
    dev = [json.loads(line)["question"] for line in Path("eval/dev.jsonl").open()][:n]
    questions = list(EXAMPLES) + dev
    settings = Settings.from_env()
    server = make_server(Searcher.open(settings), settings, host="127.0.0.1", port=0)
    base = f"http://127.0.0.1:{server.port}"
    threading.Thread(target=server.run, daemon=True).start()
    socket.create_connection(("127.0.0.1", server.port), timeout=10).close()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for size, (w, h) in SIZES.items():
            context = browser.new_context(viewport={"width": w, "height": h},
                                          is_mobile=size == "phone")
            page = context.new_page()
            counts = dict.fromkeys(PARTS, 0)
            boxes = first_title = 0
            title_y = []
            for q in questions:
                page.goto(f"{base}/search?q={quote_plus(q)}")
                if page.locator("section.answer blockquote").count():
                    boxes += 1
                    for part, selector in PARTS.items():
                        counts[part] += on_screen(page, selector, h)
                title = page.locator("li.result h3").first
                if title.count():
                    title_y.append(title.bounding_box()["y"])
                    first_title += title_y[-1] < h
            context.close()
            shown = ", ".join(f"{part} {c}/{boxes}" for part, c in counts.items())
            print(f"{size} {w}×{h}: {len(questions)} questions, {boxes} with an answer box; "
                  f"wholly on the first screen: {shown}; first ranked passage's title at "
                  f"y={statistics.median(title_y):.0f} (median), on the first screen in "
                  f"{first_title}/{len(title_y)}")
        browser.close()
    server.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
