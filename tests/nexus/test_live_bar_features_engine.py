"""Bar-feature strategies in a real engine against the local exchange on loopback.

The engine builds 1-minute bars from the venue's closed klines (`kline.1.LTCUSDT`, made by the
exchange from the recorded trades it replays). A champion reading a bar feature trades as an
active model, and a Forge-style challenger reading bar features (evolved on 60 s bars) passes
the Pit Crew intake and trades in shadow. The venue's clock is moved on a minute at a time so
bars close within seconds (the venue's clock is the bar clock; REST requests re-sync to it).
At the end, the engine's features of its last bar equal the research table computed from the
venue's own REST klines up to that bar, bit for bit (their turnover too: `bar_turnover =
"recorded"`, as research from a store that has it).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent / "engine"))

from enginex import KEY, SECRET, SYMBOL, client_config, drive, exchange_config

from nexusforge.forge.backtest.run import feature_table
from nexusforge.forge.evolve.table import from_bars
from nexusforge.market.batch_mtfa import bars_from_candles
from nexusforge.nexus.bar_feed import BAR_CLOSE_TS, BAR_ROW, BarFeed, BarSpec, Candle
from nexusforge.nexus.config import load_config
from nexusforge.nexus.engine import Engine
from nexusforge.nexus.model import ModelState
from nexusforge.nexus.run import venue_config
from nexusforge.nexus.venues.bybit import BybitRestClient, Credentials
from nexusforge.nexus.venues.local import LocalExchange
from nexusforge.strategy import artifact, codec
from nexusforge.strategy.artifact import Challenger

# Long while the last 1-minute bar's range is positive (it always is >= 0; NaN before a bar).
BAR_CHAMPION = {"op": "tanh", "args": [{"op": "add", "args": [
    {"op": "ema", "args": [{"op": "mul", "args": [{"col": "m1_range_close"}, {"const": 1e3}]}],
     "k": 2}, {"const": 0.3}]}]}  # fmt: skip
BAR_CHALLENGER = {"op": "tanh", "args": [{"op": "add", "args": [
    {"op": "mul", "args": [{"col": "m1_vwap_dev_bps"}, {"const": 1e-3}]},
    {"op": "add", "args": [{"col": "m1_range_close"}, {"const": 1.0}]}]}]}  # fmt: skip
TICK_MODEL = {"op": "clip", "args": [{"col": "imb_1"}], "params": [-1.0, 1.0]}
BAR_S = 60


def write_engine_config(folder: Path, port: int) -> Path:
    for name, doc in (("bars", BAR_CHAMPION), ("ticks", TICK_MODEL)):
        (folder / f"{name}.json").write_text(json.dumps({"schema": 1, "expr": doc}))
    lines = ["[engine]", f'symbol = "{SYMBOL}"', 'journal = "journal.sqlite"',
             "round_interval_s = 0.2", 'challenger_dir = "challengers"', 'kill_file = ""',
             f"bar_interval_s = {BAR_S}", 'bar_turnover = "recorded"']  # fmt: skip
    lines += ["[venue]", 'kind = "custom"', f"port = {port}"]
    for name in ("bars", "ticks"):
        lines += ["[[models]]", f'name = "{name}"', f'strategy = "{folder / name}.json"']
    path = folder / "engine.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def challenger_text() -> str:
    gate = {"status": "validated", "gate": {"passed": True, "failed": []}}
    expr = codec.loads(json.dumps({"schema": 1, "expr": BAR_CHALLENGER}))
    data = {"series": f"bybit_linear:{SYMBOL}:{BAR_S}s"}
    return artifact.dumps(Challenger(expr, {"fitness": 1.0}, data, {"tag": "bars"}, gate))


async def wait_for(cond: object, timeout_s: float = 30.0, what: object = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not cond():  # type: ignore[operator]
        assert loop.time() < end, f"condition not reached in time: {what}"
        await asyncio.sleep(0.05)


async def pass_minutes(ex: LocalExchange, minute: int, done: Callable[[], bool]) -> int:
    """Move the venue's clock on a minute at a time until `done`; the last minute."""
    while not done():
        minute += 1
        assert minute < 60, "bars did not close as expected"
        await asyncio.to_thread(ex.skew_clock, minute * BAR_S * 1000)
        await asyncio.sleep(0.6)
    return minute


