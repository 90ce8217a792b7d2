"""Run the agent-based market simulator and get its tables as polars frames.

Prices are in quote currency and quantities in base units (ticks × tick_size, lots × lot_size);
times are `ts_ns`, simulated nanoseconds since the start. Sides are +1 buy / −1 sell (a trade's
side is its taker's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nexusforge._core import CoreInputError, ExprProgram, sim_codes, sim_run
from nexusforge.errors import ConfigError, ExpressionError
from nexusforge.forge.sim.config import SimConfig
from nexusforge.strategy import Expr
from nexusforge.strategy.vector import Compiled, compile_expr

_COLUMNS, _KINDS, _EVENT_KINDS, _REASONS = sim_codes()
# What a strategy expression may read, in order (see `rust/src/sim/agents/strategy.rs`):
# mid, spread_bps, imbalance, ret_1, ret_10, ret_60 (log returns over 1/10/60 decisions),
# vol (bps per √s), volume and signed_volume (taker lots since the last decision), position.
FEATURE_COLUMNS: tuple[str, ...] = tuple(_COLUMNS)
AGENT_KINDS: tuple[str, ...] = tuple(_KINDS)
Codes = np.ndarray[Any, np.dtype[np.integer[Any]]]


@dataclass(frozen=True, slots=True)
class SimStats:
    """What the exchange processed; messages = orders + cancels + trades."""

    orders: int
    cancels: int
    trades: int
    rejects: int
    messages: int
    wakeups: int
    md_deliveries: int
    fundamental_jumps: int


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """The strategy under test: one row per decision (and the final mark) and its totals.

    `slippage` is what its fills cost against the mid each decision saw (> 0 is a cost);
    trading cost = fees + slippage."""

    ledger: pl.DataFrame
    pnl: float
    fees: float
    slippage: float
    fills: int
    maker_fills: int
    orders: int
    traded_qty: float

    @property
    def cost(self) -> float:
        """Fees plus slippage against the decision mid (quote currency)."""
        return self.fees + self.slippage


@dataclass(frozen=True, slots=True)
class SimResult:
    """Everything one run produced."""

    config: SimConfig
    events: pl.DataFrame
    trades: pl.DataFrame
    top: pl.DataFrame
    l2: pl.DataFrame
    mids: pl.DataFrame
    agents: pl.DataFrame
    strategy: StrategyResult | None
    stats: SimStats


def compile_strategy(expression: Expr | Compiled) -> ExprProgram:
    """Compiles an expression over the simulator's feature columns."""
    compiled = expression if isinstance(expression, Compiled) else None
    if compiled is None or compiled.columns != FEATURE_COLUMNS:
        e = expression.expr if isinstance(expression, Compiled) else expression
        compiled = compile_expr(e, FEATURE_COLUMNS)
    return compiled.program


def run_sim(
    config: SimConfig | None = None,
    seed: int | None = None,
    strategy: Expr | Compiled | ExprProgram | None = None,
) -> SimResult:
    """Runs `config` (default: the calm scenario), with `seed` replacing its seed when given
    and `strategy` trading in the market when given; the Rust run releases the GIL."""
    cfg = config if config is not None else SimConfig.scenario()
    if seed is not None:
        cfg = cfg.with_overrides({"seed": seed})
    program = strategy if isinstance(strategy, ExprProgram) or strategy is None else None
    if strategy is not None and program is None:
        program = compile_strategy(strategy)  # type: ignore[arg-type]
    try:
        raw = sim_run(cfg.json, program)
    except CoreInputError as exc:
        message = str(exc).removeprefix("invalid input: ")
        if "strategy program" in message:
            raise ExpressionError(message) from None
        raise ConfigError(message) from None
    return _result(cfg, raw)


def _result(cfg: SimConfig, raw: dict[str, Any]) -> SimResult:
    tick, lot = cfg.tick_size, cfg.lot_size
    kinds = raw["agents"]["kind"]
    return SimResult(
        config=cfg,
        events=_events(raw["events"], kinds, tick, lot),
        trades=_trades(raw["trades"], kinds, tick, lot),
        top=_top(raw["top"], tick, lot),
        l2=_l2(raw["l2"], tick, lot),
        mids=pl.DataFrame(
            {
                "ts_ns": raw["mids"]["ts"],
                "mid": raw["mids"]["mid"] * tick,
                "fundamental": raw["mids"]["fundamental"],
            }
        ),
        agents=_agents(raw["agents"], raw["stats"]["final_mid"] * tick, lot),
        strategy=_strategy(raw.get("strategy"), lot),
        stats=SimStats(**{k: int(raw["stats"][k]) for k in SimStats.__dataclass_fields__}),
    )


def _names(codes: Codes, names: list[str]) -> pl.Series:
    return pl.Series(np.asarray(names, dtype=object)[codes.astype(np.int64)], dtype=pl.Utf8)


def _events(
    e: dict[str, Any], kinds: np.ndarray[Any, Any], tick: float, lot: float
) -> pl.DataFrame:
    price = np.where(e["price"] < 0, np.nan, e["price"] * tick)
    return pl.DataFrame(
        {
            "ts_ns": e["ts"],
            "event": _names(e["kind"], _EVENT_KINDS),
            "agent": e["agent"],
            "agent_kind": _names(kinds[e["agent"]], _KINDS),
            "order_id": e["order"],
            "side": e["side"],
            "price": price,
            "qty": e["qty"] * lot,
            "reason": _names(e["reason"], _REASONS),
        }
    ).with_columns(pl.col("price").fill_nan(None))


