# mypy: disable-error-code="import-untyped"
"""Benchmark: GP batch throughput — N random expressions evaluated and backtested in one call.

Data: real Binance spot BTCUSDT 1m candles (`shared/data/history`, 188 k bars) TILED end to
end to at least `--bars` (default 1 M): log-returns are repeated so the close stays continuous,
the other features (volume, taker buy volume, trade count, range) are repeated as they are.
Expressions: `--exprs` (default 1,000) seeded random well-typed trees of depth <= 6, windows
<= 60 bars. Ours: `evaluate_batch` (Rust evaluation + backtest + metrics, all threads).
DEAP: `gp.compile` of the same trees over a primitive set mapping our primitives to numpy
(evaluation only, on `--deap-exprs` of them). vectorbt: `Portfolio.from_orders` with target
percent sizes on the targets of `--vbt-exprs` of them (backtest only). Rates are per
expression-bar (strategy-bar for vectorbt). Last line:
`RESULT backtest_bar_evals_per_s=<n> ratio_vs_deap_numpy=<a> ratio_vs_vectorbt=<b>`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

import nexusforge
from nexusforge.forge.backtest import BacktestConfig
from nexusforge.forge.backtest.batch import evaluate_batch
from nexusforge.strategy import evaluate
from nexusforge.strategy.expr import PRIMITIVES, Call, Col, Const, Expr, Primitive, Type, depth
from nexusforge.strategy.infix import to_infix

Arr = npt.NDArray[np.float64]
SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATA = SHARED / "data/history/binance_spot_BTCUSDT_1m_20260301_20260709.csv.gz"
NAMES = ("close", "volume", "taker_buy_volume", "trade_count", "range")
BARS_PER_YEAR = 365 * 24 * 60
CONFIG = BacktestConfig(tick_size=0.01, qty_step=1e-5, min_qty=1e-5, half_spread_bps=0.5)
EPS = 1e-12


def load(bars: int) -> dict[str, Arr]:
    """Real candles tiled to at least `bars` rows (close rebuilt from tiled log-returns)."""
    raw = pl.read_csv(DATA)
    close = raw["close"].to_numpy().astype(np.float64)
    reps = -(-bars // len(close))
    steps = np.tile(np.diff(np.log(close), prepend=np.log(close[0])), reps)
    steps[0] = np.log(close[0])
    cols = {"close": np.exp(np.cumsum(steps))}
    for name in ("volume", "taker_buy_volume", "trade_count"):
        cols[name] = np.tile(raw[name].to_numpy().astype(np.float64), reps)
    spread = (raw["high"] - raw["low"]).to_numpy().astype(np.float64)
    cols["range"] = np.tile(spread, reps)
    return cols


def random_expr(rng: random.Random, ret: Type, level: int, max_depth: int) -> Expr:
    """A seeded well-typed tree; leaves are columns or constants once the depth runs out."""
    if ret is Type.FLOAT and (level >= max_depth or (level > 1 and rng.random() < 0.25)):
        if rng.random() < 0.8:
            return Col(rng.choice(NAMES))
        return Const(round(rng.uniform(-2.0, 2.0), 3))
    room = max_depth - level
    options = [
        p
        for p in PRIMITIVES.values()
        if p.returns is ret and (room >= 2 or all(a is Type.FLOAT for a in p.args))
    ]
    p = rng.choice(options)
    args = tuple(random_expr(rng, a, level + 1, max_depth) for a in p.args)
    return Call(p.name, args, _k(rng, p), _params(rng, p))


def _k(rng: random.Random, p: Primitive) -> int | None:
    return rng.randint(p.int_min, 60) if p.int_param else None


def _params(rng: random.Random, p: Primitive) -> tuple[float, ...]:
    if not p.float_params:
        return ()
    lo = round(rng.uniform(-2.0, 0.0), 3)
    return (lo, round(lo + rng.uniform(0.1, 3.0), 3))


def expressions(n: int, seed: int) -> list[Expr]:
    rng = random.Random(seed)
    out = [random_expr(rng, Type.FLOAT, 1, 6) for _ in range(n)]
    assert all(depth(e) <= 6 for e in out)
    return out


# ---- DEAP + numpy twin (evaluation only) ----
ROWS = [0]  # row count of the run, for constant-only subtrees under a window op


def _arr(x: Arr | float) -> Arr:
    return np.full(ROWS[0], x) if np.ndim(x) == 0 else np.asarray(x)


def _win(x: Arr, k: int, f: Callable[[Arr], Arr]) -> Arr:
    x = _arr(x)
    out = np.full(len(x), np.nan)
    if len(x) >= k:
        out[k - 1 :] = f(np.lib.stride_tricks.sliding_window_view(x, k))
    return out


def _ema(x: Arr, span: int) -> Arr:
    """The registry's EMA: NaN inputs skipped (output NaN, state kept), NaN until `span` valid."""
    from scipy.signal import lfilter

    if np.ndim(x) == 0:  # the EMA of a constant is that constant once warm
        out = np.full(ROWS[0], float(x))
        out[: span - 1] = np.nan
        return out
    x = _arr(x)
    out = np.full(len(x), np.nan)
    ok = np.flatnonzero(~np.isnan(x))
    if len(ok) >= span:
        a = 2.0 / (span + 1.0)
        v = x[ok]
        y = lfilter([a], [1.0, a - 1.0], v, zi=[(1.0 - a) * v[0]])[0]
        y[: span - 1] = np.nan
        out[ok] = y
    return out


