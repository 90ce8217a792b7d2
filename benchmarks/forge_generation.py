# mypy: disable-error-code="import-untyped"
"""Benchmark: one GP generation of 1,000 individuals over >= 1M bars with full evaluation, the
same with surrogate screening, and what screening saves and costs over 20 generations.

Part A (speed) data: real Binance spot BTCUSDT 1m candles (`shared/data/history`, 188 k bars)
ingested, turned into the research table (bar features + 15 m / 1 h MTFA), then TILED end to
end to >= `--bars` (default 1 M): features repeat as they are, the close is rebuilt from the
tiled log-returns so it stays continuous. Causal parents come from PCMCI on the first training
window. One generation = breed 1,000 offspring + full evaluation of every new one (expression,
backtest on each fold's train and test window, metrics) in the Rust batch, all threads.
Part B (savings) data: real Bybit linear BTCUSDT 5m 2025 (105 k bars, funding). `--seeds`
runs (default 5, seeds from `--first-seed`, default 0) of `--generations` (default 20) with
population `--population` (default 200), with and without the surrogate, same seeds.
Saved = offspring screened out / offspring needing evaluation (also printed: full evaluations
of the screened runs vs the unscreened ones); loss = (mean best without - mean best with) /
|mean best without|, the means over seeds (a per-seed ratio explodes when a seed's best is ~0).
Last line: `RESULT gen_seconds=<s> full_evals_saved=<fraction> fitness_loss=<fraction>`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

import nexusforge
from nexusforge.data.ingest import ingest
from nexusforge.forge.backtest.batch import evaluate_batch, forest_size
from nexusforge.forge.backtest.engine import MarketData
from nexusforge.forge.backtest.run import SeriesSpec
from nexusforge.forge.distributed import EvalSpec, InlineBackend
from nexusforge.forge.evolve import causal
from nexusforge.forge.evolve.fitness import (
    BUY_HOLD,
    METRICS,
    SELECTION,
    FitnessConfig,
    make_folds,
    scores,
)
from nexusforge.forge.evolve.gp import Evaluated, Evolution, GpConfig, SurrogateConfig
from nexusforge.forge.evolve.primitives import Term, build_pset
from nexusforge.forge.evolve.run import parse_config, research_table
from nexusforge.forge.evolve.surrogate import Vectorizer
from nexusforge.forge.evolve.table import (
    FUNDING,
    TARGET,
    ResearchTable,
    from_bars,
    load_research_table,
)
from nexusforge.strategy import codec

SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
HISTORY = SHARED / "data/history"
Stamp = tuple[float, float]  # (wall, CPU) seconds at the end of a generation
SPOT_1M = "binance_spot_BTCUSDT_1m_20260301_20260709.csv.gz"
BYBIT_5M = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")


def tiled_table(store: Path, bars: int) -> ResearchTable:
    """The spot 1m research table tiled to at least `bars` rows."""
    base = load_research_table(store, SeriesSpec("binance_spot", "BTCUSDT", 60))
    reps = -(-bars // base.height)
    close = base.close
    steps = np.tile(np.diff(np.log(close), prepend=np.log(close[0])), reps)
    steps[0] = np.log(close[0])
    feats = base.frame.select([c for c in base.features if c != "ret_h1"])
    tiled = pl.concat([feats] * reps)
    ts = np.arange(tiled.height, dtype=np.int64) * 60_000_000_000
    return from_bars(ts, np.exp(np.cumsum(steps)), tiled, bars_per_year=base.bars_per_year)


class Harness:
    """Evolution on one table with the in-process backend (Rust threads on every core)."""

    def __init__(self, table: ResearchTable, fit: FitnessConfig, folder: Path) -> None:
        path = folder / "table.parquet"
        sha = table.write(path)
        self.table, self.fit = table, fit
        self.backend = InlineBackend(EvalSpec(str(path), sha, fit))
        self.folds = make_folds(table.height, fit)
        self.bars = np.array(
            [[f.window(s).stop - f.window(s).start for s in SELECTION] for f in self.folds], float
        )
        self.base = self.backend.evaluate([BUY_HOLD], SELECTION)
        train = self.folds[0].train
        self.train0 = table.frame.slice(train.start, train.stop - train.start)
        t0 = time.perf_counter()
        graph, _ = causal.discover(self.train0, "ret_h1", table.features, causal.CausalConfig())
        self.causal_s = time.perf_counter() - t0
        self.terms = [Term(p.feature, p.lag) for p in graph.parents]

    def evaluate(self, keys: list[str]) -> Evaluated:
        self.last_keys = keys
        m = self.backend.evaluate(keys, SELECTION)
        s = scores(m, self.bars, self.table.bars_per_year, self.fit, self.base)
        return Evaluated(s, m[..., 2].mean(axis=(1, 2)), m)

    def evolution(self, gp_cfg: GpConfig, sur: SurrogateConfig, seed: int, times: list[Stamp]):
        ref = self.train0.tail(sur.ref_rows)
        vec = Vectorizer(self.terms, ref.select(self.table.features), ref[TARGET].to_numpy())
        pset = build_pset(self.terms, gp_cfg.operators, windows=gp_cfg.windows)

        def stamp(_: object) -> None:
            times.append((time.perf_counter(), time.process_time()))

        return Evolution(pset, gp_cfg, self.evaluate, seed, sur, vec, stamp)

    def per_window(self, keys: list[str]) -> np.ndarray:
        """The former path: one `evaluate_batch` call per window on the sliced data."""
        exprs = [codec.loads(k) for k in keys]
        feats = self.table.frame.select(self.table.features)
        fund = self.table.frame[FUNDING].to_numpy().astype(np.float64)
        out = np.empty((len(keys), len(self.folds), len(SELECTION), len(METRICS)))
        for f, fold in enumerate(self.folds):
            for s, seg in enumerate(SELECTION):
                r = fold.window(seg)
                res = evaluate_batch(exprs, feats.slice(r.start, r.stop - r.start),
                                     self.table.close[r], bars_per_year=self.table.bars_per_year,
                                     market=MarketData(funding=fund[r]),
                                     config=self.fit.backtest_config())  # fmt: skip
                out[:, f, s, :] = [[getattr(m, n) for n in METRICS] for m in res]
        return out


def clocked(fn, *args):  # type: ignore[no-untyped-def]
    """(result, wall seconds, CPU seconds of this process's threads)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w, time.process_time() - c


def part_a(store: Path, bars: int, folder: Path, ab: int) -> dict[str, float]:
    table = tiled_table(store, bars)
    h = Harness(table, FitnessConfig(), folder)
    gp_cfg = GpConfig(population=1000, generations=1)
    out = {"bars": float(table.height), "causal_s": h.causal_s, "load0": os.getloadavg()[0]}
    for name, sur in (("full", SurrogateConfig(enabled=False)),
                      ("screened", SurrogateConfig(min_train=200))):  # fmt: skip
        times: list[Stamp] = []
        evo = h.evolution(gp_cfg, sur, seed=1, times=times)
        t0 = time.perf_counter()
        res = evo.run()
        gen1 = res.stats[1]
        out[f"{name}_gen0_s"] = times[0][0] - t0
        out[f"{name}_gen1_s"] = times[1][0] - times[0][0]
        out[f"{name}_gen1_cpu_s"] = times[1][1] - times[0][1]
        out[f"{name}_gen1_evaluated"] = float(gen1.evaluated)
        out[f"{name}_gen1_skipped"] = float(gen1.skipped)
        if name == "full":
            keys = list(h.last_keys)
            distinct, total = forest_size([codec.loads(k) for k in keys])
            out["forest_distinct"], out["forest_total"] = float(distinct), float(total)
            sample = keys[:ab]
            old, out["ab_old_s"], out["ab_old_cpu_s"] = clocked(h.per_window, sample)
            new, out["ab_new_s"], out["ab_new_cpu_s"] = clocked(h.backend.evaluate, sample,
                                                                 SELECTION)  # fmt: skip
            out["ab_n"] = float(len(sample))
            out["ab_equal"] = float(np.array_equal(old, new, equal_nan=True))
    out["load1"] = os.getloadavg()[0]
    return out


def part_b(store: Path, seeds: range, generations: int, population: int, folder: Path):
    table = research_table(parse_config({}), store)
    h = Harness(table, FitnessConfig(), folder)
    gp_cfg = GpConfig(population=population, generations=generations)
    rows = []
    for seed in seeds:
        full = h.evolution(gp_cfg, SurrogateConfig(enabled=False), seed, []).run()
        scr = h.evolution(gp_cfg, SurrogateConfig(), seed, []).run()
        best_full = max(s.best for s in full.stats)
        best_scr = max(s.best for s in scr.stats)
        need = sum(s.evaluated + s.skipped for s in scr.stats[1:])
        saved = sum(s.skipped for s in scr.stats) / need
        rhos = [s.surrogate_spearman for s in scr.stats if np.isfinite(s.surrogate_spearman)]
        rows.append((seed, best_full, best_scr, full.evaluations, scr.evaluations, saved,
                     float(np.mean(rhos)) if rhos else float("nan")))  # fmt: skip
        print(f"seed {seed}: best full {best_full:+.4f} ({full.evaluations} evals), "
              f"best screened {best_scr:+.4f} ({scr.evaluations} evals), saved {saved:.1%}, "
              f"mean surrogate spearman {rows[-1][-1]:.3f}", flush=True)  # fmt: skip
    return table.height, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="part B seeds start here")
    ap.add_argument("--generations", type=int, default=20)
    ap.add_argument("--population", type=int, default=200)
    ap.add_argument("--ab", type=int, default=200, help="individuals timed on both paths")
    ap.add_argument("--only-b", action="store_true", help="skip part A (speed); savings only")
    args = ap.parse_args()
    seeds_b = range(args.first_seed, args.first_seed + args.seeds)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    print(f"nexusforge {nexusforge.__version__}, numpy {np.__version__}, polars {pl.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spot, bybit = folder / "spot", folder / "bybit"
        if not args.only_b:
            ingest(HISTORY / SPOT_1M, spot)
        for name in BYBIT_5M:
            ingest(HISTORY / name, bybit)
        if args.only_b:
            rows_b, rows = part_b(bybit, seeds_b, args.generations, args.population, folder)
            report_b(args, rows_b, rows, "", "")
            return
        a = part_a(spot, args.bars, folder, args.ab)
        print(f"part A: {a['bars']:,.0f} tiled real spot BTCUSDT 1m bars, population 1,000; "
              f"PCMCI {a['causal_s']:.2f}s; load average {a['load0']:.1f} -> {a['load1']:.1f} "
              f"on {os.cpu_count()} cpus")  # fmt: skip
        for name in ("full", "screened"):
            print(f"  {name:8s}: gen 0 (1,000 full) {a[f'{name}_gen0_s']:.2f}s, gen 1 "
                  f"{a[f'{name}_gen1_s']:.2f}s wall, {a[f'{name}_gen1_cpu_s']:.2f} CPU-s "
                  f"({a[f'{name}_gen1_evaluated']:.0f} evaluated, "
                  f"{a[f'{name}_gen1_skipped']:.0f} skipped)")  # fmt: skip
        print(f"  gen 1 batch as one forest: {a['forest_distinct']:,.0f} distinct subtrees of "
              f"{a['forest_total']:,.0f} nodes ({1 - a['forest_distinct'] / a['forest_total']:.1%} "
              f"evaluated once instead of repeatedly)")  # fmt: skip
        print(f"  before/after on {a['ab_n']:.0f} of them: per-window evaluate_batch "
              f"{a['ab_old_s']:.2f}s wall / {a['ab_old_cpu_s']:.2f} CPU-s, evaluate_windows "
              f"{a['ab_new_s']:.2f}s / {a['ab_new_cpu_s']:.2f} CPU-s, metrics equal: "
              f"{bool(a['ab_equal'])}")  # fmt: skip
        if args.seeds == 0:
            print(f"RESULT gen_seconds={a['full_gen1_s']:.2f} "
                  f"gen_cpu_seconds={a['full_gen1_cpu_s']:.2f} bars={a['bars']:.0f}")  # fmt: skip
            return
        rows_b, rows = part_b(bybit, seeds_b, args.generations, args.population, folder)
    report_b(args, rows_b, rows, f"gen_seconds={a['full_gen1_s']:.2f} ",
             f" screened_gen_seconds={a['screened_gen1_s']:.2f} "
             f"gen_cpu_seconds={a['full_gen1_cpu_s']:.2f} bars={a['bars']:.0f}")  # fmt: skip


def report_b(args: argparse.Namespace, rows_b: int, rows: list, head: str, tail: str) -> None:
    """Part B's summary and the RESULT line (`head`/`tail`: part A's figures when it ran)."""
    full_best = np.array([r[1] for r in rows])
    scr_best = np.array([r[2] for r in rows])
    loss = float((full_best.mean() - scr_best.mean()) / abs(full_best.mean()))
    saved = float(np.mean([r[5] for r in rows]))
    print(f"part B: {rows_b:,} real Bybit BTCUSDT 5m bars (2025), {args.seeds} seeds "
          f"({args.first_seed}..{args.first_seed + args.seeds - 1}) x "
          f"{args.generations} generations, population {args.population}")  # fmt: skip
    print(f"baseline (no surrogate) mean best {full_best.mean():+.4f}, "
          f"screened mean best {scr_best.mean():+.4f}")  # fmt: skip
    evals_full, evals_scr = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"full evaluations: {evals_full:,} without, {evals_scr:,} with the surrogate "
          f"({1 - evals_scr / evals_full:.1%} fewer)")  # fmt: skip
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print(f"RESULT {head}full_evals_saved={saved:.3f} fitness_loss={loss:.3f}{tail}")


if __name__ == "__main__":
    main()
