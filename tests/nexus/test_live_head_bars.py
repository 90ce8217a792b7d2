"""The MAML head of a bar-clocked model follows the model's confirmed bars, not the wall clock.

On the recorded Bybit 5 m BTCUSDT candles, a head meta-trained by Forge on the research table is
run live: candles arrive as closed klines through the engine's feed (`MarketFeed.on_kline`),
decision rounds come before and after each kline, and the model sizes by the head. Every
adaptation sample (signal, regime features, realised returns) and every position must equal
what research computes for the same bars (`meta_report.table_window` pairs bar t's signal and
features with log(close_{t+1} / close_t); `meta_tasks.walk_forward` adapts every `query` rows on
the `support` rows before). A kline that arrives after the wall-clock close, with rounds of the
next wall-clock bar before it, changes nothing; the wall clock would pair bar k's row with bar
k-1's signal. The model decides the head's clock (a saved clock never overrules it); several bars
read at once reach the head one by one; a new shadow's warm-up bars warm the head's history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from barsx import TOPIC, Raw, btc_instrument, expr, research_table, venue_candles

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.meta_tasks import walk_forward
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.bar_feed import BarSpec, candle_of
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.live_head import LiveHead, head_from_json, live_head
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.model import TradingModel
from nexusforge.nexus.venues.bybit import KlineUpdate
from nexusforge.nexus.venues.bybit.public_ws import WsKline
from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.head import Window, adapt_np, apply_np

torch = pytest.importorskip("torch")  # Forge side only: training the head that Nexus loads

D = Decimal
BARS = 700  # h1 features are warm after ~250 bars; the fit uses the first FIT rows
FIT = 400
SUPPORT, QUERY = 96, 24
FEATURES = ("h1_rv", "m15_ret")
BAR_NS = 300 * 10**9
FIVE_MINUTES = BarSpec(300)
GATE = {"status": "validated", "gate": {"passed": True, "failed": []}}
BAR_STRATEGY = {"op": "tanh", "args": [{"op": "ema", "args": [{"op": "mul", "args": [
    {"col": "m5_ret"}, {"const": 400.0}]}], "k": 5}]}  # fmt: skip
TICK_STRATEGY = {"op": "clip", "args": [{"col": "imb_1"}], "params": [-1.0, 1.0]}
# No window: its value at a bar is research's whatever bars the model read before.
NOW_STRATEGY = {
    "op": "tanh",
    "args": [{"op": "mul", "args": [{"col": "m5_ret"}, {"const": 400.0}]}],
}


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Instrument:
    return btc_instrument(shared_data)


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> Raw:
    return venue_candles(shared_data, BARS)


@pytest.fixture(scope="module")
def research(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ResearchTable:
    return research_table(shared_data, tmp_path_factory, BARS)


@pytest.fixture(scope="module")
def research_window(research: ResearchTable) -> Window:
    """Research's pairing of signal, features and next-bar return (what the head trains on)."""
    return research_rows(research, BAR_STRATEGY)


def research_rows(research: ResearchTable, strategy: Mapping[str, object]) -> Window:
    from nexusforge.forge.evolve.meta_report import table_window  # imports torch

    return table_window(research, expr(strategy), FEATURES)


@pytest.fixture(scope="module")
def challenger(research_window: Window) -> Challenger:
    """A bar challenger whose head Forge meta-trained on the first FIT research rows."""
    from nexusforge.forge.evolve.meta import meta_train
    from nexusforge.forge.evolve.meta_config import MetaConfig
    from nexusforge.forge.evolve.meta_head import to_json

    torch.set_num_threads(1)
    fit = research_window.rows(slice(0, FIT))
    cfg = MetaConfig(enabled=True, features=FEATURES, hidden=3, support=SUPPORT, query=QUERY,
                     iterations=8, meta_batch=4)  # fmt: skip
    head = meta_train(fit.signal, fit.features, fit.returns, cfg, 11, FEATURES)
    data = {"series": "bybit_linear:BTCUSDT:300s", "fingerprint": "test"}
    return Challenger(expr(BAR_STRATEGY), {"fitness": 1.0}, data, {}, GATE, to_json(head))


