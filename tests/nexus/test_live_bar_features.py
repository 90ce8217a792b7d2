"""Live bar/MTFA features against Forge's research table, on the recorded Bybit candles.

The venue's candle strings go through the live path (`MarketFeed.on_kline`: closed klines ->
`BarFeed` -> `MtfaStream`) and through research (`ingest` -> store -> `load_research_table`);
every feature must be bit-identical at every bar close. Then: no look-ahead (a live row equals
the batch table cut at that bar; the future changes nothing; an open candle is never read), the
bar clock of models (a bar-only strategy reads each closed bar once, as the vectorized research
evaluation does), and the intake's column rules for bar challengers.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from barsx import TOPIC, Raw, btc_instrument, expr, research_table, venue_candles

from nexusforge.data.ingest import ingest
from nexusforge.errors import ConfigError
from nexusforge.forge.backtest.run import SeriesSpec, feature_table
from nexusforge.forge.evolve.table import ResearchTable, from_bars, load_research_table
from nexusforge.market.batch_mtfa import BAR_COLUMNS, bars_from_candles
from nexusforge.market.instruments import Instrument
from nexusforge.market.mtfa import NS_PER_S
from nexusforge.nexus.bar_feed import BAR_CLOSE_TS, BarSpec, is_bar_column
from nexusforge.nexus.config import load_config
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.market_feed import MarketFeed, seed_bars_needed
from nexusforge.nexus.model import TradingModel
from nexusforge.nexus.pit_crew.intake import Intake
from nexusforge.nexus.venues.bybit import BookUpdate, KlineUpdate
from nexusforge.nexus.venues.bybit.models import BybitKline
from nexusforge.nexus.venues.bybit.public_ws import WsKline
from nexusforge.strategy import artifact, evaluate
from nexusforge.strategy.artifact import Challenger

D = Decimal


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Instrument:
    return btc_instrument(shared_data)


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> Raw:
    return venue_candles(shared_data)


@pytest.fixture(scope="module")
def research(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ResearchTable:
    return research_table(shared_data, tmp_path_factory)


def kline(row: tuple[int, str, str, str, str, str], confirm: bool = True) -> WsKline:
    start, o, h, lo, c, v = row
    # The history file has no turnover: the live path gets none either, and both estimate it.
    return WsKline(start, start + 299_999, "5", D(o), D(c), D(h), D(lo), D(v), None, confirm,  # type: ignore[arg-type]
                   start + 300_000)  # fmt: skip


def rest_kline(row: tuple[int, str, str, str, str, str], turnover: D | None = None) -> BybitKline:
    start, o, h, lo, c, v = row
    return BybitKline(
        start, D(o), D(h), D(lo), D(c), D(v), D(v) * D(c) if turnover is None else turnover
    )


def live_rows(btc: Instrument, rows: Raw) -> list[dict[str, float]]:
    """Each candle as its own closed kline message through the engine's feed."""
    feed = MarketFeed(btc, bars=BarSpec(300))
    out = []
    for r in rows:
        out += feed.on_kline(KlineUpdate(TOPIC, [kline(r, confirm=False)]))  # the open candle
        out += feed.on_kline(KlineUpdate(TOPIC, [kline(r)]))
    return out


def test_live_features_equal_the_research_table_bit_for_bit(
    btc: Instrument, raw: Raw, research: ResearchTable
) -> None:
    rows = live_rows(btc, raw)
    frame = research.frame
    assert len(rows) == frame.height == len(raw) == 41_100  # the file has no gap
    close_ts = np.array([r[BAR_CLOSE_TS] for r in rows])
    assert np.array_equal(close_ts, frame["close_ts"].to_numpy().astype(np.float64))
    assert set(research.features) == set(BarSpec(300).columns())
    for col in research.features:
        live = np.array([r[col] for r in rows])
        want = frame[col].to_numpy()
        assert np.array_equal(live, want, equal_nan=True), col  # same bits, NaN in the same rows
        assert np.isfinite(live[300:]).all(), col  # warm after the slowest window (h1: 21 h)
    warm = seed_bars_needed(BarSpec(300))
    assert all(math.isfinite(rows[warm - 1][c]) for c in research.features)


