# mypy: disable-error-code="import-untyped"
"""Benchmark: what the adversarial half of the hybrid fitness costs, and what it changes.

Data: real Bybit linear BTCUSDT 5m 2025 candles and funding (`shared/data/history`) ingested
and turned into the research table (bar features + 15 m / 1 h MTFA, 105 k bars); the default
forge fitness (3 folds, train + test windows). `--individuals` random well-typed expressions
(default 1,000; the GP's own generator over every research feature, depth 2..5).

Measured in the same run:
- baseline: the causal fitness of all of them (Rust batch backtest of every train and test
  window, the forge's inline backend);
- the simulated markets of the default `[adversarial]` section (4 scenarios x 1 seed x two
  simulated days, 5 m bars from the sim's trades), built once per forge run;
- the adversarial scoring of all of them on those markets (net and gross batch backtests).
Also: what the adversarial score measures — its Spearman correlation with each expression's
mean daily turnover on history (over the expressions that trade) — and how many of the causal
top 50 stay in the hybrid (weight 0.25) top 50.
Last line: `RESULT adv_markets_s=<s> adv_score_s=<s> causal_s=<s> score_overhead=<fraction>`.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from nexusforge.data.ingest import ingest
from nexusforge.forge.backtest.run import SeriesSpec
from nexusforge.forge.evolve.fitness import (
    BUY_HOLD,
    SELECTION,
    FitnessConfig,
    WindowEvaluator,
    metric_index,
    scores,
)
from nexusforge.forge.evolve.hybrid import AdversarialConfig, Adversary
from nexusforge.forge.evolve.primitives import Term, build_pset, generate, to_expr
from nexusforge.forge.evolve.table import load_research_table
from nexusforge.strategy import codec

SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FILES = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")


def expressions(features: tuple[str, ...], n: int, seed: int) -> list[str]:
    """`n` distinct random expressions over the features (codec JSON)."""
    pset = build_pset([Term(f, 0) for f in features])
    rng, out = random.Random(seed), dict[str, None]()
    while len(out) < n:
        out[codec.dumps(to_expr(generate(pset, rng, 2, 5)))] = None
    return list(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--individuals", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        for name in FILES:
            ingest(SHARED / "data/history" / name, store)
        table = load_research_table(store, SeriesSpec("bybit_linear", "BTCUSDT", 300))
    fit = FitnessConfig(adversarial_weight=0.25)
    keys = expressions(table.features, args.individuals, args.seed)
    ev = WindowEvaluator(table, fit)
    t0 = time.perf_counter()
    m = ev.evaluate(keys, SELECTION)
    base = ev.evaluate([BUY_HOLD], SELECTION)
    causal = scores(m, ev.window_bars(), table.bars_per_year, fit, base)
    causal_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    adv = Adversary.build(AdversarialConfig(), fit, 300, table.horizon, table.features)
    markets_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hyb = adv.combine(keys, causal)
    score_s = time.perf_counter() - t0

    days = ev.window_bars() / (table.bars_per_year / 365.0)
    turnover = (np.nan_to_num(m[..., metric_index("turnover")]) / days).mean(axis=(1, 2))
    top_c, top_h = np.argsort(-causal)[:50], np.argsort(-hyb)[:50]
    kept = len(set(top_c.tolist()) & set(top_h.tolist()))
    low = adv.low(keys)
    active = turnover > 0
    rho = spearmanr(low[active], turnover[active]).statistic
    print(f"data: {table.height} bars of bybit_linear BTCUSDT 5m 2025; {len(keys)} expressions")
    print(f"causal fitness (baseline): {causal_s:.2f} s")
    for mk in adv.summary()["markets"]:
        spread = mk["median_spread_bps"]
        print(f"  market {mk['scenario']}/s{mk['seed']}: {mk['bars']} bars, "
              f"median spread {spread:.2f} bps, {mk['sim_seconds']:.1f} s")  # fmt: skip
    print(f"simulated markets (once per run): {markets_s:.2f} s")
    print(f"adversarial scoring: {score_s:.2f} s ({score_s / causal_s:.2%} of the causal time)")
    print(f"adversarial score vs daily turnover: Spearman {rho:.3f} over {active.sum()} trading "
          f"expressions; {kept}/50 of the causal top 50 stay in the hybrid top 50")  # fmt: skip
    print(f"RESULT adv_markets_s={markets_s:.2f} adv_score_s={score_s:.3f} causal_s={causal_s:.3f} "
          f"score_overhead={score_s / causal_s:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
