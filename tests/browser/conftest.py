"""A real suolink server on a loopback port and Debian's Chromium driven by Playwright.

Playwright's own browser download is not available here: the suite uses
``/usr/bin/chromium`` (``make system-deps`` installs it when root) and skips, saying
why, when it or the ``playwright`` package is missing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("SUOLINK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (run `make system-deps` as root, or set SUOLINK_CHROMIUM)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package (dev extra) is not installed"
)

from werkzeug.serving import make_server  # noqa: E402

from suolink.adapters.flask import create_app, get_shortener  # noqa: E402
from tests.http_scenarios import TOKEN  # noqa: E402

LANDING = "LOCAL TARGET PAGE"


@dataclass
class Server:
    url: str
    app: Any

    def create(self, **payload: Any) -> Any:
        """A link made over the API (bearer token), as JSON; or the error reply."""
        reply = self.app.test_client().post(
            "/api/links",
            json=payload,
            headers={"Authorization": f"Bearer {TOKEN}"},
            base_url=self.url,
        )
        return reply.status_code, reply.get_json()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """suolink on SQLite, with a local landing page, served by werkzeug in a thread."""
    db = tmp_path_factory.mktemp("browser") / "links.db"
    app = create_app(f"sqlite:///{db}", api_token=TOKEN, secret="browser-tests")

    @app.route("/landing")
    def landing() -> str:
        return f"<!doctype html><title>landing</title><h1>{LANDING}</h1>"

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}", app)
    finally:
        httpd.shutdown()
        thread.join(5)
        get_shortener(app).close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module at a time.

    Playwright's sync API keeps an asyncio loop running in this thread while it is open;
    Django refuses database work under a running loop, so the browser must be gone before
    the same pytest worker moves on to other modules (the Django tests among them).
    """
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
