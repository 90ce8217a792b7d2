"""Typed GP: same seed => same hall of fame, bloat limits hold, NSGA-II option, and on the
planted-driver table the whole run finds a strategy with positive net fitness using it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.fitness import SELECTION, FitnessConfig, WindowEvaluator, scores
from nexusforge.forge.evolve.gp import Evaluated, Evolution, GpConfig, SurrogateConfig
from nexusforge.forge.evolve.primitives import Term, build_pset
from nexusforge.forge.evolve.run import parse_config, run_on_table
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.strategy import artifact
from nexusforge.strategy.expr import columns, depth

FIT = FitnessConfig(folds=2)


def _evolution(table: ResearchTable, seed: int, **gp: object) -> Evolution:
    ev = WindowEvaluator(table, FIT, threads=1)
    bars = ev.window_bars()

    def evaluate(keys: list[str]) -> Evaluated:
        m = ev.evaluate(keys, SELECTION)
        return Evaluated(scores(m, bars, table.bars_per_year, FIT), m[..., 2].mean(axis=(1, 2)), m)

    cfg = GpConfig(**{"population": 24, "generations": 3, **gp})  # type: ignore[arg-type]
    pset = build_pset([Term("driver", 1), Term("noise_a", 0)])
    return Evolution(pset, cfg, evaluate, seed, SurrogateConfig(enabled=False))


def test_same_seed_same_hall_of_fame(planted: ResearchTable) -> None:
    a = _evolution(planted, 11).run()
    b = _evolution(planted, 11).run()
    assert [i.key for i in a.hall_of_fame] == [i.key for i in b.hall_of_fame]
    assert [r.score for r in a.records] == [r.score for r in b.records]
    c = _evolution(planted, 12).run()
    assert [r.expr_json for r in c.records] != [r.expr_json for r in a.records]


def test_bloat_limits_and_elitism_hold(planted: ResearchTable) -> None:
    evo = _evolution(planted, 5, max_depth=4, max_size=12, elitism=3)
    res = evo.run()
    for r in res.records:
        assert r.size <= 12
    assert all(depth(ind.expr) <= 4 for ind in res.hall_of_fame)
    best = [s.best for s in res.stats]
    assert best == sorted(best)  # elitism: the best never gets worse
    assert all(0.0 < s.unique_share <= 1.0 for s in res.stats)


def test_every_tree_reads_a_causal_parent(planted: ResearchTable) -> None:
    res = _evolution(planted, 2).run()
    for r in res.records:
        assert set(columns(artifact.codec.loads(r.expr_json))) <= {"driver", "noise_a"}
        assert columns(artifact.codec.loads(r.expr_json))


def test_nsga2_returns_a_pareto_front(planted: ResearchTable) -> None:
    res = _evolution(planted, 3, nsga2=True).run()
    front = res.hall_of_fame
    assert front
    objs = np.array([ind.fitness.values for ind in front])
    w = np.array([1.0, -1.0, -1.0])
    for i in range(len(objs)):  # nobody on the front dominates another member
        better = ((objs * w) >= objs[i] * w).all(axis=1) & ((objs * w) > objs[i] * w).any(axis=1)
        assert not better.any()


def test_planted_driver_run_end_to_end(planted: ResearchTable, tmp_path: Path) -> None:
    cfg = parse_config({
        "seed": 4, "challengers": 2,
        "causal": {"alpha": 0.001, "sample_rows": 1500},
        "gp": {"population": 40, "generations": 3},
        "fitness": {"folds": 2},
        "surrogate": {"min_train": 30},
        "eval": {"backend": "inline"},
    })  # fmt: skip
    summary = run_on_table(cfg, planted, tmp_path)
    assert {p.feature for p in summary.parents} == {"driver"}
    assert summary.best_score > 0.5
    best = json.loads((tmp_path / "hall_of_fame.json").read_text())[0]
    assert "driver" in best["infix"] and best["trade_sharpe"] > 0.0  # held-out windows too
    chs = [artifact.read(p) for p in summary.challengers]
    assert len(chs) == 2 and chs[0].validation["status"] == "not_validated"
    assert chs[0].data["fingerprint"] == planted.fingerprint()
    assert depth(chs[0].expr) <= cfg.gp.max_depth


def test_bad_gp_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match="population"):
        parse_config({"gp": {"population": 2}})
    with pytest.raises(ConfigError, match="popsize"):
        parse_config({"gp": {"popsize": 20}})
    with pytest.raises(ConfigError, match="Expected `int`"):
        parse_config({"gp": {"generations": "ten"}})


def test_elites_and_clones_are_never_evaluated_twice(planted: ResearchTable) -> None:
    evo = _evolution(planted, 7, generations=4)
    seen: list[str] = []
    inner = evo.evaluate_fn

    def counting(keys: list[str]) -> Evaluated:
        seen.extend(keys)
        return inner(keys)

    evo.evaluate_fn = counting
    res = evo.run()
    assert len(seen) == len(set(seen)) == res.evaluations
    # Survivors and reproduced parents reach later generations without a new evaluation.
    assert sum(s.cached for s in res.stats[1:]) > 0
