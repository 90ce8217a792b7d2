"""Warm-up depth and restarts of bar-clocked models and their MAML heads, on recorded candles.

The feed keeps (and a restart seeds) enough closed bars for every head it serves: the
features' warm-up, the strategy's look-backs and the head's `support` rows on warm values, so
a restarted champion, a resumed shadow or a new shadow adapts its head on the newest bar, on
research's rows bit for bit, instead of `support` live bars later. A shadow resumed by the Pit
Crew on restart reads those bars before any row of its own. Data: the recorded Bybit 5 m
BTCUSDT candles; research is `load_research_table` on the same candles. The head is built
from plain numbers (no torch): what is checked is which rows it adapts on, not how well.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "engine"))

from barsx import TOPIC, Raw, btc_instrument, expr, research_table, venue_candles
from enginex import KEY, SECRET, SYMBOL, client_config, exchange_config

from nexusforge.forge.evolve.meta_config import MetaConfig
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.market.book import OrderBook
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.bar_feed import BAR_CLOSE_TS, BarSpec
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.live_head import live_head
from nexusforge.nexus.market_feed import (
    MAX_RECENT_BARS,
    SEED_PAGE,
    MarketFeed,
    bars_wanted,
    model_bars,
    seed_bars_needed,
)
from nexusforge.nexus.model import TradingModel
from nexusforge.nexus.pit_crew import PitCrew, PitCrewConfig
from nexusforge.nexus.venues.bybit import BybitRestClient, Credentials, KlineUpdate
from nexusforge.nexus.venues.bybit.models import BybitKline
from nexusforge.nexus.venues.bybit.public_ws import WsKline
from nexusforge.nexus.venues.local import LocalExchange
from nexusforge.nexus.venues.local.trades import Print
from nexusforge.strategy import artifact, evaluate
from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.expr import warmup
from nexusforge.strategy.head import (
    DEFAULT_SUPPORT,
    NAMES,
    MetaHead,
    Window,
    adapt_np,
    apply_np,
    to_json,
)

D = Decimal
SPEC = BarSpec(300)
BARS = 1_100
RESTART = 1_000  # the first live bar after the restart
QUERY = 24
FEATURES = ("h1_rv", "m15_ret")
GATE = {"status": "validated", "gate": {"passed": True, "failed": []}}
# Look-backs of its own (lag 3, max 10): its windows must be warm as well as the features.
WINDOWED = {"op": "tanh", "args": [{"op": "add", "args": [
    {"op": "sub", "args": [{"col": "m5_ret"}, {"op": "lag", "args": [{"col": "m5_ret"}], "k": 3}]},
    {"op": "max", "args": [{"col": "m5_range_close"}], "k": 10}]}]}  # fmt: skip


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Instrument:
    return btc_instrument(shared_data)


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> Raw:
    return venue_candles(shared_data, BARS)


@pytest.fixture(scope="module")
def research(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ResearchTable:
    return research_table(shared_data, tmp_path_factory, BARS)


def research_window(research: ResearchTable) -> Window:
    """Research's pairing for the head: bar t's raw signal and features, the return over t+1."""
    frame = research.frame
    signal = np.asarray(evaluate(expr(WINDOWED), frame), dtype=np.float64)
    feats = np.column_stack([frame[f].to_numpy() for f in FEATURES]).astype(np.float64)
    ret = frame["ret_h1"].to_numpy().astype(np.float64)
    return Window(signal, feats, np.append(ret[1:], np.nan))


def head_doc(support: int) -> dict[str, object]:
    """A small head of fixed numbers (hidden 3) on FEATURES, adapting every QUERY bars."""
    rng = np.random.default_rng(7)
    d, hidden = 1 + len(FEATURES), 3
    params = {"W": rng.normal(0.0, 0.6, (hidden, d)), "c": np.zeros(hidden),
              "v": rng.normal(0.0, 0.3, hidden), "u": np.array([0.2, 0.0, 0.0]),
              "b": np.zeros(1)}  # fmt: skip
    head = MetaHead(FEATURES, np.array([0.0, 0.004, 0.0]), np.array([0.5, 0.003, 0.004]), 0.002,
                    1e-4, 3, support, QUERY, params, dict.fromkeys(NAMES, 0.3))  # fmt: skip
    return to_json(head)


def challenger(support: int) -> Challenger:
    data = {"series": "bybit_linear:BTCUSDT:300s", "fingerprint": "test"}
    return Challenger(expr(WINDOWED), {"fitness": 1.0}, data, {"support": support}, GATE,
                      head_doc(support))  # fmt: skip


def bar_model(support: int, name: str = "bars") -> TradingModel:
    head = live_head(challenger(support))
    model = TradingModel(0, name, "BTCUSDT", expr(WINDOWED), Ledger(name, "BTCUSDT", D(10_000)),
                         head=head)  # fmt: skip
    assert model.bar_clocked and model.head is not None and model.head.bar_clock
    return model


def kline(r: tuple[int, str, str, str, str, str]) -> WsKline:
    start, o, h, lo, c, v = r
    return WsKline(start, start + 299_999, "5", D(o), D(c), D(h), D(lo), D(v), None, True,  # type: ignore[arg-type]
                   start + 300_000)  # fmt: skip


def rest_klines(rs: Raw) -> list[BybitKline]:
    """The candles as GET /v5/market/kline gives them (the file has no turnover: volume x close)."""
    return [BybitKline(s, D(o), D(h), D(lo), D(c), D(v), D(v) * D(c)) for s, o, h, lo, c, v in rs]


def seed_at(feed: MarketFeed, raw: Raw, first_live: int, bars: int) -> int:
    """What `seed_bars` hands over at a restart before bar `first_live`: `bars` closed candles
    and the open one. Bar rows seeded."""
    now = raw[first_live][0] + 60_000  # a minute into the open candle
    return len(feed.seed(rest_klines(raw[first_live - bars : first_live + 1]), now))


def assert_research_rows(
    sample: Window | None, win: Window, t: int, support: int, seeded: bool = True
) -> None:
    """The adaptation sample taken at bar t is research's rows t - support .. t - 1: signals
    and returns the same bits, features too unless `seeded`. A seeded feed's rv and vol_z are
    differences of running sums begun at the seed, not at the table's first bar, so they
    round differently (`market/mtfa.py`): equal to 1e-12 relative, never NaN where research
    has a value."""
    assert sample is not None
    want = win.rows(slice(t - support, t))
    assert np.isfinite(sample.features).all() and np.isfinite(sample.returns).all()
    assert np.array_equal(sample.signal, want.signal, equal_nan=True), t
    assert np.array_equal(sample.returns, want.returns), t
    if seeded:
        np.testing.assert_allclose(sample.features, want.features, rtol=1e-12, atol=0)
    else:
        assert np.array_equal(sample.features, want.features), t


def live(feed: MarketFeed, raw: Raw, k: int, models: list[TradingModel]) -> None:
    """Bar k's confirmed kline; every model reads its bar row (`Engine._signal`)."""
    for row in feed.on_kline(KlineUpdate(TOPIC, [kline(raw[k])])):
        for m in models:
            m.signal(row)