def kline(r: tuple[int, str, str, str, str, str]) -> WsKline:
    start, o, h, lo, c, v = r
    return WsKline(start, start + 299_999, "5", D(o), D(c), D(h), D(lo), D(v), None, True,  # type: ignore[arg-type]
                   start + 300_000)  # fmt: skip


@dataclass
class Live:
    """What the head did, bar by bar: its position once bar k's kline was read, and the
    support window of each adaptation (with the bar index it was taken at)."""

    positions: list[float]
    samples: list[tuple[int, Window]]
    targets: list[Decimal]


def run_live(
    btc: Instrument,
    raw: Raw,
    make_head: Callable[[Callable[[], int]], LiveHead],
    late: bool,
    spec: BarSpec = FIVE_MINUTES,
    wall: bool = False,
) -> Live:
    """The engine's order of events per bar: decision rounds inside the bar, then (late: more
    rounds of the next wall-clock bar first) the confirmed kline, read by the model as
    `Engine._signal` does, then a round. Round prices are not bar closes (the open). `wall`:
    the head stands beside the model on the wall clock (a model would make it follow its own)."""
    clock = [0]
    head = make_head(lambda: clock[0])
    model = TradingModel(0, "bars", "BTCUSDT", expr(BAR_STRATEGY), Ledger("bars", "BTCUSDT",
                         D(10_000)), head=None if wall else head)  # fmt: skip
    assert head.bar_clock is not wall
    feed = MarketFeed(btc, bars=spec)
    out = Live([], [], [])

    def note(done: int) -> None:  # an adaptation (at most one per bar here): its sample
        if head.adaptations > done:
            assert head.sample is not None
            out.samples.append((len(out.positions), head.sample))

    def round_at(t_ns: int, price: str) -> Decimal:
        clock[0] = t_ns
        done = head.adaptations
        tick = {"imb_1": 0.25} | feed.bars.values  # type: ignore[union-attr]
        target = model.target_position(tick, D(price), btc)
        if wall:
            head.on_round(model.last_signal, tick, float(price))  # tanh: the raw value
        note(done)
        return target

    for r in raw:
        close_ns = (r[0] + 300_000) * 1_000_000
        for before in (200 * 10**9, 1_000_000):  # inside the bar: the last bar's row holds
            round_at(close_ns - before, r[1])
        if late:  # the next wall-clock bar has begun; the venue's close is not in yet
            for after in (1_000_000, 2 * 10**9, 20 * 10**9):
                round_at(close_ns + after, r[1])
        done = head.adaptations
        for row in feed.on_kline(KlineUpdate(TOPIC, [kline(r)])):
            model.signal(row)  # the bar-clocked model hands the bar row to its head
        note(done)
        out.targets.append(round_at(close_ns + 25 * 10**9, r[1]))
        out.positions.append(head.position)
    return out


def bar_head(ch: Challenger) -> Callable[[Callable[[], int]], LiveHead]:
    def make(clock: Callable[[], int]) -> LiveHead:
        h = live_head(ch, clock_ns=clock)
        assert h is not None and not h.bar_clock  # until a model takes it
        return h

    return make