def _boolean(x: Arr, y: Arr, v: Arr) -> Arr:
    return np.where(np.isnan(x) | np.isnan(y), np.nan, v.astype(np.float64))


def _rank(w: Arr) -> Arr:
    last = w[:, -1:]
    rank = ((w < last).sum(axis=1) + ((w == last).sum(axis=1) + 1) / 2) / w.shape[1]
    # A window holding a NaN gives NaN (comparisons with NaN would just count as False).
    return np.where(np.isnan(w).any(axis=1), np.nan, rank)


def _flat(w: Arr) -> Arr:
    """Windows of one repeated value: the registry gives them their exact mean and std 0."""
    return np.asarray(w.max(axis=1) == w.min(axis=1))


def _mean(w: Arr) -> Arr:
    return np.where(_flat(w), w[:, -1], w.mean(axis=1))


def _std(w: Arr) -> Arr:
    return np.where(_flat(w), 0.0, w.std(axis=1))


def _zscore(w: Arr) -> Arr:
    s = _std(w)
    return np.where(s < EPS, 0.0, (w[:, -1] - _mean(w)) / np.where(s < EPS, 1.0, s))


NUMPY: dict[str, Callable[..., Arr]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": lambda x, y: np.where(
        np.isnan(x) | np.isnan(y), np.nan, np.where(np.abs(y) < EPS, 0.0, x / y)
    ),
    "neg": np.negative,
    "abs": np.abs,
    "sign": np.sign,
    "tanh": np.tanh,
    "clip": lambda x, lo, hi: np.clip(x, lo, hi),
    "gt": lambda x, y: _boolean(x, y, x > y),
    "lt": lambda x, y: _boolean(x, y, x < y),
    "ge": lambda x, y: _boolean(x, y, x >= y),
    "le": lambda x, y: _boolean(x, y, x <= y),
    "and": lambda x, y: _boolean(x, y, (x != 0) & (y != 0)),
    "or": lambda x, y: _boolean(x, y, (x != 0) | (y != 0)),
    "not": lambda x: _boolean(x, x, x == 0),
    "if": lambda c, t, e: np.where(np.isnan(c), np.nan, np.where(c != 0, t, e)),
    "lag": lambda x, k: np.concatenate([np.full(k, np.nan), _arr(x)[:-k]]),
    "mean": lambda x, k: _win(x, k, _mean),
    "std": lambda x, k: _win(x, k, _std),
    "zscore": lambda x, k: _win(x, k, _zscore),
    "min": lambda x, k: _win(x, k, lambda w: w.min(axis=1)),
    "max": lambda x, k: _win(x, k, lambda w: w.max(axis=1)),
    "rank": lambda x, k: _win(x, k, _rank),
    "ema": _ema,
}


