"""Shared fixtures: one real index, built once per test session from the real corpus."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Settings  # noqa: E402
from qa.index import Index, build  # noqa: E402
from qa.search import Searcher  # noqa: E402
from qa.web import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Settings over the real corpus, with an index folder of the session's own."""
    index_dir = tmp_path_factory.mktemp("index")
    return replace(Settings.from_env(env={}), corpus_dir=CORPUS, index_dir=index_dir)


@pytest.fixture(scope="session")
def index(settings) -> Index:
    built, _ = build(settings)
    built.save(settings.index_dir)
    return Index.load(settings.index_dir)


@pytest.fixture(scope="session")
def searcher(index, settings) -> Searcher:
    return Searcher(index, settings)


def qa_cli(*args, env_extra=None, timeout=120):
    """Run the `qa` command as a user would, in a process of its own."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="session")
def cli_env(settings, index):
    return {"QA_INDEX": str(settings.index_dir), "QA_CORPUS": str(settings.corpus_dir)}


@pytest.fixture(scope="session")
def app(searcher):
    return create_app(searcher)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def validate(spec: dict, path: str, status: int, body) -> None:
    """Check a response body against the schema the OpenAPI document gives for it."""
    schema = spec["paths"][path]["get"]["responses"][str(status)]["content"][
        "application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": spec["components"]},
                        cls=jsonschema.Draft202012Validator)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def live_server(searcher, settings):
    """The real app under its real server (qa.server: waitress with planqa's limits) on a
    free localhost port."""
    import threading

    from qa.server import make_server

    server = make_server(searcher, settings, "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.port}"
    server.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (Playwright's own browser download cannot work here)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (./test.sh does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()