async def venue_klines(port: int) -> pl.DataFrame:
    """The venue's 1-minute candles (REST), as research reads a candle series."""
    async with BybitRestClient(client_config(port), Credentials(KEY, SECRET)) as rest:
        await rest.sync_time()
        rows = await rest.klines(SYMBOL, "1", limit=1000)
    return pl.DataFrame({
        "open_ts": [k.start_ms * 1_000_000 for k in rows],
        **{f: [float(getattr(k, f)) for k in rows]
           for f in ("open", "high", "low", "close", "volume", "turnover")},
    })  # fmt: skip


def research_table(candles: pl.DataFrame) -> dict[int, dict[str, float]]:
    """The research table's features by bar close, from the venue's candles."""
    bars = bars_from_candles(candles, BAR_S * 1_000_000_000)
    feats = feature_table(bars, BAR_S).drop("close_ts")
    table = from_bars(bars["close_ts"].to_numpy(), bars["close"].to_numpy(), feats,
                      bars_per_year=1.0)  # fmt: skip
    frame = table.frame.select("close_ts", *table.features)
    return {int(r.pop("close_ts")): r for r in frame.iter_rows(named=True)}


def record_bar_rows(bars: BarFeed, rows: list[dict[str, float]]) -> None:
    """Keep every bar row the engine's feed makes (the feed's own method, wrapped)."""
    make = bars.on_candle

    def on_candle(c: Candle) -> dict[str, float] | None:
        row = make(c)
        if row is not None:
            rows.append(row)
        return row

    setattr(bars, "on_candle", on_candle)  # noqa: B010 - instance attribute over the method


@pytest.mark.slow
def test_bar_models_trade_live_and_match_research(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "challengers"
    folder.mkdir()
    (folder / "bars.json").write_text(challenger_text())
    seen: dict[str, object] = {}
    rows: list[dict[str, float]] = []

    async def script(engine: Engine, ex: LocalExchange) -> None:
        crew, feed = engine.pit_crew, engine.feed
        assert crew is not None and feed is not None and feed.bars is not None
        crew.config = type(crew.config)(folder, poll_s=0.2, sample_s=0.2)
        record_bar_rows(feed.bars, rows)
        bar_model = engine.models[0]
        assert bar_model.bar_clocked and not engine.models[1].bar_clocked
        await wait_for(lambda: len(crew.shadows) == 1, what="admission")
        (shadow,) = crew.shadows.values()
        assert shadow.model.bar_clocked
        minute = await pass_minutes(ex, 0, lambda: feed.bars.stats.bars >= 3)  # type: ignore[union-attr]
        # Two bar closes are lost, then the public stream drops: the missed bars come from
        # REST, in order, before the next one.
        await asyncio.to_thread(ex.lose_next_kline_closes, 2)
        minute = await pass_minutes(ex, minute, lambda: feed.stats.gap_fills >= 1)
        assert await asyncio.to_thread(ex.drop_public_connections) >= 1
        await asyncio.to_thread(ex.skew_clock, (minute + 2) * BAR_S * 1000)
        await asyncio.sleep(0.3)
        await pass_minutes(ex, minute + 2, lambda: (
            feed.stats.gap_fills >= 1 and feed.bars.stats.bars >= 6  # type: ignore[union-attr]
            and shadow.stats.fills >= 1 and bar_model.ledger.inventory > 0))  # fmt: skip
        seen["values"] = dict(feed.bars.values)
        seen["stats"] = feed.bars.stats
        seen["gap_fills"] = feed.stats.gap_fills
        seen["shadow_inventory"] = shadow.model.ledger.inventory
        seen["bar_state"] = bar_model.state
        seen["bar_inventory"] = bar_model.ledger.inventory

    async def main(ex: LocalExchange) -> None:
        cfg = load_config(write_engine_config(tmp_path, ex.port))
        engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))

        async def started_then_script() -> None:
            await wait_for(lambda: engine.pit_crew is not None, what="engine start")
            await script(engine, ex)

        await drive(engine, started_then_script, 90)

    async def restart(ex: LocalExchange) -> None:
        """A second engine on the same journal: its bar features are warm from REST klines
        before the first live bar, and its bar-clocked model has a value at once."""
        cfg = load_config(tmp_path / "engine.toml")
        engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))

        async def read_warm_state() -> None:
            await wait_for(lambda: engine.public is not None, what="restart")
            feed = engine.feed
            assert feed is not None and feed.bars is not None
            seen["restart_values"] = dict(feed.bars.values)
            seen["restart_bars"] = feed.bars.stats.bars
            seen["restart_signal"] = engine.models[0].last_signal

        await drive(engine, read_warm_state, 30)

    with LocalExchange(exchange_config(shared_data)) as ex:
        asyncio.run(main(ex))
        asyncio.run(restart(ex))
        candles = asyncio.run(venue_klines(ex.port))
    assert not (folder / "rejected").exists()
    assert seen["bar_state"] is ModelState.ACTIVE
    assert seen["bar_inventory"] > Decimal(0)  # type: ignore[operator]
    assert seen["shadow_inventory"] != Decimal(0)
    research = research_table(candles)
    assert len(rows) >= 6 and seen["values"] == {k: v for k, v in rows[-1].items() if k != BAR_ROW}
    closes = [int(r[BAR_CLOSE_TS]) for r in rows]
    assert closes == sorted(research)[: len(closes)]  # every bar, none twice, the venue's first on
    for row, close in zip(rows, closes, strict=True):
        for col, want in research[close].items():
            assert np.array_equal(row[col], want, equal_nan=True), (close, col, row[col], want)
    assert all(math.isfinite(r["m1_ret"]) for r in rows[1:])
    # the missed bars came from REST; only minutes the venue itself has no candle for (the
    # clock jumped over them) are gaps
    empty = int(np.sum(np.diff(closes) != BAR_S * 1_000_000_000))
    assert seen["gap_fills"] >= 1 and seen["stats"].gaps == empty  # type: ignore[attr-defined]
    # restart: seeded with every closed bar the venue has, equal to research, the model warm
    assert seen["restart_bars"] >= len(rows)  # type: ignore[operator]
    warm = seen["restart_values"]
    assert isinstance(warm, dict)
    for col, want in research[int(warm[BAR_CLOSE_TS])].items():
        assert np.array_equal(warm[col], want, equal_nan=True), (col, warm[col], want)
    assert math.isfinite(seen["restart_signal"])  # type: ignore[arg-type]


