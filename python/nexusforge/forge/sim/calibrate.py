"""Calibration: fit a few agent rates and sizes so the simulator's spread, top-of-book depth,
trade sizes and 1-minute volatility match the real data within stated tolerances.

The search is a seeded, bounded coordinate search in log space over short runs, with common
random numbers (every candidate runs on the same simulator seeds) so that two candidates differ
by their parameters, not by luck. It changes only the parameters it lists and never touches
agent logic.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from nexusforge.errors import ConfigError
from nexusforge.forge.sim import facts, real
from nexusforge.forge.sim.facts import FloatArray


@dataclass(frozen=True)
class Targets:
    """Real-data samples and figures the simulator is fitted to, with their source files."""

    spread_ticks: FloatArray
    top_depth: FloatArray
    trade_qty: FloatArray
    vol_1m: float
    tick_size: float
    price: float
    sources: dict[str, str]


def load_targets(data_dir: Path, files: real.RealFiles | None = None) -> Targets:
    """Spread, depth, tick and price from Bybit BTCUSDT quote bars; volatility from the same
    day's 1-minute trade bars; trade sizes from the trade capture (the only per-trade record)."""
    f = files or real.RealFiles()
    spread, depth, tick = real.top_of_book(data_dir / f.quote_bars)
    quotes = real.read_table(data_dir / f.quote_bars, "quotes")
    qty, _ = real.trades(data_dir / f.capture)
    returns = real.minute_returns(data_dir / f.trade_bars)
    return Targets(
        spread_ticks=spread,
        top_depth=depth,
        trade_qty=qty,
        vol_1m=float(np.std(returns)),
        tick_size=tick,
        price=float(0.5 * (quotes["bid"][0] + quotes["ask"][0])),
        sources=target_sources(f),
    )


def target_sources(files: real.RealFiles | None = None) -> dict[str, str]:
    """The real-data file each target comes from (relative to the data folder)."""
    f = files or real.RealFiles()
    return {
        "spread_ticks": f.quote_bars,
        "top_depth": f.quote_bars,
        "tick_size": f.quote_bars,
        "trade_qty": f.capture,
        "vol_1m": f.trade_bars,
    }


@dataclass(frozen=True)
class CalibrationStats:
    """What one short simulation shows of the calibrated quantities."""

    spread_ticks: FloatArray
    top_depth: FloatArray
    trade_qty: FloatArray
    vol_1m: float


@dataclass(frozen=True)
class Criterion:
    """One matched quantity: how far the simulation is from the target, and the tolerance.

    The distance is the KS distance for the spread, |log(achieved / target)| for the rest, so
    the tolerances read: spread KS <= 0.1, depth within ±25 %, median and 90th-percentile
    trade size within a factor 1.5, 1-minute volatility within ±20 %.
    """

    name: str
    tolerance: float
    measure: Callable[[CalibrationStats, Targets], float]
    target: Callable[[Targets], float]
    achieved: Callable[[CalibrationStats], float]


def _log_ratio(a: float, b: float) -> float:
    return abs(math.log(a / b)) if a > 0 and b > 0 else math.inf


def _median(x: FloatArray) -> float:
    return float(np.median(x)) if len(x) else math.nan


def _p90(x: FloatArray) -> float:
    return float(np.percentile(x, 90)) if len(x) else math.nan


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "spread_ks", 0.1,
        lambda s, t: facts.ks_distance(s.spread_ticks, t.spread_ticks),
        lambda t: float(np.mean(t.spread_ticks)), lambda s: float(np.mean(s.spread_ticks)),
    ),
    Criterion(
        "depth_median", math.log(1.25),
        lambda s, t: _log_ratio(_median(s.top_depth), _median(t.top_depth)),
        lambda t: _median(t.top_depth), lambda s: _median(s.top_depth),
    ),
    Criterion(
        "size_median", math.log(1.5),
        lambda s, t: _log_ratio(_median(s.trade_qty), _median(t.trade_qty)),
        lambda t: _median(t.trade_qty), lambda s: _median(s.trade_qty),
    ),
    Criterion(
        "size_p90", math.log(1.5),
        lambda s, t: _log_ratio(_p90(s.trade_qty), _p90(t.trade_qty)),
        lambda t: _p90(t.trade_qty), lambda s: _p90(s.trade_qty),
    ),
    Criterion(
        "vol_1m", math.log(1.2),
        lambda s, t: _log_ratio(s.vol_1m, t.vol_1m),
        lambda t: t.vol_1m, lambda s: s.vol_1m,
    ),
)  # fmt: skip


