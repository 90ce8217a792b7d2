"""The mechanisms behind the fidelity facts, each against the same market without it: meta-order
traders give order signs memory; a maker quoting around the reference keeps the mid on the
fundamental; its order-flow response makes a bought market move up, concavely in size; joining a
level in slices makes the touch often thin."""

from __future__ import annotations

import numpy as np
import polars as pl

from nexusforge.forge.sim import facts
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.run import SimResult, run_sim
from nexusforge.strategy.expr import Const

BASE = {
    "duration_s": 600.0,
    "agents.noise.count": 200,
    "agents.informed.count": 20,
    "sampling.top_interval_s": 0.5,
    "sampling.mid_interval_s": 5.0,
}
# A maker standing for the book: quotes around the fundamental, keeps any inventory.
ANCHORED = {
    "agents.market_maker.count": 1,
    "agents.market_maker.anchor_weight": 1.0,
    "agents.market_maker.max_inventory_lots": 10**9,
    "agents.market_maker.gamma": 0.005,
    "agents.market_maker.vol_mult": 0.0,
    "agents.market_maker.adverse_mult": 0.0,
}


def config(**extra: object) -> SimConfig:
    return SimConfig.scenario("calm").with_overrides({**BASE, **extra})


def taker_signs(run: SimResult, kind: str | None = None) -> np.ndarray:
    """Signs of taker orders (one per order, not per print), of one agent kind or all."""
    t = run.trades if kind is None else run.trades.filter(pl.col("taker_kind") == kind)
    t = t.sort("ts_ns", maintain_order=True)
    qty = t["qty"].to_numpy().astype(np.float64)
    sign, _ = facts.taker_orders(t["taker_order"].to_numpy(), t["taker_side"].to_numpy(), qty)
    return sign


def test_meta_order_traders_give_order_signs_a_long_memory() -> None:
    meta = {
        "agents.metaorder.count": 20,
        "agents.metaorder.rate": 0.05,
        "agents.metaorder.size_min_lots": 20.0,
        "agents.metaorder.child_lots": 20,
        "agents.metaorder.child_interval_s": 0.5,
    }
    run = run_sim(config(**ANCHORED, **meta), seed=3)
    assert run.agents["kind"].to_list().count("metaorder") == 20
    children = facts.autocorrelation(taker_signs(run, "metaorder"), 50)
    # Children of one parent share a side; Pareto parents keep the memory long.
    assert children[0] > 0.2 and children[49] > 0.03, children
    assert children[0] > children[9] > np.mean(children[40:50]), children
    # Without them the market's order signs forget sooner.
    alone = run_sim(config(**ANCHORED), seed=3)
    market, before = (facts.autocorrelation(taker_signs(r), 50) for r in (run, alone))
    assert market[49] > before[49] + 0.02, (market[49], before[49])


def test_an_anchored_maker_keeps_the_mid_on_the_fundamental() -> None:
    def gap_bps(cfg: SimConfig) -> float:
        m = run_sim(cfg, seed=5).mids
        mid, value = m["mid"].to_numpy(), m["fundamental"].to_numpy()
        return float(np.median(np.abs(np.log(mid / value))) * 1e4)

    anchored, free = gap_bps(config(**ANCHORED)), gap_bps(config())
    assert anchored < 1.0, anchored
    assert anchored < free, (anchored, free)


def _buy_impact_bps(lots: int, flow: float, seed: int) -> float:
    cfg = config(
        **ANCHORED,
        **{
            "agents.market_maker.flow_impact_ticks_per_lot": flow,
            "agents.market_maker.flow_size_exponent": 0.5,
            "strategy.start_s": 120.0,
            "strategy.max_order_lots": 100,
            "strategy.max_position_lots": lots,
        },
    )
    base = run_sim(cfg, seed=seed, strategy=Const(0.0)).mids["mid"].to_numpy()
    mids = run_sim(cfg, seed=seed, strategy=Const(1.0)).mids["mid"].to_numpy()
    done = int(np.ceil((120.0 + lots / 100 + 1.0) / 5.0))
    return float(np.log(mids[done] / base[done]) * 1e4)


def test_the_flow_response_makes_impact_concave_in_size() -> None:
    def mean_impact(lots: int, flow: float) -> float:
        return float(np.mean([_buy_impact_bps(lots, flow, seed) for seed in (1, 2, 3)]))

    small, large = mean_impact(1_000, 0.1), mean_impact(16_000, 0.1)
    # The flow response adds impact on top of what the other traders do ...
    assert small > mean_impact(1_000, 0.0) + 0.3
    assert 0 < small < large
    # ... and 16 times the size moves the price well under 16 times as much.
    assert large < 12 * small, (small, large)


def _touch_depth(cfg: SimConfig, seed: int) -> np.ndarray:
    top = run_sim(cfg, seed=seed).top.drop_nulls(["bid", "ask"])
    return 0.5 * (top["bid_qty"].to_numpy() + top["ask_qty"].to_numpy())


def test_joining_in_slices_leaves_the_touch_thin_after_it_moves() -> None:
    tight = {
        **ANCHORED,
        "duration_s": 300.0,
        "sampling.top_interval_s": 0.1,
        "market.tick_size": 0.5,
        "agents.market_maker.size_lots": 10_000,
        "agents.market_maker.min_requote_s": 0.01,
        "agents.market_maker.refresh_s": 0.1,
    }
    whole = _touch_depth(config(**tight), seed=2)
    sliced = _touch_depth(
        config(
            **tight,
            **{
                "agents.market_maker.join_slices": 5,
                "agents.market_maker.join_interval_s": 0.01,
            },
        ),
        seed=2,
    )
    lot = SimConfig.scenario("calm").lot_size
    # Posted whole, a fresh touch holds the maker's full size; in five slices it starts at a
    # fifth of it and the thin touches show in the lower quantiles.
    full = 10_000 * lot
    assert np.percentile(whole, 20) > 0.9 * full, np.percentile(whole, 20)
    assert np.percentile(sliced, 20) < 0.75 * full, np.percentile(sliced, 20)
    assert np.percentile(sliced, 1) < 0.25 * full, np.percentile(sliced, 1)
    # Once built, the level holds the same size as before.
    assert np.median(whole) == full
    assert abs(np.median(sliced) - full) < 0.02 * full, np.median(sliced)