def test_bar_columns_are_the_research_tables() -> None:
    for base in (60, 300, 900, 3600):
        ints = ("open_ts", "close_ts", "trade_count")
        empty = pl.DataFrame(schema={c: pl.Int64 if c in ints else pl.Float64 for c in BAR_COLUMNS})
        research = [*feature_table(empty, base).columns[1:], "ret_h1"]
        assert BarSpec(base).columns() == research
        assert all(map(is_bar_column, research))
    inst = Instrument("XUSDT", D("0.1"), D("0.1"), D("0.1"), D(1000), D(1000), D(1))
    assert not any(map(is_bar_column, MarketFeed(inst).cfg.feature_names()))  # tick columns


def test_a_live_row_equals_the_batch_table_cut_at_that_bar(
    btc: Instrument, raw: Raw, research: ResearchTable
) -> None:
    """No look-ahead: what the engine shows at bar k is what research computes from bars <= k
    alone, and bars after k (here: changed wildly) change nothing at or before k."""
    rows = live_rows(btc, raw[:700])
    for k in (0, 11, 12, 13, 250, 288, 299, 699):  # warm-up, hour edges, a mid-hour bar
        cut = _batch(raw[: k + 1])
        for col in cut.columns:
            assert np.array_equal(cut[col][-1], rows[k][col], equal_nan=True), (k, col)
    shaken = [_shaken(r) if i > 400 else r for i, r in enumerate(raw[:700])]
    other = live_rows(btc, shaken)
    for k in range(700):
        same = all(np.array_equal(other[k][c], rows[k][c], equal_nan=True) for c in rows[k])
        assert same == (k <= 400) or k > 401, k  # it shows from its own bar on, never before


def _shaken(r: tuple[int, str, str, str, str, str]) -> tuple[int, str, str, str, str, str]:
    """The candle with every price and the volume doubled."""
    return (r[0], *(str(float(x) * 2) for x in r[1:]))  # type: ignore[return-value]


def _batch(rows: Raw) -> pl.DataFrame:
    """The research features of just these candles (the batch path on a cut history)."""
    names = ("open", "high", "low", "close", "volume")
    candles = pl.DataFrame({
        "open_ts": [r[0] * 1_000_000 for r in rows],
        **{k: [float(r[i]) for r in rows] for i, k in enumerate(names, 1)},
    })  # fmt: skip
    bars = bars_from_candles(candles, 300 * NS_PER_S)
    feats = feature_table(bars, 300).drop("close_ts")
    close_ts = bars["close_ts"].to_numpy()
    close = bars["close"].to_numpy()
    if len(rows) < 2:  # from_bars needs more rows than the horizon; ret_h1 is NaN on one bar
        return feats.with_columns(ret_h1=pl.lit(math.nan))
    table = from_bars(close_ts, close, feats, bars_per_year=1.0)
    return table.frame.select(table.features)


def test_an_open_candle_never_reaches_a_feature(btc: Instrument, raw: Raw) -> None:
    feed = MarketFeed(btc, bars=BarSpec(300))
    assert feed.on_kline(KlineUpdate(TOPIC, [kline(raw[0])]))
    before = dict(feed.bars.values)  # type: ignore[union-attr]
    assert feed.on_kline(KlineUpdate(TOPIC, [kline(raw[1], confirm=False)])) == []
    assert feed.bars.values == before  # type: ignore[union-attr]
    # REST history: the newest candle is still open at the server's clock and is dropped
    klines = [rest_kline(r) for r in raw[1:4]]
    now = raw[3][0] + 299_999  # one ms before the third candle closes
    rows = feed.seed(klines, now)
    assert [r[BAR_CLOSE_TS] for r in rows] == [
        float((raw[i][0] + 300_000) * 1_000_000) for i in (1, 2)
    ]
    # a candle re-sent (the WS close after the REST seed) is a counted duplicate, not a bar
    assert feed.on_kline(KlineUpdate(TOPIC, [kline(raw[2])])) == []
    assert feed.bars.stats.duplicates == 1  # type: ignore[union-attr]
    # another symbol's or interval's topic is not ours
    assert feed.on_kline(KlineUpdate("kline.5.ETHUSDT", [kline(raw[3])])) == []
    assert feed.on_kline(KlineUpdate("kline.15.BTCUSDT", [kline(raw[3])])) == []