class Window(int):
    """DEAP type of the integer window/lag/span terminals."""


class Bound(float):
    """DEAP type of clip's bound terminals."""


class Boolean(float):
    """DEAP type of Bool-valued subtrees (arrays of 1.0 / 0.0 / NaN)."""


def deap_pset() -> Any:
    from deap import gp

    pset = gp.PrimitiveSetTyped("nf", [float] * len(NAMES), float)
    pset.renameArguments(**{f"ARG{i}": n for i, n in enumerate(NAMES)})
    ty: dict[Type, type] = {Type.FLOAT: float, Type.BOOL: Boolean}
    for p in PRIMITIVES.values():
        ins: list[type] = [ty[a] for a in p.args]
        ins += [Window] if p.int_param else []
        ins += [Bound, Bound] if p.float_params else []
        pset.addPrimitive(NUMPY[p.name], ins, ty[p.returns], name=f"p_{p.name}")
    return pset


def to_deap(e: Expr, pset: Any) -> list[Any]:
    """Our tree as DEAP prefix nodes (primitive, then args, then window / bounds terminals)."""
    from deap import gp

    if isinstance(e, Col):
        return [next(t for t in pset.terminals[float] if t.value == e.name)]
    if isinstance(e, Const):
        return [gp.Terminal(float(e.value), False, float)]
    prim = next(p for ps in pset.primitives.values() for p in ps if p.name == f"p_{e.op}")
    nodes: list[Any] = [prim]
    for a in e.args:
        nodes += to_deap(a, pset)
    if e.k is not None:
        nodes.append(gp.Terminal(int(e.k), False, Window))
    nodes += [gp.Terminal(float(v), False, Bound) for v in e.params]
    return nodes


def run_deap(exprs: list[Expr], cols: dict[str, Arr]) -> tuple[float, list[Arr]]:
    from deap import gp

    pset = deap_pset()
    trees = [gp.PrimitiveTree(to_deap(e, pset)) for e in exprs]
    args = [cols[n] for n in NAMES]
    ROWS[0] = len(args[0])
    outs = []
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        for tree in trees:
            f = gp.compile(tree, pset)
            y = f(*args)
            outs.append(np.clip(np.broadcast_to(y, (len(args[0]),)), -1.0, 1.0))
    return time.perf_counter() - t0, outs


# Rows allowed to differ beyond 1e-6 per expression: where a rank, sign or comparison sits on
# a tie that the two implementations round differently (rolling sums vs numpy's two passes).
TIE_ROWS = 1e-3


def check_twin(exprs: list[Expr], cols: dict[str, Arr], twin: list[Arr]) -> tuple[list[str], int]:
    """(expressions where the twin disagrees with ours, expressions with tie-level rows).

    Agreement: NaN in the same rows, and values within 1e-6 relative except on at most
    `TIE_ROWS` of the rows.
    """
    bad, tied = [], 0
    for e, theirs in zip(exprs, twin, strict=True):
        ours = evaluate(e, cols)
        close = np.isclose(ours, theirs, rtol=1e-6, atol=1e-9, equal_nan=True)
        same_nan = np.array_equal(np.isnan(ours), np.isnan(theirs))
        off = int((~close).sum())
        tied += off > 0
        if not same_nan or off > TIE_ROWS * len(ours):
            bad.append(f"{to_infix(e)} ({off} rows differ, NaN rows same: {same_nan})")
    return bad, tied