def test_the_feed_keeps_the_bars_its_heads_need(btc: Instrument) -> None:
    base = seed_bars_needed(SPEC)
    assert MetaConfig().support == DEFAULT_SUPPORT  # one default, in strategy/head.py
    feed = MarketFeed(btc, bars=SPEC)
    assert feed.depth == base + DEFAULT_SUPPORT > DEFAULT_SUPPORT + 1
    big = bar_model(400)
    want = base + warmup(expr(WINDOWED)) + 400
    assert warmup(expr(WINDOWED)) > 0 and bars_wanted(SPEC, [big]) == want
    assert feed.want_bars_for([bar_model(DEFAULT_SUPPORT), big]) == want == feed.depth
    assert feed.want_bars(10) == want  # never fewer
    assert feed.want_bars(MAX_RECENT_BARS + 5) == MAX_RECENT_BARS
    # a tick model's head keeps the wall clock: it reads no bar rows
    tick_expr = expr({"op": "tanh", "args": [{"col": "imb_1"}]})
    tick = TradingModel(1, "t", "BTCUSDT", tick_expr, Ledger("t", "BTCUSDT", D(1)),
                        head=live_head(challenger(5_000)))  # fmt: skip
    assert not tick.bar_clocked and bars_wanted(SPEC, [tick]) == base + DEFAULT_SUPPORT
    assert model_bars(SPEC, tick) == 0
    plain = TradingModel(2, "p", "BTCUSDT", expr(WINDOWED), Ledger("p", "BTCUSDT", D(1)))
    assert model_bars(SPEC, plain) == base + warmup(expr(WINDOWED))  # no head: no support
    assert MarketFeed(btc).want_bars(500) == 0 and MarketFeed(btc).depth == 0