def _trades(
    t: dict[str, Any], kinds: np.ndarray[Any, Any], tick: float, lot: float
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_ns": t["ts"],
            "price": t["price"] * tick,
            "qty": t["qty"] * lot,
            "taker_side": t["taker_side"],
            "maker_agent": t["maker_agent"],
            "taker_agent": t["taker_agent"],
            "maker_kind": _names(kinds[t["maker_agent"]], _KINDS),
            "taker_kind": _names(kinds[t["taker_agent"]], _KINDS),
            "maker_order": t["maker_order"],
            "taker_order": t["taker_order"],
            "maker_fee": t["maker_fee"],
            "taker_fee": t["taker_fee"],
        }
    )


def _top(t: dict[str, Any], tick: float, lot: float) -> pl.DataFrame:
    two_sided = (t["bid_qty"] > 0) & (t["ask_qty"] > 0)
    bid = np.where(t["bid_qty"] > 0, t["bid"] * tick, np.nan)
    ask = np.where(t["ask_qty"] > 0, t["ask"] * tick, np.nan)
    return pl.DataFrame(
        {
            "ts_ns": t["ts"],
            "bid": bid,
            "bid_qty": t["bid_qty"] * lot,
            "ask": ask,
            "ask_qty": t["ask_qty"] * lot,
            "mid": np.where(two_sided, 0.5 * (bid + ask), np.nan),
            "spread": np.where(two_sided, ask - bid, np.nan),
            "last_trade": t["last_trade"] * tick,
            "fundamental": t["fundamental"],
        }
    ).with_columns(pl.col("bid", "ask", "mid", "spread").fill_nan(None))


def _l2(t: dict[str, Any], tick: float, lot: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_ns": t["ts"],
            "side": t["side"],
            "level": t["level"],
            "price": t["price"] * tick,
            "qty": t["qty"] * lot,
        }
    )


def _agents(a: dict[str, Any], final_mid: float, lot: float) -> pl.DataFrame:
    position = a["position"] * lot
    return pl.DataFrame(
        {
            "agent": np.arange(len(a["kind"]), dtype=np.uint32),
            "kind": _names(a["kind"], _KINDS),
            "position": position,
            "cash": a["cash"],
            "fees": a["fees"],
            "pnl": a["cash"] + position * final_mid - a["fees"],
            "volume": a["volume"] * lot,
            "order_latency_ns": a["order_latency_ns"],
            "md_latency_ns": a["md_latency_ns"],
        }
    )


def _strategy(s: dict[str, Any] | None, lot: float) -> StrategyResult | None:
    if s is None:
        return None
    ledger = pl.DataFrame(
        {
            "ts_ns": s["ts"],
            "target": s["target"],
            "position": s["position"] * lot,
            "mid": s["mid"],
            "cash": s["cash"],
            "fees": s["fees"],
            "slippage": s["slippage"],
            "equity": s["equity"],
        }
    )
    return StrategyResult(
        ledger=ledger,
        pnl=float(s["equity"][-1]),
        fees=float(s["fees"][-1]),
        slippage=float(s["slippage"][-1]),
        fills=int(s["fills"]),
        maker_fills=int(s["maker_fills"]),
        orders=int(s["orders"]),
        traded_qty=int(s["traded_lots"]) * lot,
    )


def summary(result: SimResult, wall_s: float | None = None) -> dict[str, Any]:
    """The headline numbers of a run (JSON-ready): counts, prices, spread, strategy PnL."""
    top = result.top.drop_nulls("spread")
    mids = result.mids["mid"]
    out: dict[str, Any] = {
        "seed": result.config.seed,
        "duration_s": result.config.duration_s,
        **{k: getattr(result.stats, k) for k in SimStats.__dataclass_fields__},
        "mid_first": float(mids[0]),
        "mid_last": float(mids[-1]),
        "spread_median": float(top["spread"].median()) if top.height else None,  # type: ignore[arg-type]
        "agents": result.agents.height,
    }
    if wall_s is not None:
        out["wall_s"] = wall_s
        out["messages_per_s"] = result.stats.messages / wall_s if wall_s > 0 else None
    if result.strategy is not None:
        s = result.strategy
        out["strategy"] = {
            "pnl": s.pnl,
            "fees": s.fees,
            "slippage": s.slippage,
            "fills": s.fills,
            "traded_qty": s.traded_qty,
        }
    return out


def write_result(result: SimResult, out: Path, manifest: Mapping[str, Any]) -> list[Path]:
    """Writes every table as parquet under `out`, and `manifest.json` (config, seed, versions)."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "events": result.events,
        "trades": result.trades,
        "top": result.top,
        "l2": result.l2,
        "mids": result.mids,
        "agents": result.agents,
    }
    if result.strategy is not None:
        tables["strategy"] = result.strategy.ledger
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.parquet"
        frame.write_parquet(path)
        written.append(path)
    path = out / "manifest.json"
    body = {**manifest, "config": result.config.to_dict()}
    path.write_text(json.dumps(body, indent=2, sort_keys=True), encoding="utf-8")
    return [*written, path]
