"""The page in a real headless Chromium: rendered plotly charts, live values pushed after load,
no request leaves loopback, and the kill switch's two steps driven through the dialog."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cdp_browser import Browser, chromium_path
from dashboard_fixtures import MODELS, SYMBOL, T0, new_session, serve

from nexusforge.nexus.dashboard import JournalSource, LiveSource, create_app
from nexusforge.nexus.dashboard.snapshot import ChallengerView
from nexusforge.nexus.journal import Journal, status
from nexusforge.nexus.ledger import Book
from nexusforge.nexus.model import ModelState, TradingModel, load_champion
from nexusforge.nexus.watchtower import KillSwitch

pytestmark = pytest.mark.slow
TOKEN = "t0k3n-for-the-browser-test"
ARTIFACTS = Path(os.environ.get("NEXUSFORGE_TEST_ARTIFACTS", ""))


@pytest.fixture
def browser() -> Iterator[Browser]:
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs it")
        pytest.skip("no chromium on PATH (.ci/run installs it)")
    b = Browser(exe)
    try:
        yield b
    finally:
        b.close()


def _cell(model: str, field: str) -> str:
    return f'document.querySelector(\'#models tr[data-model="{model}"] td[data-field="{field}"]\')'


def _only_loopback(urls: list[str]) -> list[str]:
    bad = []
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme in ("data", "about", "blob"):
            continue
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            bad.append(u)
    return bad


def _save(browser: Browser, tmp_path: Path, name: str) -> None:
    out = browser.screenshot(tmp_path / name)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if ARTIFACTS.parts:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / name).write_bytes(out.read_bytes())


def test_page_renders_charts_and_follows_the_journal_live(browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "session.sqlite"
    session = new_session(path)
    session.trade(0, 1, "0.010", "50000")
    session.trade(1, -1, "0.020", "50010")
    session.trade(0, -1, "0.004", "50100")
    source = JournalSource(path)
    with serve(create_app(source, token=TOKEN)) as url:
        browser.goto(url + "/")
        browser.wait_for("Number(document.body.dataset.updates) >= 1")
        rows = browser.js(
            "[...document.querySelectorAll('#models tbody tr')].map(r => r.dataset.model)"
        )
        assert rows == list(MODELS.values())
        # the page shows the ledger's exact equity, as the journal's own status() computes it
        expected = {
            s.name: s for s in status(Journal(path, readonly=True), {SYMBOL: Decimal("50100")})
        }
        for name, st in expected.items():
            assert Decimal(browser.js(_cell(name, "equity") + ".title")) == st.equity
            assert Decimal(browser.js(_cell(name, "inventory") + ".textContent")) == st.inventory
        # plotly drew one equity line per model and the weights chart
        browser.wait_for(
            "document.querySelectorAll('#chart-equity .scatterlayer .trace').length === 3"
        )
        assert browser.js("document.querySelectorAll('#chart-weights .main-svg').length") >= 1
        assert browser.js("document.getElementById('kill-open').disabled") is True

        # a fill written after the page loaded reaches it over the event stream
        updates = browser.js("Number(document.body.dataset.updates)")
        session.trade(2, 1, "0.050", "50200")
        browser.wait_for(_cell("ofi_momentum", "inventory") + ".textContent === '0.050'")
        assert browser.js("Number(document.body.dataset.updates)") > updates
        assert (
            browser.js("document.querySelector('#fills tbody tr td[data-field=model]').textContent")
            == "ofi_momentum"
        )
        assert browser.js(_cell("ofi_momentum", "fills") + ".textContent") == "1"
        assert browser.js("document.getElementById('link').textContent") == "live"
        _save(browser, tmp_path, "dashboard-journal.png")
        browser.js("1")  # drain pending DevTools events into the logs
        # CSP violations and failed loads are logged as errors: there must be none
        assert [c for c in browser.console if c.startswith("error")] == []
    assert browser.exceptions == []
    assert _only_loopback(browser.requests) == []
    assert any(u.endswith("/static/plotly.min.js") for u in browser.requests)
    session.journal.close()
    source.close()


def _live_source(kill: KillSwitch) -> LiveSource:
    capitals = {name: Decimal(10_000) for name in MODELS.values()}
    book = Book(SYMBOL, capitals)
    models = [
        TradingModel(slot, name, SYMBOL, load_champion(name), book.ledger(name), ModelState.ACTIVE)
        for slot, name in MODELS.items()
    ]
    shadows = (
        ChallengerView("challenger-0a1b", "flow_pressure", T0, 1.4, 1.1,
                       ((T0, Decimal(1000)), (T0 + 60_000, Decimal(1012)))),
        ChallengerView("challenger-9f8e", "", T0, math.nan, math.nan),  # not scored yet
    )  # fmt: skip
    source = LiveSource(
        models, {SYMBOL: book}, kill, session="browser", challengers=lambda: shadows
    )
    source.on_mark(SYMBOL, Decimal(50_000))
    return source


def test_kill_switch_through_the_dialog_needs_token_and_code(
    browser: Browser, tmp_path: Path
) -> None:
    kill = KillSwitch()
    with serve(create_app(_live_source(kill), token=TOKEN, interval_s=0.2)) as url:
        browser.goto(url + "/")
        browser.wait_for("document.getElementById('kill-open').disabled === false")
        rows = "[...document.querySelectorAll('#challengers tbody tr')]"
        names = browser.js(rows + ".map(r => r.dataset.challenger)")
        assert names == ["challenger-0a1b", "challenger-9f8e"]
        cells = browser.js(rows + ".map(r => r.cells[5].textContent)")
        assert cells == ["27.3 %", "–"]  # (1.4 - 1.1) / 1.1; an unscored one shows a dash
        # three champions solid, two shadows dotted
        dashes = "document.getElementById('chart-equity').data.map(t => t.line.dash).join()"
        assert browser.wait_for(dashes) == "solid,solid,solid,dot,dot"
        browser.js("document.getElementById('kill-open').click()")
        assert browser.js("document.getElementById('kill-dialog').open") is True

        # a wrong token is refused by the server and nothing trips
        browser.js("document.getElementById('kill-token').value = 'not-the-token-at-all'")
        browser.js("document.getElementById('kill-arm').click()")
        error = browser.wait_for("document.getElementById('kill-error').textContent")
        assert "token" in error
        assert kill.check() is None

        # the right token arms; the code shown must be typed back
        browser.js(f"document.getElementById('kill-token').value = '{TOKEN}'")
        browser.js("document.getElementById('kill-reason').value = 'browser test'")
        browser.js("document.getElementById('kill-arm').click()")
        code = browser.wait_for("document.getElementById('kill-code').textContent")
        assert kill.check() is None
        browser.js(f"document.getElementById('kill-code-input').value = '{code}'")
        browser.js("document.getElementById('kill-confirm').click()")
        browser.wait_until(kill.check, "the kill switch to trip")
        assert kill.check() == "dashboard: browser test"
        browser.wait_for("document.getElementById('kill-state').textContent.includes('TRIPPED')")
        assert browser.js("document.getElementById('kill-open').disabled") is True
        _save(browser, tmp_path, "dashboard-killed.png")
    assert browser.exceptions == []


def _report(title: str) -> str:
    """A standalone report the way the report writers build one: plotly.js inlined."""
    import plotly.graph_objects as go

    plot = go.Figure(go.Scatter(y=[1.0, 3.0, 2.0], name="equity")).to_html(
        full_html=False, include_plotlyjs=True
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{plot}</body></html>"
    )


def test_reports_panel_lists_the_folder_and_opens_a_report(
    browser: Browser, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    (folder / "run-7" / "validation").mkdir(parents=True)
    (folder / "run-7" / "validation" / "report.html").write_text(_report("Validation gate — run-7"))
    path = tmp_path / "session.sqlite"
    session = new_session(path)
    source = JournalSource(path)
    rows = "[...document.querySelectorAll('#reports tbody tr[data-report]')]"
    with serve(create_app(source, reports=folder)) as url:
        browser.goto(url + "/")
        assert browser.wait_for(rows + ".length === 1")
        assert browser.js(rows + "[0].cells[0].textContent") == "validation"
        # a report written while the page is open shows up without a reload
        (folder / "bt.html").write_text(_report("Backtest demo on BTCUSDT"))
        browser.wait_for(rows + ".length === 2", timeout_s=15)
        assert browser.js(rows + ".map(r => r.dataset.report)")[0] == "bt.html"  # newest first
        link = "#reports tr[data-report='bt.html'] a"
        assert browser.js(f'document.querySelector("{link}").textContent') == (
            "Backtest demo on BTCUSDT"
        )
        # clicking opens the report in a tab of its own
        browser.click(link)
        opened = browser.wait_until(
            lambda: [t for t in browser.targets() if t["url"] == url + "/reports/bt.html"],
            "the report's tab",
        )
        assert opened[0]["type"] == "page"
        # the report itself renders its chart under its sandboxing CSP, and cannot reach the API
        browser.goto(url + "/reports/bt.html")
        browser.wait_for("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1")
        assert browser.js("document.title") == "Backtest demo on BTCUSDT"
        browser.js("1")  # drain pending DevTools events into the logs
        assert [c for c in browser.console if c.startswith("error")] == []  # no CSP refusals
        blocked = browser.js("fetch('/api/state').then(() => 'reached', () => 'blocked')")
        assert blocked == "blocked"
        _save(browser, tmp_path, "dashboard-report.png")
    assert browser.exceptions == []
    session.journal.close()
    source.close()