def test_samples_and_positions_equal_research_on_recorded_candles(
    btc: Instrument, raw: Raw, research_window: Window, challenger: Challenger
) -> None:
    live = run_live(btc, raw, bar_head(challenger), late=False)
    head = bar_head(challenger)(lambda: 0).head
    win = research_window
    starts = list(range(SUPPORT, BARS, QUERY))
    assert [k for k, _ in live.samples] == starts
    for t, sample in live.samples:
        want = win.rows(slice(t - SUPPORT, t))
        for got, exp in zip(
            (sample.signal, sample.features, sample.returns),
            (want.signal, want.features, want.returns),
            strict=True,
        ):
            assert np.array_equal(got, exp, equal_nan=True), t  # the same bits
        assert np.isfinite(sample.returns).all()
    research_pos = walk_forward(head, win, SUPPORT, QUERY)
    research_pos[:SUPPORT] = apply_np(head, win.signal[:SUPPORT], win.features[:SUPPORT])
    # Research applies a block of `query` rows at once, live one row: matrix products of
    # another shape may round the last bit differently (the samples above are bit-identical).
    np.testing.assert_allclose(live.positions, research_pos, rtol=0, atol=1e-12)
    assert np.any(np.abs(research_pos[SUPPORT:]) > 1e-3)  # the head does take positions
    adapted = walk_forward(head, win, SUPPORT, QUERY, adapt=False)[SUPPORT:]
    assert not np.allclose(adapted, research_pos[SUPPORT:], atol=1e-6)  # adaptation matters
    eq = D(10_000)
    sized = [btc.round_qty(abs(D(repr(p)) * eq / D(r[1])), Rounding.DOWN)
             for p, r in zip(live.positions, raw, strict=True)]  # fmt: skip
    assert [abs(t) for t in live.targets] == sized  # the model sizes by the head's position


def test_a_late_kline_does_not_shift_the_pairing(
    btc: Instrument, raw: Raw, research_window: Window, challenger: Challenger
) -> None:
    cut = raw[: SUPPORT + 2 * QUERY + 1]
    early = run_live(btc, cut, bar_head(challenger), late=False)
    late = run_live(btc, cut, bar_head(challenger), late=True)
    assert late.positions == early.positions and late.targets == early.targets
    assert [k for k, _ in late.samples] == [k for k, _ in early.samples] != []
    for (_, a), (_, b) in zip(late.samples, early.samples, strict=True):
        assert np.array_equal(a.signal, b.signal, equal_nan=True)
        assert np.array_equal(a.returns, b.returns)
    # The wall clock on the same events: row k closes at the last round inside bar k, before
    # bar k's kline, so it pairs bar k-1's signal with the return over bar k + 1.
    head = bar_head(challenger)(lambda: 0).head
    wall = run_live(btc, cut, lambda clock: LiveHead(head, BAR_NS, clock), late=True, wall=True)
    _, first = wall.samples[0]
    assert np.isnan(first.signal[0])  # no bar yet in the first wall-clock bar
    assert np.array_equal(first.signal[1:], research_window.signal[: SUPPORT - 1], equal_nan=True)
    assert not np.array_equal(first.signal, research_window.signal[:SUPPORT], equal_nan=True)


def test_without_ret_h1_the_base_return_stands_in(
    btc: Instrument, raw: Raw, research_window: Window, challenger: Challenger
) -> None:
    """An engine serving only ret_h4 (`engine.bar_horizons = [4]`): the realised return is the
    base bar's m5_ret, log(close / previous close), the same return to the last bits."""
    live = run_live(btc, raw[: SUPPORT + 1], bar_head(challenger), False, BarSpec(300, (4,)))
    ((t, sample),) = live.samples
    assert t == SUPPORT
    want = research_window.returns[:SUPPORT]
    assert np.isfinite(sample.returns).all()
    np.testing.assert_allclose(sample.returns, want, rtol=1e-9, atol=1e-15)
    assert np.array_equal(sample.signal, research_window.signal[:SUPPORT], equal_nan=True)


def bar_model(ch: Challenger, strategy: Mapping[str, object] = BAR_STRATEGY) -> TradingModel:
    """A bar challenger's model with a fresh head (as the Pit Crew starts a shadow)."""
    head = live_head(ch)
    assert head is not None
    model = TradingModel(0, "bars", "BTCUSDT", expr(strategy), Ledger("bars", "BTCUSDT", D(10_000)),
                         head=head)  # fmt: skip
    assert model.bar_clocked and head.bar_clock
    return model


def read(feed: MarketFeed, model: TradingModel, rs: Raw) -> None:
    """The candles `rs` in one kline message (several bars at once, as a gap fill hands them
    over): the model reads every bar row, as `Engine._signal` does."""
    for row in feed.on_kline(KlineUpdate(TOPIC, [kline(r) for r in rs])):
        model.signal(row)