def test_a_gap_the_venue_cannot_fill_is_kept_and_bars_go_on(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The missed bars' REST request is refused (10001): the waiting bar is applied
    after the gap, counted, and the next bars follow; nothing is lost or stuck."""
    from nexusforge.nexus.market_feed import MarketFeed
    from nexusforge.nexus.venues.bybit import KlineUpdate
    from nexusforge.nexus.venues.bybit.public_ws import WsKline

    def closed(start: int, price: str) -> KlineUpdate:
        p = Decimal(price)
        k = WsKline(start, start + 59_999, "1", p, p, p + 1, p - 1, Decimal(2), p * 2, True,
                    start + 60_000)  # fmt: skip
        return KlineUpdate(f"kline.1.{SYMBOL}", [k])

    async def main(port: int) -> tuple[list[dict[str, float]], MarketFeed]:
        async with BybitRestClient(client_config(port), Credentials(KEY, SECRET)) as rest:
            inst = (await rest.instruments(SYMBOL))[SYMBOL]
            feed = MarketFeed(inst, bars=BarSpec(BAR_S))
            t0 = 1_700_000_040_000
            rows = feed.on_kline(closed(t0, "100"))
            assert feed.on_kline(closed(t0 + 180_000, "103")) == []  # two bars missed: waits
            assert feed.gap_to_fill() == (t0 + 60_000, t0 + 120_000)
            assert feed.gap_to_fill() is None  # asked once
            assert feed.on_kline(closed(t0 + 240_000, "104")) == []  # waits behind the gap
            await asyncio.to_thread(ex.fail_next_requests, 1, 10001, "params error")
            rows += await feed.fill_gap(rest)
            rows += feed.on_kline(closed(t0 + 300_000, "105"))
            return rows, feed

    with LocalExchange(exchange_config(shared_data)) as ex:
        rows, feed = asyncio.run(main(ex.port))
    assert [int(r[BAR_CLOSE_TS]) // 1_000_000 for r in rows] == [
        1_700_000_100_000, 1_700_000_280_000, 1_700_000_340_000, 1_700_000_400_000]  # fmt: skip
    assert feed.bars is not None and feed.bars.stats.gaps == 1 and feed.stats.gap_fills == 1
    assert rows[1]["ret_h1"] == pytest.approx(math.log(103 / 100))  # the return spans the gap
    assert "missed candles could not be fetched" in caplog.text
