"""The app served on a loopback socket: routes and content types, security headers, the page's
own files name no outside host, the kill switch's refusals and its two steps, the Host guard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from dashboard_fixtures import MODELS, SYMBOL, new_session, serve
from starlette.applications import Starlette

from nexusforge.nexus.dashboard import JournalSource, LiveSource, create_app
from nexusforge.nexus.dashboard.assets import OWN_ASSETS, own_asset
from nexusforge.nexus.dashboard.serve import allowed_hosts
from nexusforge.nexus.ledger import Book
from nexusforge.nexus.model import ModelState, TradingModel, load_champion
from nexusforge.nexus.watchtower import KillSwitch

TOKEN = "a-long-enough-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def live(kill: KillSwitch) -> LiveSource:
    book = Book(SYMBOL, {n: Decimal(1000) for n in MODELS.values()})
    models = [
        TradingModel(s, n, SYMBOL, load_champion(n), book.ledger(n), ModelState.ACTIVE)
        for s, n in MODELS.items()
    ]
    return LiveSource(models, {SYMBOL: book}, kill)


@contextmanager
def client_of(app: Starlette) -> Iterator[httpx.Client]:
    """An HTTP client of `app` served by uvicorn on an ephemeral loopback port."""
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
def journal_source(tmp_path: Path) -> Iterator[JournalSource]:
    session = new_session(tmp_path / "j.sqlite")
    session.trade(0, 1, "0.010", "50000")
    source = JournalSource(tmp_path / "j.sqlite")
    yield source
    source.close()
    session.journal.close()


def test_routes_and_content_types(journal_source: JournalSource) -> None:
    expected = {
        "/": "text/html",
        "/static/dashboard.js": "text/javascript",
        "/static/dashboard.css": "text/css",
        "/static/plotly.min.js": "text/javascript",
        "/api/state": "application/json",
        "/metrics": "text/plain; version=0.0.4",
    }
    with client_of(create_app(journal_source)) as client:
        for path, ctype in expected.items():
            r = client.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith(ctype), path
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "default-src 'none'" in r.headers["content-security-policy"]
        assert b"plotly" in client.get("/static/plotly.min.js").content[:2000].lower()
        for bad in ("/static/index.html", "/static/app.py", "/static/..%2Fapp.py", "/static/x.js"):
            assert client.get(bad).status_code == 404, bad
        assert client.post("/api/state").status_code == 405
        state = client.get("/api/state").json()
    assert [m["name"] for m in state["models"]] == list(MODELS.values())
    assert state["source"] == "journal" and state["actions"] is False


def test_own_page_files_name_no_outside_host() -> None:
    url = re.compile(rb"""(?:https?:)?//([A-Za-z0-9.\-\[\]:]+)""")
    for name in OWN_ASSETS:
        for m in url.finditer(own_asset(name)):
            assert m.group(1).split(b":")[0] in (b"127.0.0.1", b"localhost", b"[::1]"), (name, m)
    html = own_asset("index.html").decode()
    refs = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert refs and all(r.startswith(("/static/", "data:", "/reports")) for r in refs), refs


def test_kill_refused_read_only_and_for_a_journal(journal_source: JournalSource) -> None:
    kill = KillSwitch()
    with client_of(create_app(live(kill))) as read_only:
        r = read_only.post("/api/kill/arm", headers=AUTH)
        assert r.status_code == 403 and "read-only" in r.json()["error"]
        assert read_only.get("/api/state").json()["actions"] is False
    with client_of(create_app(journal_source, token=TOKEN)) as on_journal:
        assert on_journal.post("/api/kill/arm", headers=AUTH).status_code == 409
    assert kill.check() is None


def test_kill_needs_the_token_then_a_live_one_time_code() -> None:
    kill = KillSwitch()
    with client_of(create_app(live(kill), token=TOKEN)) as client:
        assert client.get("/api/state").json()["actions"] is True
        wrong = ({}, {"authorization": "Bearer wrong-token-wrong-token"}, {"authorization": TOKEN})
        for headers in wrong:
            assert client.post("/api/kill/arm", headers=headers).status_code == 401
            r = client.post("/api/kill/confirm", headers=headers, json={"code": "X"})
            assert r.status_code == 401
        code = client.post("/api/kill/arm", headers=AUTH).json()["code"]
        assert client.post("/api/kill/confirm", headers=AUTH, content=b"{").status_code == 400
        bad = client.post("/api/kill/confirm", headers=AUTH, json={"code": code + "0"})
        assert bad.status_code == 410
        assert kill.check() is None
        code = client.post("/api/kill/arm", headers=AUTH).json()["code"]
        body = {"code": code.lower(), "reason": "test"}
        ok = client.post("/api/kill/confirm", headers=AUTH, json=body)
        assert ok.status_code == 200 and ok.json()["tripped"] is True
        assert kill.check() == "dashboard: test"
        # a code works once
        again = client.post("/api/kill/confirm", headers=AUTH, json={"code": code})
        assert again.status_code == 410
        state = client.get("/api/state").json()
    assert state["kill_switch"]["tripped"] is True
    assert state["alerts"][0]["text"] == "kill switch: dashboard: test"


def test_host_guard_on_loopback(journal_source: JournalSource) -> None:
    app = create_app(journal_source, allowed_hosts=allowed_hosts("127.0.0.1"))
    with client_of(app) as client:
        assert client.get("/api/state").status_code == 200
        assert client.get("/api/state", headers={"host": "localhost:8940"}).status_code == 200
        r = client.get("/api/state", headers={"host": "evil.example:8940"})
        assert r.status_code == 400
    assert allowed_hosts("10.0.0.5") is None


def test_event_stream_sends_the_state(journal_source: JournalSource) -> None:
    with (
        client_of(create_app(journal_source, interval_s=0.05)) as client,
        client.stream("GET", "/api/stream") as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines) == "retry: 2000"
        assert next(lines) == ""
        assert next(lines) == "event: state"
        data = next(lines)
    assert data.startswith("data: {") and '"book_imbalance"' in data