def assert_research_rows(sample: Window | None, win: Window, t: int) -> None:
    """The adaptation sample taken at bar t is research's rows t - SUPPORT .. t - 1, same bits."""
    assert sample is not None
    want = win.rows(slice(t - SUPPORT, t))
    assert np.isfinite(sample.returns).all()
    for got, exp in zip((sample.signal, sample.features, sample.returns),
                        (want.signal, want.features, want.returns), strict=True):  # fmt: skip
        assert np.array_equal(got, exp, equal_nan=True), t


def test_bars_read_at_once_reach_the_head_one_by_one(
    btc: Instrument, raw: Raw, research_window: Window, challenger: Challenger
) -> None:
    """Five bars in one delivery (a gap fill, or klines queued behind it), one adaptation due
    inside them: the head read each bar in order, so it adapts on schedule on research's rows;
    candles that never came (a refused fetch) do break its history."""
    model = bar_model(challenger)
    head = model.head
    assert head is not None
    feed = MarketFeed(btc, bars=FIVE_MINUTES)
    group = SUPPORT + QUERY - 2  # bars group .. group + 4 arrive together; bar SUPPORT+QUERY adapts
    for k in range(group):
        read(feed, model, raw[k : k + 1])
    assert head.adaptations == 1
    assert_research_rows(head.sample, research_window, SUPPORT)
    read(feed, model, raw[group : group + 5])
    assert head.adaptations == 2
    assert_research_rows(head.sample, research_window, SUPPORT + QUERY)
    want = apply_np(adapt_np(head.head, research_window.rows(slice(QUERY, SUPPORT + QUERY))),
                    research_window.signal[group + 4 : group + 5],
                    research_window.features[group + 4 : group + 5])  # fmt: skip
    np.testing.assert_allclose(head.position, want[0], rtol=0, atol=1e-12)
    tick = {"imb_1": 0.0} | feed.bars.values  # type: ignore[union-attr]
    size = btc.round_qty(abs(D(repr(head.position)) * D(10_000) / D(raw[group + 4][4])),
                         Rounding.DOWN)  # fmt: skip
    assert abs(model.target_position(tick, D(raw[group + 4][4]), btc)) == size
    # Three candles missing for good: the bars after them come through, the history restarts.
    k = group + 5
    bars = feed.bars
    assert bars is not None
    for row in bars.on_candles([candle_of(*r, None) for r in raw[k + 3 : k + 4]]):
        model.signal(row)
    assert bars.stats.gaps == 1
    for r in raw[k + 4 : k + 3 + SUPPORT]:
        read(feed, model, [r])
    assert head.adaptations == 2  # SUPPORT rows since the break: the next one adapts ...
    read(feed, model, raw[k + 3 + SUPPORT : k + 4 + SUPPORT])
    assert head.adaptations == 3  # ... on the rows after the gap
    assert head.sample is not None
    assert np.isfinite(head.sample.returns).all()