def test_a_restart_seeds_enough_bars_to_adapt_at_once_on_researchs_rows(
    btc: Instrument, raw: Raw, research: ResearchTable
) -> None:
    """The engine's start: depth for its models, the seed, then the models warm up on it. The
    head adapts on the newest seeded bar on research's rows, and every `query` live bars after;
    the strategy's values equal research's from that bar on. Fewer bars (the old depth, or
    just support + 1 with cold features in the window) do not give research's rows."""
    win = research_window(research)
    support = DEFAULT_SUPPORT
    model = bar_model(support)
    feed = MarketFeed(btc, bars=SPEC)
    depth = feed.want_bars_for([model])
    assert seed_at(feed, raw, RESTART, depth) == depth == len(feed.recent_bars)
    feed.warm_up([model])
    head = model.head
    assert head is not None and head.adaptations == 1
    t = RESTART - 1  # the newest seeded bar
    assert_research_rows(head.sample, win, t, support)
    want = apply_np(adapt_np(head.head, win.rows(slice(t - support, t))), win.signal[t : t + 1],
                    win.features[t : t + 1])  # fmt: skip
    np.testing.assert_allclose(head.position, want[0], rtol=0, atol=1e-9)  # it trades at once
    signals = [model.last_signal]
    for k in range(RESTART, RESTART + 2 * QUERY):
        done = head.adaptations
        live(feed, raw, k, [model])
        signals.append(model.last_signal)
        if head.adaptations > done:
            assert (k - t) % QUERY == 0
            assert_research_rows(head.sample, win, k, support)
    assert head.adaptations == 3
    assert np.array_equal(signals, np.clip(win.signal[t : RESTART + 2 * QUERY], -1, 1))
    # the old depth (the features' warm-up only): no support window before the first live bar
    old = bar_model(support)
    short = MarketFeed(btc, bars=SPEC)
    seed_at(short, raw, RESTART, seed_bars_needed(SPEC))
    short.warm_up([old])
    assert old.head is not None and old.head.adaptations == 0
    # support + 1 bars: a window, but its oldest rows' h1 features are not warm yet
    cold = bar_model(support)
    again = MarketFeed(btc, bars=SPEC)
    seed_at(again, raw, RESTART, support + 1)
    again.warm_up([cold])
    assert cold.head is not None and cold.head.sample is not None
    assert np.isnan(cold.head.sample.features).any()  # h1_rv before its n returns


def test_a_model_wanting_more_raises_the_depth_for_the_next(
    btc: Instrument, raw: Raw, research: ResearchTable, caplog: pytest.LogCaptureFixture
) -> None:
    """A shadow admitted later whose head wants more bars than kept warms on what there is
    (its head adapts on live bars, a warning says so) and raises the depth: the next like it
    adapts at once on research's rows."""
    win = research_window(research)
    support = 600
    feed = MarketFeed(btc, bars=SPEC)
    for k in range(600):
        live(feed, raw, k, [])
    first = bar_model(support, "first")
    with caplog.at_level(logging.WARNING, logger="nexusforge.nexus.market_feed"):
        feed.warm_up([first])
    assert "wants" in caplog.text and first.head is not None and first.head.adaptations == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nexusforge.nexus.market_feed"):
        feed.warm_up([bar_model(100, "small")])  # all it wants was kept: no warning
    assert caplog.text == ""
    assert feed.depth == bars_wanted(SPEC, [first]) > len(feed.recent_bars)
    for k in range(600, BARS):
        live(feed, raw, k, [first])
    assert len(feed.recent_bars) == feed.depth
    second = bar_model(support, "second")
    feed.warm_up([second])
    assert second.head is not None and second.head.adaptations == 1
    assert_research_rows(second.head.sample, win, BARS - 1, support, seeded=False)