# ---- vectorbt (backtest only) ----
def run_vectorbt(targets: list[Arr], close: Arr) -> float:
    import pandas as pd
    import vectorbt as vbt

    price = pd.Series(close)
    fee = 5.5e-4  # Bybit VIP0 taker, the default cost model's fee

    def one(t: Arr, p: pd.Series) -> None:
        size = pd.Series(np.roll(t, 1), index=p.index)  # latency 1: decide at t, trade at t+1
        size.iloc[0] = np.nan
        pf = vbt.Portfolio.from_orders(
            p, size=size, size_type="targetpercent", fees=fee, init_cash=CONFIG.initial_capital
        )
        pf.total_return()
        pf.sharpe_ratio(freq="1min")

    one(targets[0][:1000], price.iloc[:1000])  # numba compilation outside the timing
    t0 = time.perf_counter()
    for t in targets:
        one(t, price)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--exprs", type=int, default=1000)
    ap.add_argument("--deap-exprs", type=int, default=40)
    ap.add_argument("--vbt-exprs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    import deap
    import vectorbt

    cols = load(a.bars)
    n = len(cols["close"])
    exprs = expressions(a.exprs, a.seed)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}")
    print(
        f"python {sys.version.split()[0]} numpy {np.__version__} "
        f"nexusforge {nexusforge.__version__}"
    )
    print(f"deap {deap.__version__} vectorbt {vectorbt.__version__} polars {pl.__version__}")
    print(f"data: {DATA.name} (188k real 1m bars) tiled to {n:,} bars; columns {NAMES}")
    print(
        f"expressions: {len(exprs)} seeded (seed {a.seed}) random trees, depth <= 6, windows <= 60"
    )

    load_before = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    metrics = evaluate_batch(
        exprs, cols, cols["close"], bars_per_year=BARS_PER_YEAR, config=CONFIG, threads=a.threads
    )
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    ours_rate = len(exprs) * n / ours_s
    traded = sum(m.trades > 0 for m in metrics)
    print(
        f"ours  evaluate_batch (eval+backtest+metrics, {a.threads} threads): {ours_s:.2f} s, "
        f"{ours_rate:,.0f} expr-bars/s; {traded}/{len(exprs)} expressions trade"
    )
    # On a shared machine the wall rate reflects the other load too; CPU seconds do not.
    print(
        f"ours  CPU time {ours_cpu:.2f} s -> {len(exprs) * n / ours_cpu:,.0f} expr-bars per "
        f"CPU-second (x{a.threads} threads = {a.threads * len(exprs) * n / ours_cpu:,.0f}/s "
        f"if the cores were ours); load average before the run {load_before:.1f}"
    )

    sub = exprs[: a.deap_exprs]
    deap_s, deap_out = run_deap(sub, cols)
    deap_rate = len(sub) * n / deap_s
    disagree, tied = check_twin(sub, cols, deap_out)
    print(
        f"DEAP gp.compile + numpy (eval only, {len(sub)} exprs, 1 thread): {deap_s:.2f} s, "
        f"{deap_rate:,.0f} expr-bars/s; agrees with ours on {len(sub) - len(disagree)}/{len(sub)}"
        f" ({tied} with rounding-level ties on <= {TIE_ROWS:.1%} of rows)"
    )
    assert not disagree, f"DEAP twin disagrees with ours on {disagree}"

    chosen = [i for i, m in enumerate(metrics) if m.trades > 10][: a.vbt_exprs]
    targets = [np.nan_to_num(evaluate(exprs[i], cols), nan=np.nan) for i in chosen]
    vbt_s = run_vectorbt(targets, cols["close"])
    vbt_rate = len(targets) * n / vbt_s
    print(
        f"vectorbt Portfolio.from_orders (backtest only, {len(targets)} strategies): "
        f"{vbt_s:.2f} s, {vbt_rate:,.0f} strategy-bars/s"
    )
    print(
        f"RESULT backtest_bar_evals_per_s={ours_rate:.0f} "
        f"ratio_vs_deap_numpy={ours_rate / deap_rate:.2f} "
        f"ratio_vs_vectorbt={ours_rate / vbt_rate:.2f}"
    )


if __name__ == "__main__":
    main()