def loss(stats: CalibrationStats, targets: Targets) -> float:
    """Sum over criteria of (distance / tolerance)²; every criterion met means each term ≤ 1."""
    total = 0.0
    for c in CRITERIA:
        d = c.measure(stats, targets)
        total += (d / c.tolerance) ** 2 if math.isfinite(d) else 1e6
    return total


@dataclass(frozen=True)
class Param:
    """A calibrated parameter: dotted config key, bounds, and whether it takes whole numbers."""

    key: str
    lo: float
    hi: float
    integer: bool = False
    # keys that always take the same value as `key`
    tied: tuple[str, ...] = ()

    def set(self, config: dict[str, Any], value: float | int) -> dict[str, Any]:
        """A copy of `config` with `key` and its tied keys set to `value`."""
        for key in (self.key, *self.tied):
            config = set_key(config, key, value)
        return config

    def clip(self, x: float) -> float | int:
        v = min(max(x, self.lo), self.hi)
        return round(v) if self.integer else v


def get_key(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"config has no key {key!r}")
        node = node[part]
    return node


def set_key(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of `config` with the dotted `key` set (the key must exist)."""
    get_key(config, key)
    out = _deep_copy(config)
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return out


def _deep_copy(config: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in config.items()}


@dataclass
class SearchLog:
    """Every evaluated candidate (parameter values and loss), in order."""

    evaluations: list[tuple[dict[str, float], float]] = field(default_factory=list)


def coordinate_search(
    objective: Callable[[dict[str, Any]], float],
    start: dict[str, Any],
    params: Sequence[Param],
    seed: int,
    budget: int,
    step: float = 0.5,
    log: SearchLog | None = None,
) -> tuple[dict[str, Any], float]:
    """Minimise `objective` over `params` by multiplicative steps e^(±step), halving the step
    after a round without improvement; params are visited in a seeded order; at most `budget`
    evaluations. Returns the best config and its loss."""
    if budget < 1:
        raise ConfigError(f"budget must be >= 1, got {budget}")
    rng = np.random.default_rng(seed)
    best = start
    best_loss = objective(best)
    used = 1
    _record(log, best, params, best_loss)
    while used < budget and step > 0.02:
        improved = False
        for index in rng.permutation(len(params)):
            p = params[int(index)]
            current = float(get_key(best, p.key))
            for direction in (1.0, -1.0):
                if used >= budget:
                    break
                value = p.clip(max(current, 1e-12) * math.exp(direction * step))
                if value == current:
                    continue
                candidate = p.set(best, value)
                cand_loss = objective(candidate)
                used += 1
                _record(log, candidate, params, cand_loss)
                if cand_loss < best_loss:
                    best, best_loss, improved = candidate, cand_loss, True
                    break
        if not improved:
            step /= 2
    return best, best_loss


def _record(
    log: SearchLog | None, config: dict[str, Any], params: Sequence[Param], v: float
) -> None:
    if log is not None:
        log.evaluations.append(({p.key: float(get_key(config, p.key)) for p in params}, v))


# ---- writing the calibrated config ----


def _toml_value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string uses the same escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, key) for v in value) + "]"
    raise ConfigError(f"{key}: cannot write a {type(value).__name__} to TOML")


def to_toml(config: dict[str, Any], comments: dict[str, str], header: Sequence[str] = ()) -> str:
    """Nested dicts of scalars as TOML; a key or table with a `comments` entry gets it above."""
    out = [f"# {h}" for h in header]
    _emit_table(out, config, "", comments)
    return "\n".join(out).strip() + "\n"


def _emit_table(out: list[str], table: dict[str, Any], path: str, comments: dict[str, str]) -> None:
    if path:
        out.append("")
        if path in comments:
            out.append(f"# {comments[path]}")
        out.append(f"[{path}]")
    for k, v in table.items():
        if isinstance(v, dict):
            continue
        dotted = f"{path}.{k}" if path else k
        if dotted in comments:
            out.append(f"# {comments[dotted]}")
        out.append(f"{k} = {_toml_value(v, dotted)}")
    for k, v in table.items():
        if isinstance(v, dict):
            _emit_table(out, v, f"{path}.{k}" if path else k, comments)


# ---- the search over simulator runs ----

# What the search moves, within these bounds (each chosen to drive one matched quantity).
CALIBRATED: tuple[Param, ...] = (
    Param("agents.market_maker.size_lots", 1, 1_000_000, integer=True),  # touch depth
    Param("agents.market_maker.min_half_spread_ticks", 0.5, 10.0),  # spread
    Param("agents.market_maker.vol_mult", 0.01, 5.0),  # spread widening with volatility
    Param("agents.market_maker.k", 0.05, 50.0),  # A-S order-arrival decay: spread
    Param("agents.noise.size_min_lots", 1.0, 100_000.0),  # median trade size
    # trade size tail: a fill is the smaller of taker and resting order, so its tail index is
    # about twice the orders'; without meta-orders the real tail (90th percentile 16x the
    # median) needs an order index near 0.5 (sizes are capped at max_size_lots anyway)
    Param("agents.noise.size_alpha", 0.2, 3.0),
    Param("agents.noise.max_size_lots", 100, 1_000_000, integer=True),  # tail vs touch depth
    # meta-order child size (with the smallest parent one child): the large-trade share
    Param(
        "agents.metaorder.child_lots",
        1,
        1_000_000,
        integer=True,
        tied=("agents.metaorder.size_min_lots",),
    ),
    Param("process.vol_per_day", 0.001, 0.3),  # 1-minute volatility
)
DESCRIPTIONS: dict[str, str] = {
    "scenario": "the built-in scenario these settings are laid over",
    "market.tick_size": "price grid step of the real instrument (Bybit BTCUSDT quote bars)",
    "process.initial_price": "first real mid price (Bybit BTCUSDT quote bars)",
    "agents.market_maker.size_lots": "maker size at the touch (lots): fitted to touch depth",
    "agents.market_maker.min_half_spread_ticks": "narrowest maker half spread: fitted to spread",
    "agents.market_maker.vol_mult": "maker half spread per unit of volatility: fitted to spread",
    "agents.market_maker.k": "Avellaneda-Stoikov order-arrival decay: fitted to spread",
    "agents.noise.size_min_lots": "Pareto minimum of noise order sizes: fitted to trade sizes",
    "agents.noise.size_alpha": "Pareto tail index of noise order sizes: fitted to the size tail",
    "agents.noise.max_size_lots": "cap of noise order sizes: keeps a heavy tail from emptying "
    "the touch",
    "agents.metaorder.child_lots": "meta-order child size (lots; the smallest parent is one "
    "child): fitted to the trade size tail",
    "agents.metaorder.size_min_lots": "smallest meta-order parent (lots): tied to the child size",
    "process.vol_per_day": "fundamental volatility per sqrt(day): fitted to 1-minute volatility",
}


@dataclass(frozen=True)
class CriterionRow:
    """Achieved vs target of one criterion, the distance between them and its tolerance."""

    name: str
    achieved: float
    target: float
    distance: float
    tolerance: float

    @property
    def within(self) -> bool:
        return self.distance <= self.tolerance


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted overrides, the loss, and achieved vs target per criterion."""

    overrides: dict[str, Any]
    loss: float
    rows: tuple[CriterionRow, ...]
    evaluations: int
    scenario: str = "calm"
    # keys copied from a base config file (shown in the TOML, not in the table)
    from_base: frozenset[str] = frozenset()

    @property
    def within_tolerance(self) -> bool:
        return all(row.within for row in self.rows)


def sim_stats(config: Any, seeds: Sequence[int]) -> CalibrationStats:
    """Pooled calibration statistics of short runs of `config` on `seeds`."""
    from nexusforge.forge.sim.run import run_sim

    spreads, depths, sizes, returns = [], [], [], []
    for seed in seeds:
        result = run_sim(config, seed)
        top = result.top.filter(pl.col("spread").is_not_null())
        spreads.append(np.round(top["spread"].to_numpy() / config.tick_size))
        depths.append(0.5 * (top["bid_qty"].to_numpy() + top["ask_qty"].to_numpy()))
        sizes.append(result.trades["qty"].to_numpy())
        mid = result.mids["mid"].to_numpy().astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.diff(np.log(mid))
        returns.append(r[np.isfinite(r)])
    pooled_r = np.concatenate(returns)
    return CalibrationStats(
        spread_ticks=np.concatenate(spreads),
        top_depth=np.concatenate(depths),
        trade_qty=np.concatenate(sizes),
        vol_1m=float(np.std(pooled_r)) if len(pooled_r) > 1 else math.nan,
    )


def report_rows(stats: CalibrationStats, targets: Targets) -> tuple[CriterionRow, ...]:
    """Achieved vs target for every criterion."""
    return tuple(
        CriterionRow(
            c.name, c.achieved(stats), c.target(targets), c.measure(stats, targets), c.tolerance
        )
        for c in CRITERIA
    )


# Quantities roughly proportional to one parameter each: one proportional rescale of these puts
# the search's start near the target (the search then handles the interactions).
PROPORTIONAL = (
    ("agents.market_maker.size_lots", "depth_median"),
    ("agents.noise.size_min_lots", "size_median"),
    ("process.vol_per_day", "vol_1m"),
)


# The spread of log trade sizes (log p90 / median) goes as 1 / tail index: the index is scaled
# by achieved / target spread.
TAIL_KEY = "agents.noise.size_alpha"
CHILD_KEY = "agents.metaorder.child_lots"


def _log_spread(qty: FloatArray) -> float:
    med, p90 = _median(qty), _p90(qty)
    return math.log(p90 / med) if med > 0 and p90 > med else math.nan


def rescaled_start(
    config: Any, targets: Targets, seeds: Sequence[int], passes: int = 2
) -> dict[str, Any]:
    """`config` with each proportional parameter scaled by target / achieved and the size tail
    index by the achieved / target log size spread, within bounds; `passes` rounds (the tail
    index moves the median, so the second round corrects the first)."""
    from nexusforge.forge.sim.config import SimConfig

    data: dict[str, Any] = config.to_dict()
    bounds = {p.key: p for p in CALIBRATED}
    criteria = {c.name: c for c in CRITERIA}
    if int(get_key(data, "agents.metaorder.count")) > 0:
        # institutions' children start at the real 90th-percentile trade: the share of
        # trades they make is what lifts the simulated tail to the real one
        child = bounds[CHILD_KEY].clip(_p90(targets.trade_qty) / config.lot_size)
        data = bounds[CHILD_KEY].set(data, child)
    for _ in range(passes):
        stats = sim_stats(SimConfig.from_dict(data), seeds)
        for key, name in PROPORTIONAL:
            a, t = criteria[name].achieved(stats), criteria[name].target(targets)
            if a > 0 and t > 0 and math.isfinite(a / t):
                data = set_key(data, key, bounds[key].clip(float(get_key(data, key)) * t / a))
        ratio = _log_spread(stats.trade_qty) / _log_spread(targets.trade_qty)
        if math.isfinite(ratio) and ratio > 0:
            alpha = bounds[TAIL_KEY].clip(float(get_key(data, TAIL_KEY)) * ratio)
            data = set_key(data, TAIL_KEY, alpha)
    return data


def calibrate(
    data_dir: Path,
    *,
    base: str = "calm",
    base_config: Path | None = None,
    duration_s: float = 1800.0,
    seeds: Sequence[int] = (1, 2),
    budget: int = 40,
    search_seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    targets: Targets | None = None,
) -> CalibrationResult:
    """Fit `CALIBRATED` on short runs of scenario `base`, or of the TOML `base_config` (laid
    over its own scenario), so the simulator matches the real data (`targets`: read from
    `data_dir` when not given)."""
    from nexusforge.forge.sim.config import SimConfig

    base, kept = _base_settings(base, base_config)
    targets = targets if targets is not None else load_targets(data_dir)
    fixed = {
        "duration_s": duration_s,
        "market.tick_size": targets.tick_size,
        "process.initial_price": targets.price,
        "sampling.top_interval_s": 1.0,
        "sampling.mid_interval_s": 60.0,
        "sampling.l2_levels": 0,
        "sampling.record_events": False,
    }
    start_config = SimConfig.from_dict(_nest(kept), base=base).with_overrides(fixed)
    start = rescaled_start(start_config, targets, seeds)
    count = 0

    def objective(candidate: dict[str, Any]) -> float:
        nonlocal count
        value = loss(sim_stats(SimConfig.from_dict(candidate, base=base), seeds), targets)
        count += 1
        if progress is not None:
            progress(count, value)
        return value

    best, best_loss = coordinate_search(objective, start, CALIBRATED, search_seed, budget)
    config = SimConfig.from_dict(best, base=base)
    overrides = {
        **kept,
        "market.tick_size": targets.tick_size,
        "process.initial_price": targets.price,
        **{key: get_key(best, key) for key in FITTED_KEYS},
    }
    rows = report_rows(sim_stats(config, seeds), targets)
    return CalibrationResult(overrides, best_loss, rows, count, base, frozenset(kept))


def _base_settings(scenario: str, path: Path | None) -> tuple[str, dict[str, Any]]:
    """The scenario the fit is laid over, and the dotted settings a base TOML file adds to it
    (none without a file). The file is validated by loading it."""
    if path is None:
        return scenario, {}
    from nexusforge.forge.sim.config import SimConfig

    SimConfig.from_toml(path)  # a bad file fails here, naming the file and the key
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    name = document.pop("scenario", scenario)
    return str(name), _flatten(document, "")


def _flatten(table: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        out.update(_flatten(v, key) if isinstance(v, dict) else {key: v})
    return out


def _nest(dotted: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in dotted.items():
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def calibrated_toml(
    result: CalibrationResult,
    base: str,
    sources: dict[str, str],
    base_config: Path | None = None,
) -> str:
    """The fitted overrides as a TOML file laid over scenario `base` (and the settings of
    `base_config`, copied in), every fitted key documented."""
    nested: dict[str, Any] = {"scenario": base, **_nest(result.overrides)}
    origin = [] if base_config is None else [f"Starts from the settings of {base_config}."]
    header = [
        "Simulator settings fitted to real data by `nexusforge sim calibrate`.",
        *origin,
        "Load with SimConfig.from_toml(path); unlisted keys keep the scenario's values.",
        *(f"target {k}: {v}" for k, v in sources.items()),
        *(
            f"{r.name}: achieved {r.achieved:.6g}, target {r.target:.6g}, distance "
            f"{r.distance:.3g} (tolerance {r.tolerance:.3g}) {'ok' if r.within else 'OUT'}"
            for r in result.rows
        ),
    ]
    return to_toml(nested, DESCRIPTIONS, header)


def calibration_table(result: CalibrationResult) -> Table:
    """Achieved vs target per criterion."""
    title = f"Calibration ({result.evaluations} candidates, loss {result.loss:.3g})"
    table = Table(title=title)
    for col in ("criterion", "achieved", "target", "distance", "tolerance", ""):
        table.add_column(col)
    for r in result.rows:
        mark = "[green]ok[/green]" if r.within else "[red]OUT[/red]"
        cells = (r.achieved, r.target, r.distance, r.tolerance)
        table.add_row(r.name, *(f"{v:.4g}" for v in cells), mark)
    return table


def values_table(result: CalibrationResult) -> Table:
    """The fitted values and the ones set from the real data (a base file's are in the TOML)."""
    table = Table(title="Calibrated settings")
    for col in ("key", "value", ""):
        table.add_column(col, no_wrap=True)
    for key, value in result.overrides.items():
        if key in result.from_base and key not in FITTED_KEYS:
            continue
        table.add_row(key, f"{value:.6g}", "fitted" if key in FITTED_KEYS else "set")
    return table


FITTED_KEYS: tuple[str, ...] = tuple(k for p in CALIBRATED for k in (p.key, *p.tied))


def run_calibration(
    out: Path,
    data_dir: Path | None,
    base: str,
    budget: int,
    duration_s: float,
    search_seed: int,
    console: Console,
    base_config: Path | None = None,
    seeds: int = 2,
) -> CalibrationResult:
    """`nexusforge sim calibrate`: fit, write the TOML atomically, print achieved vs target."""
    if seeds < 1:
        raise ConfigError(f"seeds must be >= 1, got {seeds}")
    data = data_dir if data_dir is not None else real.default_data_dir()
    with console.status("calibrating") as status:

        def step(count: int, value: float) -> None:
            status.update(f"candidate {count}/{budget}: loss {value:.3g}")

        result = calibrate(
            data, base=base, base_config=base_config, duration_s=duration_s, budget=budget,
            seeds=tuple(range(1, seeds + 1)), search_seed=search_seed, progress=step,
        )  # fmt: skip
    text = calibrated_toml(result, result.scenario, target_sources(), base_config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    console.print(calibration_table(result))
    console.print(values_table(result))
    console.print(f"config written to {out}")
    return result
