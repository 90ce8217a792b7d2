"""The dashboard in a real engine's process and loop, while it trades against the local exchange
(real sockets, real journal): a headless Chromium sees the models, sees equity move, reads
/metrics, and trips the kill switch through the page, after which the engine flattens."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import httpx
import pytest
from cdp_browser import Browser, chromium_path
from dashboard_fixtures import families

from nexusforge.nexus.config import load_config
from nexusforge.nexus.dashboard.engine_source import DashboardOnStart
from nexusforge.nexus.engine import Engine
from nexusforge.nexus.run import venue_config
from nexusforge.nexus.venues.bybit import Credentials
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, RateLimits, Secret
from nexusforge.strategy import artifact, codec
from nexusforge.strategy.artifact import Challenger

pytestmark = pytest.mark.slow
KEY, SECRET = "dashboard-test-key", "dashboard-test-secret"
TOKEN = "engine-dashboard-test-token"
RECORDING = "bybit/market/bybit_legacy_v2_linear_ws_20210417.txt"  # LTCUSDT book and trades
# Two short-window strategies that lean against each other, so both trade within seconds.
STRATEGIES = {
    "imbalance": {"op": "clip", "args": [{"col": "imb_1"}], "params": [-1.0, 1.0]},
    "contrarian": {"op": "neg", "args": [{"op": "clip", "args": [{"col": "imb_5"}],
                                          "params": [-1.0, 1.0]}]},
}  # fmt: skip


def write_config(folder: Path, port: int, champions: bool = False) -> Path:
    """Two short-window models, or (`champions`) the six bundled ones that `make run` trades,
    with the Pit Crew watching `challengers/`."""
    lines = ["[engine]", 'symbol = "LTCUSDT"', 'journal = "journal.sqlite"',
             "round_interval_s = 0.2", 'capital = "10000"', 'kill_file = "kill.now"',
             'challenger_dir = "challengers"',
             "[venue]", 'kind = "custom"', f"port = {port}"]  # fmt: skip
    for name, expr in () if champions else STRATEGIES.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"schema": 1, "expr": expr}))
        lines += ["[[models]]", f'name = "{name}"', f'strategy = "{path}"']
    cfg = folder / "engine.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def browse(url: str, tmp_path: Path) -> None:
    """The page: both models, equity changing while it is open, then the kill dialog."""
    exe = chromium_path()
    assert exe is not None
    b = Browser(exe)
    try:
        b.goto(url)
        b.wait_for("document.querySelectorAll('#models tbody tr[data-model]').length === 2", 30)
        eq = "document.querySelector('#models tr[data-model=\"imbalance\"] td[data-field=equity]')"
        first = b.wait_for(f"{eq}.title")
        b.wait_for(f"{eq}.title !== '{first}'", 30)  # marked to the moving mid, pushed live
        b.wait_for("document.querySelector('#venues tr[data-stream=\"public\"]') !== null")
        b.wait_for("document.querySelectorAll('#chart-equity .scatterlayer .trace').length === 2")
        b.wait_for("document.querySelector('#fills tbody tr[data-exec-id]') !== null", 30)
        b.js("document.getElementById('kill-open').click()")
        b.js(f"document.getElementById('kill-token').value = '{TOKEN}'")
        b.js("document.getElementById('kill-arm').click()")
        code = b.wait_for("document.getElementById('kill-code').textContent")
        b.js(f"document.getElementById('kill-code-input').value = '{code}'")
        b.js("document.getElementById('kill-confirm').click()")
        b.wait_for("document.getElementById('kill-state').textContent.includes('TRIPPED')", 30)
        _screenshot(b, tmp_path / "dashboard-engine.png")
        assert b.exceptions == []
    finally:
        b.close()


def test_dashboard_of_a_trading_engine(shared_data: Path, tmp_path: Path) -> None:
    ex_cfg = _exchange_with_chromium(shared_data)

    listed: list[str] = []  # the reports the engine's dashboard lists

    async def main(port: int) -> tuple[Engine, dict[str, dict[tuple[tuple[str, str], ...], float]]]:
        cfg = load_config(write_config(tmp_path, port))
        engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))
        stop = asyncio.Event()
        announced: list[str] = []
        reports = tmp_path / "reports"
        (reports / "run-1" / "validation").mkdir(parents=True)
        (reports / "run-1" / "validation" / "report.html").write_text(
            "<html><head><title>Validation gate — run-1</title></head></html>"
        )
        on_start = DashboardOnStart("127.0.0.1", 0, TOKEN, announced.append, reports)
        on_start(engine)  # what run_nexus does with its on_start hook
        handle = on_start.handle
        assert handle is not None
        where = f"http://127.0.0.1:{handle.port}/"
        assert announced == [
            f"dashboard at {where} (metrics at /metrics, reports at /reports)",
            f"reports listed from {reports.resolve()}",
        ]
        metrics: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}

        async def drive() -> None:
            nonlocal metrics
            try:
                url = f"http://127.0.0.1:{await handle.started()}/"
                await asyncio.to_thread(browse, url, tmp_path)
                async with httpx.AsyncClient() as client:
                    metrics = families((await client.get(url + "metrics")).content)
                    index = (await client.get(url + "api/reports")).json()
                    listed.extend(f"{r['kind']}: {r['path']}" for r in index["reports"])
                while any(m.ledger.inventory != 0 for m in engine.models) or engine.router.inflight:
                    await asyncio.sleep(0.1)  # the engine flattens after the kill
            finally:
                stop.set()

        task = asyncio.create_task(drive())
        try:
            await engine.run(90, stop)
        finally:
            await task
            await handle.stop()
        return engine, metrics

    with LocalExchange(ex_cfg) as ex:
        engine, metrics = asyncio.run(main(ex.port))
    assert listed == ["validation: run-1/validation/report.html"]  # the engine's reports folder
    assert engine.state.kill is not None and engine.state.kill.startswith("dashboard")
    assert all(m.ledger.inventory == 0 for m in engine.models)
    assert metrics["nexus_kill_switch_tripped"][()] == 1
    assert metrics["nexus_latency_seconds_count"][(("name", "tick_to_order"),)] > 0
    assert metrics["nexus_venue_messages_total"][(("stream", "public"),)] > 0
    # scraped before the kill's flattening fills: every model had traded, no more than it has now
    for m in engine.models:
        scraped = metrics["nexus_model_fills_total"][(("model", m.name),)]
        assert 0 < scraped <= len(m.ledger.fills)


def test_a_dashboard_that_cannot_start_leaves_the_engine_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    busy = socket.create_server(("127.0.0.1", 0))
    cfg = load_config(write_config(tmp_path, 1))
    engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))
    announced: list[str] = []
    for host, port in (("127.0.0.1", busy.getsockname()[1]), ("0.0.0.0", 0)):
        on_start = DashboardOnStart(host, port, None, announced.append)
        on_start(engine)
        assert on_start.handle is None
    assert announced == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and "refusing to start without a token" in errors[1]
    engine.journal.close()
    asyncio.run(engine.rest.aclose())
    busy.close()


def test_the_six_champions_and_a_dropped_challenger(shared_data: Path, tmp_path: Path) -> None:
    """What `make run` shows: the six bundled champions trading, equity moving, a challenger
    file dropped into the Pit Crew folder appearing in shadow mode; the kill switch refuses a
    request without the token."""
    ex_cfg = _exchange_with_chromium(shared_data)

    async def main(port: int) -> Engine:
        cfg = load_config(write_config(tmp_path, port, champions=True))
        engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))
        stop = asyncio.Event()
        on_start = DashboardOnStart("127.0.0.1", 0, TOKEN, lambda _: None, tmp_path / "reports")
        on_start(engine)
        handle = on_start.handle
        assert handle is not None

        async def drive() -> None:
            try:
                url = f"http://127.0.0.1:{await handle.started()}/"
                await asyncio.to_thread(watch_champions, url, tmp_path)
            finally:
                stop.set()

        task = asyncio.create_task(drive())
        try:
            await engine.run(120, stop)
        finally:
            await task
            await handle.stop()
        return engine

    with LocalExchange(ex_cfg) as ex:
        engine = asyncio.run(main(ex.port))
    assert len(engine.models) == 6
    assert engine.state.kill is None  # the token-less request changed nothing


def watch_champions(url: str, tmp_path: Path) -> None:
    exe = chromium_path()
    assert exe is not None
    b = Browser(exe)
    try:
        b.goto(url)
        b.wait_for("document.querySelectorAll('#models tbody tr[data-model]').length === 6", 30)
        equities = "[...document.querySelectorAll('#models td[data-field=equity]')]"
        first = b.wait_for(f"{equities}.map(td => td.title).join('|')")
        b.wait_for(f"{equities}.map(td => td.title).join('|') !== {json.dumps(first)}", 60)
        (tmp_path / "challengers" / "edge.json").write_text(_challenger())
        b.wait_for("document.querySelector('#challengers tr[data-challenger]') !== null", 30)
        b.js("document.getElementById('kill-open').click()")
        b.js("document.getElementById('kill-token').value = ''")
        b.js("document.getElementById('kill-arm').click()")
        assert b.wait_for("document.getElementById('kill-error').textContent", 10)
        _screenshot(b, tmp_path / "dashboard-champions.png")
        assert b.exceptions == []
    finally:
        b.close()


def _challenger() -> str:
    """A gate-validated challenger file on the live features (what `forge run` publishes)."""
    expr = codec.loads(json.dumps({"schema": 1, "expr": STRATEGIES["imbalance"]}))
    validation = {"status": "validated", "gate": {"passed": True, "failed": []}}
    return artifact.dumps(Challenger(expr, {"oos_sharpe": 1.0}, {"table": "test"}, {}, validation))


def _exchange_with_chromium(shared_data: Path) -> ExchangeConfig:
    """The fast LTCUSDT replay these tests trade on (skips, or fails in CI, without chromium)."""
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs it")
        pytest.skip("no chromium on PATH")
    return ExchangeConfig(
        keys=(ApiKey(KEY, Secret(SECRET)),),
        replay_files=(shared_data / RECORDING,),
        speed=0.0,
        rate_limits=RateLimits(order_write=100),
    )


def _screenshot(b: Browser, path: Path) -> None:
    """The page as a PNG, also copied to $NEXUSFORGE_TEST_ARTIFACTS when set."""
    b.screenshot(path)
    artifacts = os.environ.get("NEXUSFORGE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        (Path(artifacts) / path.name).write_bytes(path.read_bytes())
