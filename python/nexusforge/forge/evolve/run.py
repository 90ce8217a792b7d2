"""A whole Forge run: research table -> causal parents -> typed GP with surrogate screening
and causal fitness -> hall of fame scored on held-out trade windows -> challenger files.

The run folder holds `manifest.json` (written first with status "running", last with
"complete"), `research_table.parquet`, `causal/graph.{json,png}`, `generations.parquet`,
`population.parquet` (every fully evaluated individual), `evaluations.parquet` (per
individual, fold and window: Sharpe, return, drawdown, turnover, trades, costs — what the
validation gate needs for DSR/PBO: the number of trials and the spread of their Sharpes),
`hall_of_fame.json` and `challengers/` (marked not validated: `nexusforge forge run` then runs
the validation gate, which alone writes passing challengers into the Pit Crew folder).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.config_file import load_toml
from nexusforge.data.store import Store
from nexusforge.errors import ConfigError, ForgeError
from nexusforge.forge.backtest.run import SeriesSpec, turnover_kind
from nexusforge.forge.evolve import causal, manifest
from nexusforge.forge.evolve.challenger import write_challengers
from nexusforge.forge.evolve.fitness import (
    BUY_HOLD,
    METRICS,
    RULE,
    SEGMENTS,
    SELECTION,
    FitnessConfig,
    drawdowns,
    make_folds,
    scores,
)
from nexusforge.forge.evolve.gp import (
    Evaluated,
    Evolution,
    GenerationStats,
    GpConfig,
    Result,
    SurrogateConfig,
)
from nexusforge.forge.evolve.hybrid import RULE as HYBRID_RULE
from nexusforge.forge.evolve.hybrid import AdversarialConfig, Adversary
from nexusforge.forge.evolve.meta_config import MetaConfig
from nexusforge.forge.evolve.primitives import Term, build_pset
from nexusforge.forge.evolve.surrogate import Vectorizer
from nexusforge.forge.evolve.table import (
    TARGET,
    ResearchTable,
    file_sha256,
    load_research_table,
)
from nexusforge.nexus.config_locate import msgspec_message
from nexusforge.strategy import codec, to_infix

log = logging.getLogger(__name__)


class DataConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which store series, the forward-return horizon, and an optional cap on rows (the last)."""

    venue: str = "bybit_linear"
    symbol: str = "BTCUSDT"
    interval_s: int = 300
    horizon: int = 1
    max_rows: int | None = None

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or not 1 <= self.horizon <= 1000:
            raise ValueError("interval_s must be > 0 and horizon in 1..1000")
        if self.max_rows is not None and self.max_rows < 1000:
            raise ValueError("max_rows must be >= 1000")


class EvalConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Evaluation backend: inline, a local process pool, or a Dask scheduler address."""

    backend: str = "local"
    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("inline", "local", "dask"):
            raise ValueError("backend must be inline, local or dask")
        if self.workers is not None and not 1 <= self.workers <= 1024:
            raise ValueError("workers must be in 1..1024")


class ForgeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A whole run's settings; unknown keys and impossible values are refused."""

    seed: int = 7
    challengers: int = 3
    # The folder the Pit Crew watches: the validation gate (`forge run` ends with it) writes
    # the challengers that pass every check there; the run itself never does.
    challenger_dir: str | None = None
    data: DataConfig = msgspec.field(default_factory=DataConfig)
    causal: causal.CausalConfig = msgspec.field(default_factory=causal.CausalConfig)
    gp: GpConfig = msgspec.field(default_factory=GpConfig)
    fitness: FitnessConfig = msgspec.field(default_factory=FitnessConfig)
    surrogate: SurrogateConfig = msgspec.field(default_factory=SurrogateConfig)
    eval: EvalConfig = msgspec.field(default_factory=EvalConfig)
    # MAML position head per challenger (off by default; imports torch only when on).
    meta: MetaConfig = msgspec.field(default_factory=MetaConfig)
    # Simulated markets of the adversarial fitness (used when fitness.adversarial_weight > 0).
    adversarial: AdversarialConfig = msgspec.field(default_factory=AdversarialConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.challengers <= 100:
            raise ValueError("challengers must be in 0..100")


def parse_config(doc: dict[str, Any]) -> ForgeConfig:
    """A config from a plain mapping; every problem is a `ConfigError` naming the key."""
    try:
        return msgspec.convert(doc, ForgeConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{msgspec_message(str(exc))} (forge config)") from None


def load_config(path: Path | None) -> ForgeConfig:
    """Read a TOML config (defaults when `path` is None)."""
    if path is None:
        return ForgeConfig()
    return load_toml(path, "forge", parse_config)


@dataclass(frozen=True)
class RunSummary:
    """What a run produced and where."""

    out: Path
    parents: tuple[causal.CausalParent, ...]
    best_score: float
    hall_of_fame: tuple[str, ...]
    evaluations: int
    needing_evaluation: int  # offspring not seen before, after generation 0
    skipped: int  # of those, screened out by the surrogate
    challengers: tuple[Path, ...]


def research_table(cfg: ForgeConfig, store: Path) -> ResearchTable:
    """The research table for a config's series, capped to its last `max_rows` rows."""
    spec = SeriesSpec(cfg.data.venue, cfg.data.symbol, cfg.data.interval_s)
    table = load_research_table(store, spec, cfg.data.horizon)
    if cfg.data.max_rows is not None and table.height > cfg.data.max_rows:
        frame = table.frame.tail(cfg.data.max_rows)
        table = ResearchTable(frame, table.bars_per_year, table.horizon)
    return table


def discover_parents(
    cfg: ForgeConfig, table: ResearchTable, out: Path
) -> tuple[causal.CausalGraph, list[Term]]:
    """PCMCI on the first training window only; writes `causal/graph.{json,png}`."""
    fold0 = make_folds(table.height, cfg.fitness)[0]
    train = table.frame.slice(fold0.train.start, fold0.train.stop - fold0.train.start)
    target = f"ret_h{table.horizon}"
    graph, res = causal.discover(train, target, table.features, cfg.causal, table.horizon)
    causal.save(graph, res, out / "causal")
    return graph, [Term(p.feature, p.lag) for p in graph.parents]


def run_forge(
    cfg: ForgeConfig,
    store: Path,
    out: Path,
    on_generation: Callable[[GenerationStats], None] | None = None,
) -> RunSummary:
    """The whole pipeline on one series of a store."""
    table = research_table(cfg, store)
    inputs = [manifest.InputFile("store", str(store.resolve()), "")]
    spec = SeriesSpec(cfg.data.venue, cfg.data.symbol, cfg.data.interval_s)
    turnover = turnover_kind(Store(store), spec)
    return run_on_table(cfg, table, out, inputs, on_generation, turnover)


def run_on_table(
    cfg: ForgeConfig,
    table: ResearchTable,
    out: Path,
    inputs: list[manifest.InputFile] | None = None,
    on_generation: Callable[[GenerationStats], None] | None = None,
    turnover: str | None = None,
) -> RunSummary:
    """The pipeline on a prepared research table (real history or a synthetic one);
    `turnover`: how its VWAP turnover was had (`turnover_kind`), written into challengers."""
    out.mkdir(parents=True, exist_ok=True)
    table_path = out / "research_table.parquet"
    table_sha = table.write(table_path)
    files = [*(inputs or []), manifest.InputFile("research_table", str(table_path), table_sha)]
    extra: dict[str, Any] = {"fingerprint": table.fingerprint(), "rows": table.height,
                             "fitness_rule": RULE}  # fmt: skip
    if turnover is not None:
        extra["turnover"] = turnover
    config = msgspec.to_builtins(cfg)
    manifest.write_json(out / "manifest.json", manifest.build(
        seed=cfg.seed, config=config, inputs=files, status="running", **extra))  # fmt: skip
    try:
        return _pipeline(cfg, table, out, table_path, table_sha, on_generation, files, extra)
    except Exception as exc:
        manifest.write_json(out / "manifest.json", manifest.build(
            seed=cfg.seed, config=config, inputs=files, status="failed", **extra,
            error=f"{type(exc).__name__}: {exc}"))  # fmt: skip
        raise


def _pipeline(
    cfg: ForgeConfig, table: ResearchTable, out: Path, table_path: Path, table_sha: str,
    on_generation: Callable[[GenerationStats], None] | None,
    files: list[manifest.InputFile], extra: dict[str, Any],
) -> RunSummary:  # fmt: skip
    config = msgspec.to_builtins(cfg)
    if cfg.meta.enabled:  # fail before the search, not after it
        from nexusforge.forge.evolve.meta_run import check_features

        check_features(cfg.meta, table)
    graph, terms = discover_parents(cfg, table, out)
    if not terms:
        raise ForgeError(
            f"PCMCI found no causal parent of the return at alpha={cfg.causal.alpha}; "
            "nothing to evolve (see causal/graph.json)"
        )
    pset = build_pset(terms, cfg.gp.operators, windows=cfg.gp.windows, lags=cfg.gp.lags,
                      constants=cfg.gp.constants)  # fmt: skip
    # Imported here: distributed imports this package's fitness module (no import cycle).
    from nexusforge.forge.distributed import EvalSpec, make_backend

    spec = EvalSpec(str(table_path.resolve()), table_sha, cfg.fitness)
    backend = make_backend(spec, cfg.eval.backend, cfg.eval.workers, cfg.eval.address)
    try:
        result, trade, adv = _evolve(cfg, table, pset, backend, terms, on_generation)
    finally:
        backend.close()
    if adv is not None:  # the adversarial term's rule, markets and cost, beside the results
        extra = {**extra, "adversarial": adv.summary()}
    paths = _write_results(cfg, table, out, result, trade, graph, adv, extra.get("turnover"))
    summary = _summary(out, graph, result, paths)
    manifest.write_json(out / "manifest.json", manifest.build(
        seed=cfg.seed, config=config, inputs=files, status="complete", **extra,
        outputs=_outputs(out), trials=result.evaluations,
        hall_of_fame=list(summary.hall_of_fame),
    ))  # fmt: skip
    return summary


def _evolve(
    cfg: ForgeConfig, table: ResearchTable, pset: Any, backend: Any, terms: list[Term],
    on_generation: Callable[[GenerationStats], None] | None,
) -> tuple[Result, np.ndarray[Any, Any], Adversary | None]:  # fmt: skip
    folds = make_folds(table.height, cfg.fitness)
    bars = np.array([[f.window(s).stop - f.window(s).start for s in SELECTION] for f in folds],
                    dtype=float)  # fmt: skip
    adv = None
    if cfg.fitness.adversarial_weight > 0.0:  # simulated markets once, before the search
        adv = Adversary.for_table(cfg.adversarial, cfg.fitness, table, [t.feature for t in terms])

    base = backend.evaluate([BUY_HOLD], SELECTION) if cfg.fitness.baseline == "buy_hold" else None

    def evaluate(keys: list[str]) -> Evaluated:
        m = backend.evaluate(keys, SELECTION)
        s = scores(m, bars, table.bars_per_year, cfg.fitness, base)
        if adv is not None:
            s = adv.combine(keys, s)
        return Evaluated(s, drawdowns(m), m)

    fold0 = folds[0]
    ref = table.frame.slice(fold0.train.start, fold0.train.stop - fold0.train.start)
    ref = ref.tail(cfg.surrogate.ref_rows)
    vec = Vectorizer(terms, ref.select(table.features), ref[TARGET].to_numpy())
    evo = Evolution(pset, cfg.gp, evaluate, cfg.seed, cfg.surrogate, vec, on_generation)
    result = evo.run()
    keys = [ind.key for ind in result.hall_of_fame]
    trade = backend.evaluate(keys, SEGMENTS) if keys else np.empty((0, len(folds), 3, 6))
    return result, trade, adv


def _write_results(
    cfg: ForgeConfig, table: ResearchTable, out: Path, result: Result,
    trade: np.ndarray[Any, Any], graph: causal.CausalGraph, adv: Adversary | None = None,
    turnover: str | None = None,
) -> list[Path]:  # fmt: skip
    pl.DataFrame([asdict(s) for s in result.stats]).write_parquet(out / "generations.parquet")
    pop = pl.DataFrame({
        "id": [r.id for r in result.records],
        "generation": [r.generation for r in result.records],
        "expr_json": [r.expr_json for r in result.records],
        "infix": [to_infix(codec.loads(r.expr_json)) for r in result.records],
        "size": [r.size for r in result.records],
        "score": [r.score for r in result.records],
        "drawdown": [r.drawdown for r in result.records],
        "predicted": [r.predicted for r in result.records],
    }, schema_overrides={"predicted": pl.Float64, "score": pl.Float64})  # fmt: skip
    pop.write_parquet(out / "population.parquet")
    _evaluations(result).write_parquet(out / "evaluations.parquet")
    hof = result.hall_of_fame
    manifest.write_json(out / "hall_of_fame.json", [
        {"rank": i + 1, "id": ind.id, "score": ind.score, "infix": to_infix(ind.expr),
         "expr": codec.to_dict(ind.expr),
         "trade_sharpe": _finite_mean(trade[i, :, 2, 0])}
        for i, ind in enumerate(hof)
    ])  # fmt: skip
    n = min(cfg.challengers, len(hof))
    data = {"fingerprint": table.fingerprint(), "series": f"{cfg.data.venue}:{cfg.data.symbol}:"
            f"{cfg.data.interval_s}s", "rows": str(table.height)}  # fmt: skip
    if turnover is not None:  # the engine must build VWAP the same way (`engine.bar_turnover`)
        data["turnover"] = turnover
    origin = {"run": out.name, "seed": cfg.seed, "parents": [f"{p.feature}@{p.lag}"
              for p in graph.parents], "fitness_rule": RULE}  # fmt: skip
    args = ([i.expr for i in hof[:n]], [i.score for i in hof[:n]], trade[:n])
    heads = None
    if cfg.meta.enabled:  # imported here: torch loads only for runs that want the head
        from nexusforge.forge.evolve.meta_run import challenger_heads

        folds = make_folds(table.height, cfg.fitness)
        heads = challenger_heads(args[0], table, folds, cfg.meta, cfg.seed)
    more = None
    if adv is not None:  # challenger scores carry the adversarial figures; origin the rule
        origin["adversarial_rule"] = HYBRID_RULE
        more = [adv.challenger_scores(i.key) for i in hof[:n]]
    # Marked not validated and kept in the run folder: only the validation gate writes into
    # the Pit Crew folder (`challenger_dir`), and only the challengers that pass every check.
    return write_challengers(*args, out / "challengers", data=data, origin=origin, heads=heads,
                             extra_scores=more)  # fmt: skip


def _finite_mean(values: npt.NDArray[np.float64]) -> float | None:
    """Mean of the finite values; None when a window never traded (np.nanmean would warn)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def _evaluations(result: Result) -> pl.DataFrame:
    rows: dict[str, list[Any]] = {"id": [], "fold": [], "segment": []}
    rows.update({m: [] for m in METRICS})
    for r in result.records:
        for f in range(r.metrics.shape[0]):
            for s, seg in enumerate(SELECTION):
                rows["id"].append(r.id)
                rows["fold"].append(f)
                rows["segment"].append(seg)
                for k, m in enumerate(METRICS):
                    rows[m].append(float(r.metrics[f, s, k]))
    return pl.DataFrame(rows, schema_overrides={m: pl.Float64 for m in METRICS})


def _outputs(out: Path) -> list[dict[str, str]]:
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    return [{"path": str(p.relative_to(out)), "sha256": file_sha256(p)} for p in files]


def _summary(out: Path, graph: causal.CausalGraph, result: Result, paths: list[Path]) -> RunSummary:
    return RunSummary(
        out, graph.parents,
        max((i.score for i in result.hall_of_fame), default=math.nan),
        tuple(to_infix(i.expr) for i in result.hall_of_fame), result.evaluations,
        sum(s.evaluated + s.skipped for s in result.stats[1:]),
        sum(s.skipped for s in result.stats),
        tuple(paths),
    )  # fmt: skip
