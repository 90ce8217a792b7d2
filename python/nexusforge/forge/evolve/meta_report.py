"""Out-of-sample test of the MAML head against its baselines, on a planted regime-switching
series (the signal's edge flips sign between regimes) and on real history.

Every head is fitted on rows before `split` only and used walk-forward on the rows after it:
`maml_adapted` (meta weights, adapted on the last `support` rows every `query` rows),
`maml_unadapted` (meta weights as they are), `pooled` (the same head fitted once on all
training rows), `pooled_adapted` (that head with the same adaptation steps), `scratch_adapted`
(untrained head, same adaptation), `signal` (the expression's own position) and `buy_hold`.

    python -m nexusforge.forge.evolve.meta_report [--data STORE] [--symbol BTCUSDT] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nexusforge.forge.evolve.meta import initial_head, meta_train, train_pooled
from nexusforge.forge.evolve.meta_config import MetaConfig
from nexusforge.forge.evolve.meta_head import Array, MetaHead, Window
from nexusforge.forge.evolve.meta_tasks import Figures, figures, walk_forward
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.strategy import codec, evaluate
from nexusforge.strategy.expr import Expr

BARS_PER_YEAR_5M = 365 * 24 * 12.0
# A simple hourly momentum position: tanh of the 15 m return's z-score over 8 hours.
MOMENTUM = '{"schema": 1, "expr": {"op": "tanh", "args": [{"op": "zscore", "args": [{"col": "m15_ret"}], "k": 96}]}}'  # noqa: E501


@dataclass(frozen=True)
class Comparison:
    """Each way's out-of-sample figures on rows [split, rows), and the MAML head."""

    head: MetaHead
    split: int
    rows: int
    figures: dict[str, Figures]


def regime_switching(seed: int, rows: int = 12_000, edge: float = 0.5) -> Window:
    """A persistent signal in [-1, 1] whose next-bar return loading is +edge or -edge (in units
    of the 10 bp noise) in alternating regimes of 400..1200 bars; one regime input, the
    trailing 48-bar volatility of past returns, carries nothing about the sign."""
    rng = np.random.default_rng(seed)
    z = np.zeros(rows)
    for t in range(1, rows):
        z[t] = 0.97 * z[t - 1] + math.sqrt(1 - 0.97**2) * rng.standard_normal()
    sig = np.tanh(z)
    regime, t, sign = np.empty(rows), 0, 1.0
    while t < rows:
        n = int(rng.integers(400, 1200))
        regime[t : t + n], t, sign = sign, t + n, -sign
    ret = 1e-3 * (edge * regime * sig / sig.std() + rng.standard_normal(rows))
    past = np.concatenate([[np.nan], ret[:-1]])  # ret[t] is realised at t + 1: features lag it
    vol = np.full(rows, np.nan)
    for i in range(3, rows):
        vol[i] = np.std(past[max(1, i - 48) : i + 1])
    return Window(sig, vol[:, None], ret)


def table_window(table: ResearchTable, expr: Expr, names: tuple[str, ...]) -> Window:
    """An expression's signal, regime features and next-bar log-returns over a research table."""
    sig = evaluate(expr, table.frame.select(table.features))
    feats = table.frame.select(names).to_numpy().astype(np.float64)
    logp = np.log(table.close)
    ret = np.append(np.diff(logp), np.nan)  # ret[t] = log(close_{t+1} / close_t)
    return Window(np.asarray(sig, np.float64), feats, ret)


def compare(data: Window, split: int, cfg: MetaConfig, seed: int, bars_per_year: float,
            names: tuple[str, ...] | None = None) -> Comparison:  # fmt: skip
    """Fit on rows < split, walk forward on the rest, figures per way."""
    tr = data.rows(slice(0, split))
    args = (tr.signal, tr.features, tr.returns, cfg, seed, names)
    meta, pooled, scratch = meta_train(*args), train_pooled(*args), initial_head(*args)
    q = cfg.query
    own = np.where(np.arange(data.signal.size) >= split, np.nan_to_num(data.signal), 0.0)
    pos: dict[str, Array] = {
        "maml_adapted": walk_forward(meta, data, split, q),
        "maml_unadapted": walk_forward(meta, data, split, q, adapt=False),
        "pooled": walk_forward(pooled, data, split, q, adapt=False),
        "pooled_adapted": walk_forward(pooled, data, split, q),
        "scratch_adapted": walk_forward(scratch, data, split, q),
        "signal": own,
        "buy_hold": np.where(np.arange(data.signal.size) >= split, 1.0, 0.0),
    }
    fee, r = cfg.fee_bps * 1e-4, data.returns[split:]
    figs = {k: figures(p[split:], r, fee, bars_per_year) for k, p in pos.items()}
    return Comparison(meta, split, data.signal.size, figs)


def _table(title: str, c: Comparison) -> str:
    head = f"{'way':<16} {'bp/bar':>8} {'Sharpe':>8} {'total':>8} {'turn':>6} {'|pos|':>6}"
    rows = [f"{title} (out of sample: rows {c.split}..{c.rows})", head]
    for k, f in c.figures.items():
        rows.append(f"{k:<16} {f.mean_bps:8.3f} {f.sharpe:8.2f} {f.total_return:8.3f} "
                    f"{f.turnover:6.3f} {f.exposure:6.3f}")  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    """Print the planted and (with --data) real-history comparisons."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a store with bybit_linear BTCUSDT 5m bars")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--symbol", default="BTCUSDT")
    ap.add_argument("--rows", type=int, default=40_000, help="last rows of the real table")
    ap.add_argument("--first-order", action="store_true", help="FOMAML instead of second order")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    fo = a.first_order
    cfg = MetaConfig(support=192, query=48, iterations=150, meta_batch=8, first_order=fo)
    out = {"planted": compare(regime_switching(a.seed), 6000, cfg, a.seed, BARS_PER_YEAR_5M)}
    if a.data is not None:
        from nexusforge.forge.backtest.run import SeriesSpec
        from nexusforge.forge.evolve.table import load_research_table

        table = load_research_table(a.data, SeriesSpec("bybit_linear", a.symbol, 300))
        table = ResearchTable(table.frame.tail(a.rows), table.bars_per_year, table.horizon)
        cfg = MetaConfig(first_order=fo)  # the run's defaults
        win = table_window(table, codec.loads(MOMENTUM), cfg.features)
        out["real"] = compare(win, a.rows // 2, cfg, a.seed, table.bars_per_year, cfg.features)
    if a.json:
        print(json.dumps({k: {w: f.as_dict() for w, f in c.figures.items()}
                          for k, c in out.items()}, indent=1))  # fmt: skip
        return
    for k, c in out.items():
        print(_table(k, c), end="\n\n")


if __name__ == "__main__":
    main()