def test_bad_and_gapped_candles_are_counted_not_fatal(btc: Instrument, raw: Raw) -> None:
    feed = MarketFeed(btc, bars=BarSpec(300))
    bad = (raw[0][0], "0", "1", "1", "1", "1")
    assert feed.on_kline(KlineUpdate(TOPIC, [kline(bad)])) == []
    off_grid = (raw[0][0] + 1000, *raw[0][1:])
    assert feed.on_kline(KlineUpdate(TOPIC, [kline(off_grid)])) == []
    no_turnover = rest_kline(raw[0], D(0))  # volume > 0, turnover 0
    assert feed.seed([no_turnover], raw[0][0] + 300_000) == []
    assert feed.bars.stats.bad == 3  # type: ignore[union-attr]
    assert len(feed.on_kline(KlineUpdate(TOPIC, [kline(raw[0]), kline(raw[3])]))) == 2
    assert feed.bars.stats.gaps == 1 and feed.bars.stats.bars == 2  # type: ignore[union-attr]


def test_vwap_uses_research_s_turnover_estimate_unless_recorded_is_asked(
    btc: Instrument, raw: Raw
) -> None:
    """Bybit's candle files have no turnover, so research estimates it (volume x typical price):
    by default the engine does the same with the kline's own, and every feature equals the
    path that never had one. `turnover = "recorded"` takes the kline's: here volume x close,
    so VWAP is the close and its deviation 0 (to rounding); nothing else changes."""
    part = raw[:300]
    now = part[-1][0] + 300_000
    klines = [rest_kline(r) for r in part]  # turnover = volume x close
    estimated = MarketFeed(btc, bars=BarSpec(300)).seed(klines, now)
    recorded = MarketFeed(btc, bars=BarSpec(300, turnover="recorded")).seed(klines, now)
    never = live_rows(btc, part)  # WS klines without turnover
    assert len(estimated) == len(recorded) == len(never) == 300
    vwap = [c for c in never[0] if c.endswith("vwap_dev_bps")]
    assert "m5_vwap_dev_bps" in vwap
    for e, r, n in zip(estimated, recorded, never, strict=True):
        assert all(np.array_equal(e[c], n[c], equal_nan=True) for c in n)
        assert abs(r["m5_vwap_dev_bps"]) < 1e-9
        assert all(np.array_equal(r[c], n[c], equal_nan=True) for c in n if c not in vwap)
    assert np.median([abs(e["m5_vwap_dev_bps"]) for e in estimated]) > 0.1
    with pytest.raises(ConfigError, match="turnover"):
        BarSpec(300, turnover="venue")


BAR_STRATEGY = {"op": "tanh", "args": [{"op": "ema", "args": [{"op": "mul", "args": [
    {"col": "m5_ret"}, {"const": 400.0}]}], "k": 5}]}  # fmt: skip
TICK_STRATEGY = {"op": "clip", "args": [{"col": "imb_1"}], "params": [-1.0, 1.0]}


def test_a_bar_model_reads_each_bar_once_as_research_does(
    btc: Instrument, raw: Raw, research: ResearchTable
) -> None:
    """Ticks between bars do not move a bar-clocked model's windows: fed live (bar rows among
    tick rows) it gives the vectorized research value at every bar close."""
    n = 400
    bar_model = TradingModel(
        0, "bars", "BTCUSDT", expr(BAR_STRATEGY), Ledger("bars", "BTCUSDT", D(1000))
    )
    tick_model = TradingModel(
        1, "ticks", "BTCUSDT", expr(TICK_STRATEGY), Ledger("ticks", "BTCUSDT", D(1000))
    )
    assert bar_model.bar_clocked and not tick_model.bar_clocked
    feed = MarketFeed(btc, bars=BarSpec(300))
    got = []
    tick = {"imb_1": 0.5} | feed.bars.values  # type: ignore[union-attr]
    assert math.isnan(bar_model.signal(tick))  # no bar yet: NaN (the model holds inventory)
    for r in raw[:n]:
        for row in feed.on_kline(KlineUpdate(TOPIC, [kline(r)])):
            got.append(bar_model.signal(row))
            assert math.isnan(tick_model.signal(row))  # a bar row is no tick: skipped
            tick = {"imb_1": 0.5} | feed.bars.values  # type: ignore[union-attr]
            for _ in range(3):  # ticks until the next bar: the value holds
                assert np.array_equal(bar_model.signal(tick), got[-1], equal_nan=True)
    want = evaluate(expr(BAR_STRATEGY), research.frame.head(n))
    assert np.array_equal(np.clip(want, -1, 1), np.array(got), equal_nan=True)
    assert tick_model.signal(tick) == 0.5


