"""Evaluation backends: a real Dask LocalCluster of two worker processes and the local process
pool give exactly the in-process fitness; a dead worker fails the call clearly."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from nexusforge.errors import ConfigError, EvaluationError
from nexusforge.forge.distributed import (
    DaskBackend,
    EvalSpec,
    InlineBackend,
    LocalPoolBackend,
    make_backend,
)
from nexusforge.forge.evolve.fitness import SEGMENTS, SELECTION, FitnessConfig
from nexusforge.forge.evolve.table import from_bars
from nexusforge.strategy import codec
from nexusforge.strategy.expr import Call, Col, Const

EXPRS = [
    Call("sign", (Call("ema", (Col("x"),), 6),)),
    Call("tanh", (Call("zscore", (Col("x"),), 24),)),
    Call("if", (Call("gt", (Col("y"), Const(0.0))), Const(1.0), Call("neg", (Col("x"),)))),
    Call("clip", (Call("sub", (Col("x"), Call("mean", (Col("y"),), 12))),), None, (-0.5, 0.5)),
] * 3


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> EvalSpec:
    import polars as pl

    rng = np.random.default_rng(3)
    n = 4000
    x = np.cumsum(rng.standard_normal(n)) * 0.05
    close = 100 * np.exp(np.cumsum(0.001 * np.tanh(x) + 0.002 * rng.standard_normal(n)))
    feats = pl.DataFrame({"x": x, "y": rng.standard_normal(n)})
    table = from_bars(np.arange(n) * 60_000_000_000, close, feats, bars_per_year=525_600.0)
    path = tmp_path_factory.mktemp("dist") / "table.parquet"
    sha = table.write(path)
    return EvalSpec(str(path), sha, FitnessConfig(folds=2))


def _keys() -> list[str]:
    return [codec.dumps(e) for e in EXPRS]


@pytest.mark.slow  # ~2 s alone, ~6 s on a loaded 2-core machine (cluster start-up)
def test_dask_local_cluster_matches_inline(spec: EvalSpec) -> None:
    from distributed import LocalCluster

    want = InlineBackend(spec).evaluate(_keys(), SEGMENTS)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster:  # fmt: skip
        backend = DaskBackend(spec, cluster.scheduler_address)
        try:
            got = backend.evaluate(_keys(), SEGMENTS)
        finally:
            backend.close()
    np.testing.assert_array_equal(got, want)


def test_local_pool_matches_inline_and_survives_reuse(spec: EvalSpec) -> None:
    want = InlineBackend(spec).evaluate(_keys(), SELECTION)
    pool = LocalPoolBackend(spec, workers=2)
    try:
        np.testing.assert_array_equal(pool.evaluate(_keys(), SELECTION), want)
        np.testing.assert_array_equal(pool.evaluate(_keys()[:3], SELECTION), want[:3])
        assert pool.evaluate([], SELECTION).shape[0] == 0
    finally:
        pool.close()


def test_a_dead_worker_fails_the_call_clearly(spec: EvalSpec) -> None:
    pool = LocalPoolBackend(spec, workers=1)
    try:
        pool.evaluate(_keys()[:1], SELECTION)
        for pid in pool.pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        with pytest.raises(EvaluationError, match="worker died"):
            pool.evaluate(_keys(), SELECTION)
    finally:
        pool.close()


def test_tampered_table_is_refused_by_workers(spec: EvalSpec, tmp_path: Path) -> None:
    bad = EvalSpec(spec.table_path, "0" * 64, spec.fitness)
    with pytest.raises(Exception, match="sha256"):
        InlineBackend(bad).evaluate(_keys()[:1], SELECTION)


def test_backend_choice_is_checked(spec: EvalSpec) -> None:
    with pytest.raises(ConfigError, match="scheduler address"):
        make_backend(spec, "dask")
    with pytest.raises(ConfigError, match="unknown evaluation backend"):
        make_backend(spec, "ray")
    with pytest.raises(EvaluationError, match="cannot reach"):
        DaskBackend(spec, "tcp://127.0.0.1:9", connect_s=1.0)
