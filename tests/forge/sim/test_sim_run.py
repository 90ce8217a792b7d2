"""Simulator runs from Python: determinism, table consistency, the strategy's costs and impact."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nexusforge.errors import ExpressionError
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.run import AGENT_KINDS, FEATURE_COLUMNS, run_sim
from nexusforge.strategy.expr import Call, Col, Const

# A small market: a few minutes, a fifth of the default noise and informed population.
SMALL = {
    "duration_s": 300.0,
    "agents.noise.count": 200,
    "agents.informed.count": 20,
    "sampling.mid_interval_s": 5.0,
}


def small(**extra: object) -> SimConfig:
    return SimConfig.scenario("calm").with_overrides({**SMALL, **extra})


def test_same_seed_gives_the_same_event_stream_and_other_seeds_do_not() -> None:
    a, b, c = (run_sim(small(), seed=s) for s in (11, 11, 12))
    assert a.stats.messages > 5_000
    assert a.events.equals(b.events)
    assert a.trades.equals(b.trades)
    assert a.top.equals(b.top)
    assert not a.events.equals(c.events)
    assert not a.mids["fundamental"].equals(c.mids["fundamental"])


def test_tables_agree_with_each_other_and_the_config() -> None:
    cfg = small()
    r = run_sim(cfg, seed=4)
    assert r.trades.height == r.stats.trades
    events = r.events["event"].value_counts()
    counts = dict(zip(events["event"].to_list(), events["count"].to_list(), strict=True))
    assert counts["trade"] == r.stats.trades
    assert counts["accepted"] + counts.get("rejected", 0) >= r.stats.orders - r.stats.rejects
    assert r.mids.height == int(cfg.duration_s / 5.0) + 1
    assert r.top.height == int(cfg.duration_s) + 1
    assert r.l2.group_by("ts_ns", "side").len()["len"].max() <= 10
    kinds = dict(r.agents.group_by("kind").len().iter_rows())
    assert kinds == {"market_maker": 2, "hft": 5, "informed": 20, "noise": 200, "momentum": 12}
    assert set(kinds) <= set(AGENT_KINDS)
    # Every trade has a maker and a taker; positions net to zero, cash to minus fees.
    assert r.agents["position"].sum() == pytest.approx(0.0, abs=1e-9)
    fees = r.trades["maker_fee"].sum() + r.trades["taker_fee"].sum()
    assert r.agents["pnl"].sum() == pytest.approx(-fees, rel=1e-6)
    # Trade prices stay near the fundamental: the informed traders anchor the mid.
    gap = (r.mids["mid"] / r.mids["fundamental"]).log().abs().max()
    assert isinstance(gap, float) and gap < 0.01


def test_strategy_reads_the_documented_columns_and_keeps_an_exact_ledger() -> None:
    assert FEATURE_COLUMNS[:3] == ("mid", "spread_bps", "imbalance")
    r = run_sim(small(), seed=5, strategy=Col("imbalance"))
    s = r.strategy
    assert s is not None and s.fills > 0
    me = r.agents.filter(pl.col("kind") == "strategy")
    assert me.height == 1
    assert s.ledger["position"][-1] == pytest.approx(me["position"][0])
    assert s.fees == pytest.approx(me["fees"][0])
    assert s.pnl == pytest.approx(me["pnl"][0], rel=1e-9)
    assert s.traded_qty == pytest.approx(me["volume"][0])
    with pytest.raises(ExpressionError, match="nope"):
        run_sim(small(), seed=5, strategy=Col("nope"))


def _cost(expr: Call, seed: int, max_position: int) -> tuple[float, float]:
    cfg = small(**{"strategy.max_position_lots": max_position, "strategy.start_s": 60.0})
    s = run_sim(cfg, seed=seed, strategy=expr).strategy
    assert s is not None
    return s.cost, s.traded_qty


def test_a_strategy_that_trades_more_pays_more() -> None:
    flip_fast = Call("sign", (Col("ret_1"),))
    flip_slow = Call("sign", (Col("ret_60"),))
    for seed in (1, 2):
        fast, fast_qty = _cost(flip_fast, seed, 1000)
        slow, slow_qty = _cost(flip_slow, seed, 1000)
        smaller, smaller_qty = _cost(flip_fast, seed, 200)
        assert fast_qty > slow_qty and fast_qty > smaller_qty
        assert fast > slow > 0
        assert fast > smaller > 0


def _impact_bps(seed: int, lots: int) -> float:
    """Mid displacement (bps) when a buy of `lots` finishes, against the same seed without it."""
    cfg = small(
        **{
            "strategy.start_s": 120.0,
            "strategy.max_order_lots": 200,
            "strategy.max_position_lots": lots,
        }
    )
    base = run_sim(cfg, seed=seed, strategy=Const(0.0)).mids["mid"].to_numpy()
    mids = run_sim(cfg, seed=seed, strategy=Const(1.0)).mids["mid"].to_numpy()
    done = int(np.ceil((120.0 + lots / 200 + 1.0) / 5.0))
    return float(np.log(mids[done] / base[done]) * 1e4)


def test_a_larger_meta_order_moves_the_price_more() -> None:
    seeds = range(1, 5)
    small_order = np.mean([_impact_bps(s, 400) for s in seeds])
    large_order = np.mean([_impact_bps(s, 16_000) for s in seeds])
    assert large_order > small_order + 3.0
    assert large_order > 0