def test_a_later_model_wanting_more_than_kept_reads_rows_rebuilt_from_kept_candles(
    btc: Instrument, raw: Raw, research: ResearchTable, caplog: pytest.LogCaptureFixture
) -> None:
    """The feed keeps its default depth of rows but deeper candles: a shadow admitted later
    whose look-backs and head want more bars than the rows kept reads rows rebuilt from the
    candles by a fresh bar feed. Its head adapts at once on research's rows and its values
    equal research's from there, without the warning of a model that warms on live bars."""
    win = research_window(research)
    support = 600
    feed = MarketFeed(btc, bars=SPEC)
    for k in range(BARS):
        live(feed, raw, k, [])
    late = bar_model(support, "late")
    own = model_bars(SPEC, late)
    assert len(feed.recent_bars) == feed.depth < own <= len(feed.recent_candles) == BARS
    with caplog.at_level(logging.INFO, logger="nexusforge.nexus.market_feed"):
        feed.warm_up([late])
    assert f"{own} closed bars rebuilt from kept candles" in caplog.text
    assert "wants" not in caplog.text
    head = late.head
    assert head is not None and head.adaptations == 1
    assert_research_rows(head.sample, win, BARS - 1, support)
    assert late.last_signal == np.clip(win.signal[BARS - 1], -1, 1)
    assert feed.depth == own  # kept as rows from now on, for the next like it
    # the same candles' rows, rebuilt: equal to the live ones once the features are warm
    # (rv and vol_z are running sums begun at another bar: a value near 0 rounds 2e-12 apart)
    warm = min(own - seed_bars_needed(SPEC), len(feed.recent_bars))
    rebuilt, kept = list(feed.history(own))[-warm:], list(feed.recent_bars)[-warm:]
    assert [r.keys() for r in rebuilt] == [r.keys() for r in kept]
    cols = sorted(kept[0])
    got, want = (np.array([[r[c] for c in cols] for r in rows]) for rows in (rebuilt, kept))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def write_accepted(folder: Path, ch: Challenger) -> None:
    accepted = folder / "accepted"
    accepted.mkdir(parents=True)
    (accepted / "bars.json").write_text(artifact.dumps(ch))


def crew(folder: Path, btc: Instrument) -> PitCrew:
    return PitCrew(PitCrewConfig(folder, sample_s=1e9), btc, D(10_000), D(1))


def first_round(pit: PitCrew, feed: MarketFeed, btc: Instrument, price: str, now: float) -> None:
    """A decision round as `Engine._adapt` runs it: the crew's round, then the feed warms up
    the shadows (the round's tick row carries the newest bar's values and stamp)."""
    assert feed.bars is not None
    tick = {"imb_1": 0.1} | feed.bars.values
    pit.on_round(tick, OrderBook(float(btc.tick_size)), D(price), [], now_s=now)
    feed.warm_up(s.model for s in pit.shadows.values())


def test_a_resumed_shadow_warms_up_before_its_first_row(
    btc: Instrument, raw: Raw, research: ResearchTable, tmp_path: Path
) -> None:
    """A restart whose crew resumes at its first round: the shadow resumed there reads the
    feed's recent bars, not the round's row first. Its head adapts on the newest bar on
    research's rows, and its values equal those of a shadow that never stopped."""
    win = research_window(research)
    support = DEFAULT_SUPPORT
    write_accepted(tmp_path, challenger(support))
    never = bar_model(support, "never")  # read every bar since the first
    before = MarketFeed(btc, bars=SPEC)
    for k in range(RESTART):
        live(before, raw, k, [never])
    feed = MarketFeed(btc, bars=SPEC)  # the restarted engine's
    seed_at(feed, raw, RESTART, feed.depth)
    pit = crew(tmp_path, btc)
    first_round(pit, feed, btc, raw[RESTART - 1][4], 0.0)
    (shadow,) = pit.shadows.values()
    model, head = shadow.model, shadow.model.head
    assert head is not None and head.adaptations == 1
    t = RESTART - 1
    assert_research_rows(head.sample, win, t, support)
    signals, reference = [model.last_signal], [never.last_signal]
    for k in range(RESTART, RESTART + QUERY + 1):
        for row in feed.on_kline(KlineUpdate(TOPIC, [kline(raw[k])])):
            pit.on_row(row)
            never.signal(row)
        signals.append(model.last_signal)
        reference.append(never.last_signal)
        first_round(pit, feed, btc, raw[k][4], float(k))
    assert head.adaptations == 2
    assert_research_rows(head.sample, win, t + QUERY, support)
    assert signals == reference
    assert np.array_equal(signals, np.clip(win.signal[t : RESTART + QUERY + 1], -1, 1))