def test_a_warmed_shadows_head_adapts_at_once_on_researchs_rows(
    btc: Instrument, raw: Raw, research: ResearchTable, challenger: Challenger
) -> None:
    """A shadow admitted after bar 400 reads the feed's recent closed bars (`MarketFeed.warm_up`):
    its head's history holds them, so it adapts on the newest one when more than `support` came
    before it, or at its first live bar with exactly `support` — on research's rows, bit for bit.
    A shadow without warm-up has no adaptation a full support window later than that."""
    win = research_rows(research, NOW_STRATEGY)
    feed = MarketFeed(btc, bars=FIVE_MINUTES)
    first = 400  # the first live bar
    for r in raw[:first]:
        feed.on_kline(KlineUpdate(TOPIC, [kline(r)]))
    recent = list(feed.recent_bars)
    assert len(recent) > SUPPORT + 1
    long, short, cold = (bar_model(challenger, NOW_STRATEGY) for _ in range(3))
    feed.warm_up([long])
    assert short.warm_up(recent[-SUPPORT:]) == SUPPORT
    lh, sh, ch = long.head, short.head, cold.head
    assert lh is not None and sh is not None and ch is not None
    assert lh.adaptations == 1 and sh.adaptations == 0  # the newest warm bar is first - 1
    assert_research_rows(lh.sample, win, first - 1)
    adapted = adapt_np(lh.head, win.rows(slice(first - 1 - SUPPORT, first - 1)))
    want = apply_np(adapted, win.signal[first - 1 : first], win.features[first - 1 : first])
    np.testing.assert_allclose(lh.position, want[0], rtol=0, atol=1e-12)  # it trades at once
    assert np.isfinite(sh.position)  # unadapted meta weights on the newest warm bar
    samples: dict[str, list[tuple[int, Window]]] = {"long": [], "short": []}
    for k in range(first, first + 2 * QUERY + 1):
        done = (lh.adaptations, sh.adaptations)
        for row in feed.on_kline(KlineUpdate(TOPIC, [kline(raw[k])])):
            for m in (long, short, cold):
                m.signal(row)
        for name, h, n in (("long", lh, done[0]), ("short", sh, done[1])):
            if h.adaptations > n:
                assert h.sample is not None
                samples[name].append((k, h.sample))
    assert [k for k, _ in samples["short"]] == [first, first + QUERY, first + 2 * QUERY]
    assert [k for k, _ in samples["long"]] == [first - 1 + QUERY, first - 1 + 2 * QUERY]
    for k, sample in samples["short"] + samples["long"]:
        assert_research_rows(sample, win, k)
    assert ch.adaptations == 0  # cold: its first adaptation waits for SUPPORT live bars
    assert long.warm_up(recent) == 0  # once only


def test_the_model_sets_the_heads_clock_and_a_restart_keeps_it(challenger: Challenger) -> None:
    bar = live_head(challenger)
    assert bar is not None and not bar.bar_clock  # no clock of its own before a model takes it
    model = TradingModel(0, "b", "BTCUSDT", challenger.expr, Ledger("b", "BTCUSDT", D(1)), head=bar)
    assert model.bar_clocked and bar.bar_clock
    tick_ch = Challenger(expr(TICK_STRATEGY), challenger.scores, challenger.data, {}, GATE,
                         challenger.head)  # fmt: skip
    tick = live_head(tick_ch)
    assert tick is not None
    tick_model = TradingModel(1, "t", "BTCUSDT", tick_ch.expr, Ledger("t", "BTCUSDT", D(1)),
                              head=tick)  # fmt: skip
    assert not tick_model.bar_clocked and not tick.bar_clock
    for h, strategy in ((bar, challenger.expr), (tick, tick_ch.expr)):
        again = head_from_json(h.to_json())  # a restart: the promoted head from the journal
        assert again.bar_clock == h.bar_clock and again.bar_ns == BAR_NS
        TradingModel(2, "r", "BTCUSDT", strategy, Ledger("r", "BTCUSDT", D(1)), head=again)
        assert again.bar_clock == h.bar_clock
    saved = bar.to_json()
    assert saved["clock"] == "bar"
    # A saved clock never overrules the model: an older save (no clock) or one that disagrees
    # takes the clock of the strategy it is attached to.
    for doc in ({k: v for k, v in saved.items() if k != "clock"}, saved | {"clock": "wall"}):
        restored = head_from_json(doc)
        TradingModel(3, "o", "BTCUSDT", challenger.expr, Ledger("o", "BTCUSDT", D(1)),
                     head=restored)  # fmt: skip
        assert restored.bar_clock
    with pytest.raises(ValueError, match="clock"):
        head_from_json(saved | {"clock": "tick"})
    # A head that already read bar rows cannot be moved to a tick model's wall clock.
    bar.on_bar(0.1, {"_bar_close_ts": 1.0, "h1_rv": 0.01, "m15_ret": 0.0})
    with pytest.raises(ConfigError, match="another clock"):
        TradingModel(4, "x", "BTCUSDT", tick_ch.expr, Ledger("x", "BTCUSDT", D(1)), head=bar)