def test_the_engine_refuses_a_model_its_feed_cannot_serve(btc: Instrument) -> None:
    bar_model = TradingModel(
        0, "bars", "BTCUSDT", expr(BAR_STRATEGY), Ledger("bars", "BTCUSDT", D(1))
    )
    mixed = {"op": "add", "args": [{"col": "m5_ret"}, {"col": "imb_1"}]}
    mixed_model = TradingModel(1, "mix", "BTCUSDT", expr(mixed), Ledger("mix", "BTCUSDT", D(1)))
    MarketFeed(btc, bars=BarSpec(300)).check_models([bar_model])
    with pytest.raises(ConfigError, match="bar_interval_s"):
        MarketFeed(btc).check_models([bar_model])
    with pytest.raises(ConfigError, match="lacks"):
        MarketFeed(btc, bars=BarSpec(60)).check_models([bar_model])  # m1_* only
    with pytest.raises(ConfigError, match="mixes"):
        MarketFeed(btc, bars=BarSpec(300)).check_models([mixed_model])
    with pytest.raises(ConfigError, match="kline interval"):
        BarSpec(120)


def book_snapshot() -> BookUpdate:
    bids, asks = [("60000.0", "1.5")], [("60000.5", "2")]
    return BookUpdate("orderbook.50.BTCUSDT", "BTCUSDT", True, bids, asks, 1, 1, 0, 0, "")


def _challenger(doc: Mapping[str, Any], series: str) -> str:
    gate = {"status": "validated", "gate": {"passed": True, "failed": []}}
    return artifact.dumps(Challenger(expr(doc), {"fitness": 1.0}, {"series": series}, {}, gate))


@pytest.mark.parametrize(
    ("doc", "series", "reason"),
    [
        (BAR_STRATEGY, "bybit_linear:BTCUSDT:300s", None),
        (BAR_STRATEGY, "bybit_linear:BTCUSDT:60s", "evolved on 60 s bars"),
        ({"op": "tanh", "args": [{"col": "h1_ret"}]}, "bybit_linear:BTCUSDT:60s", "evolved on 60"),
        ({"op": "add", "args": [{"col": "m5_ret"}, {"col": "imb_1"}]}, "x:300s", "mixes bar"),
        ({"op": "tanh", "args": [{"col": BAR_CLOSE_TS}]}, "x:300s", "bar clock"),
        ({"op": "tanh", "args": [{"col": "m1_ret"}]}, "x:60s", "does not have: ['m1_ret']"),
        (TICK_STRATEGY, "x:60s", None),  # tick features: no bar length to match
    ],
)
def test_intake_judges_bar_challengers_by_the_engines_columns(
    btc: Instrument, tmp_path: Path, doc: Mapping[str, Any], series: str, reason: str | None
) -> None:
    feed = MarketFeed(btc, bars=BarSpec(300))
    row = feed.on_book(book_snapshot())  # the Pit Crew takes the columns from a real row
    intake = Intake(tmp_path, columns=frozenset(row))
    (tmp_path / "c.json").write_text(_challenger(doc, series))
    admitted = intake.poll() + intake.poll()
    if reason is None:
        assert len(admitted) == 1 and not intake.rejections
    else:
        assert not admitted and reason in intake.rejections[0].reason


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ("bar_interval_s = 120", "engine.bar_interval_s"),
        ("bar_interval_s = true", "engine.bar_interval_s"),
        ('bar_horizons = ["3"]', "engine.bar_horizons"),
        ("bar_horizons = [0]", "engine.bar_horizons"),
        ("bar_horizons = 3", "engine.bar_horizons"),
        ("bar_horizons = []", "engine.bar_horizons"),
    ],
)
def test_bad_bar_settings_name_the_key(tmp_path: Path, lines: str, error: str) -> None:
    path = tmp_path / "engine.toml"
    path.write_text(f"[engine]\n{lines}\n")
    with pytest.raises(ConfigError, match=error):
        load_config(path)