def test_the_engine_resumes_shadows_before_its_seed(
    btc: Instrument, raw: Raw, research: ResearchTable, tmp_path: Path
) -> None:
    """`Engine.start`: the crew resumes its shadows, the feed's depth covers their heads (a
    larger support than the default), the seed comes, and they warm up on it as the champions
    do: the head adapts on the newest seeded bar on research's rows."""
    win = research_window(research)
    support = 400
    write_accepted(tmp_path, challenger(support))
    pit = crew(tmp_path, btc)
    resumed = pit.resume(1)
    assert len(resumed) == 1 and pit.resume(1) == resumed  # once
    feed = MarketFeed(btc, bars=SPEC)
    depth = feed.want_bars_for(resumed)
    assert depth == bars_wanted(SPEC, resumed) > bars_wanted(SPEC, [])
    assert seed_at(feed, raw, RESTART, depth) == depth
    feed.warm_up(resumed)
    head = resumed[0].head
    assert head is not None and head.adaptations == 1
    assert_research_rows(head.sample, win, RESTART - 1, support)
    first_round(pit, feed, btc, raw[RESTART - 1][4], 0.0)  # the first round resumes nothing
    assert next(iter(pit.shadows.values())).model is resumed[0] and head.adaptations == 1


def venue_with_candles(ex: LocalExchange, raw: Raw, n: int, before: int = 0) -> None:
    """`n` closed 1 m candles on the venue (four prints each: open, high, low, close), ending
    `before` minutes before the current one; prices and volumes of the recorded candles."""
    minute = ex.venue.now_ms() // 60_000 * 60_000
    for i in range(n):
        start = minute - (before + n - i) * 60_000
        _, o, h, lo, c, v = raw[i % len(raw)]
        for j, price in enumerate((o, h, lo, c)):
            ex.venue.trades.add(SYMBOL, Print(start + 1 + j, D(price), D(v) / 4, "Buy",
                                              f"seed-{start}-{j}", start + j))  # fmt: skip


async def seed_from(port: int) -> tuple[MarketFeed, list[dict[str, float]]]:
    """A restarted engine's seed: the feed's depth for its default head, then `seed_bars`."""
    async with BybitRestClient(client_config(port), Credentials(KEY, SECRET)) as rest:
        await rest.sync_time()
        inst = (await rest.instruments(SYMBOL))[SYMBOL]
        feed = MarketFeed(inst, bars=BarSpec(60))
        rows = await feed.seed_bars(rest)
    return feed, rows


def test_the_rest_seed_pages_to_the_depth_or_takes_what_the_venue_has(
    shared_data: Path, raw: Raw, caplog: pytest.LogCaptureFixture
) -> None:
    """GET /v5/market/kline on the local exchange (loopback), 1 m bars: a venue with fewer
    closed bars than the depth seeds them all and says so (features and heads warm live); one
    with more is paged (1,000 a page) to at least the depth, the pages joined without a bar
    lost or twice."""
    depth = bars_wanted(BarSpec(60), [])
    assert depth > SEED_PAGE  # more than one page
    with LocalExchange(replace(exchange_config(shared_data), start_paused=True)) as ex:
        venue_with_candles(ex, raw, 700)
        with caplog.at_level(logging.INFO, logger="nexusforge.nexus.market_feed"):
            feed, rows = asyncio.run(seed_from(ex.port))
        assert len(rows) == len(feed.recent_bars) == 700 < feed.depth == depth
        assert f"the venue has 700 closed bars of the {depth} wanted" in caplog.text
        venue_with_candles(ex, raw, 2 * SEED_PAGE, before=700)  # older ones
        feed, rows = asyncio.run(seed_from(ex.port))
    assert len(rows) == 2 * SEED_PAGE and len(feed.recent_bars) == depth
    closes = np.array([r[BAR_CLOSE_TS] for r in rows])
    assert np.all(np.diff(closes) == 60e9)  # every minute once, oldest first
    assert feed.recent_bars[-1] == rows[-1]