def test_bar_settings_give_the_feeds_spec(tmp_path: Path, btc: Instrument) -> None:
    assert load_config(None).bar_spec() == BarSpec(300, (1,))
    path = tmp_path / "engine.toml"
    path.write_text("[engine]\nbar_interval_s = 60\nbar_horizons = [1, 12, 1]\n")
    spec = load_config(path).bar_spec()
    assert spec == BarSpec(60, (1, 12))
    assert (
        spec.columns()[-2:] == ["ret_h1", "ret_h12"] and spec.topic("BTCUSDT") == "kline.1.BTCUSDT"
    )
    path.write_text("[engine]\nbar_interval_s = 0\n")
    cfg = load_config(path)
    assert cfg.bar_spec() is None
    assert MarketFeed(btc, bars=cfg.bar_spec()).topics() == []


WINDOWED = {"op": "tanh", "args": [{"op": "add", "args": [
    {"op": "sub", "args": [{"col": "m5_ret"}, {"op": "lag", "args": [{"col": "m5_ret"}], "k": 3}]},
    {"op": "max", "args": [{"col": "m5_range_close"}], "k": 10}]}]}  # fmt: skip


def test_a_new_bar_model_warms_up_on_the_bars_before_it(
    btc: Instrument, raw: Raw, research: ResearchTable
) -> None:
    """A shadow admitted at bar 400 reads the feed's recent closed bars first: from its first
    live bar on it gives exactly the research value, with no warm-up of its own windows."""
    feed = MarketFeed(btc, bars=BarSpec(300))
    for r in raw[:400]:
        feed.on_kline(KlineUpdate(TOPIC, [kline(r)]))
    assert len(feed.recent_bars) == 400 < feed.depth  # every bar so far (the depth is more)
    cold = TradingModel(0, "cold", "BTCUSDT", expr(WINDOWED), Ledger("cold", "BTCUSDT", D(1)))
    warm = TradingModel(1, "warm", "BTCUSDT", expr(WINDOWED), Ledger("warm", "BTCUSDT", D(1)))
    feed.warm_up([warm])
    assert warm.warm_up(feed.recent_bars) == 0  # once only
    got_warm, got_cold = [], []
    for r in raw[400:420]:
        (row,) = feed.on_kline(KlineUpdate(TOPIC, [kline(r)]))
        got_warm.append(warm.signal(row))
        got_cold.append(cold.signal(row))
    want = np.clip(evaluate(expr(WINDOWED), research.frame.head(420)), -1, 1)[400:]
    assert np.array_equal(np.array(got_warm), want)
    assert np.isnan(got_cold[:9]).all() and np.array_equal(got_cold[9:], want[9:])


def test_one_minute_bars_equal_research_too(
    btc: Instrument, shared_data: Path, tmp_path: Path
) -> None:
    """A 1 m base (15- and 60-bar Kahan group sums for m15 and h1), on the recorded Binance
    USD-M 1 m BTCUSDT candles: the first 8,000 live bars equal research's first 8,000 rows."""
    src = shared_data / "history/binance_usdm_BTCUSDT_1m_20250504_20250624.csv.gz"
    assert not ingest(src, tmp_path).failed
    table = load_research_table(tmp_path, SeriesSpec("binance_usdm", "BTCUSDT", 60))
    with gzip.open(src, "rt") as fh:
        rows = [next(csv.reader([line])) for _, line in zip(range(8001), fh, strict=False)][1:]
    feed = MarketFeed(btc, bars=BarSpec(60))
    live = []
    for r in rows:
        start = int(r[0])
        k = WsKline(start, start + 59_999, "1", D(r[2]), D(r[5]), D(r[3]), D(r[4]), D(r[6]),
                    None, True, start + 60_000)  # type: ignore[arg-type]  # fmt: skip
        live += feed.on_kline(KlineUpdate("kline.1.BTCUSDT", [k]))
    assert len(live) == 8000 and set(table.features) == set(BarSpec(60).columns())
    for col in table.features:
        want = table.frame[col].to_numpy()[:8000]
        assert np.array_equal(np.array([r[col] for r in live]), want, equal_nan=True), col
    assert all(math.isfinite(live[-1][c]) for c in table.features)  # h1 warm (21 hours) by then
