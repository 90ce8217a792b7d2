"""Evaluation backends: in-process, a local process pool (default) or a Dask cluster.

What crosses a process boundary is plain text and floats only: the evaluation spec as JSON
(the research table's path and sha256, the fitness settings), expressions as codec JSON, and
metrics back as nested lists of floats. Each worker reads the table itself, checks its hash,
and keeps one evaluator per spec. A worker that dies or raises fails the whole call with
`EvaluationError`; no partial result is returned.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol, cast

import msgspec
import numpy as np
import numpy.typing as npt

from nexusforge.errors import ConfigError, EvaluationError, NexusForgeError
from nexusforge.forge.evolve.fitness import METRICS, FitnessConfig, WindowEvaluator
from nexusforge.forge.evolve.table import read_table

BACKENDS = ("inline", "local", "dask")


class EvalSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything a worker needs to evaluate expressions, as plain data."""

    table_path: str
    table_sha256: str
    fitness: FitnessConfig
    threads: int | None = None

    def to_json(self) -> str:
        """The spec as JSON text (what travels to workers)."""
        return msgspec.json.encode(self).decode()


_EVALUATORS: dict[str, WindowEvaluator] = {}


def evaluator_for(spec_json: str) -> WindowEvaluator:
    """This process's evaluator for a spec, built once (the table is read and hash-checked)."""
    key = hashlib.sha256(spec_json.encode()).hexdigest()
    if key not in _EVALUATORS:
        spec = msgspec.json.decode(spec_json, type=EvalSpec)
        table = read_table(Path(spec.table_path), spec.table_sha256)
        _EVALUATORS.clear()  # one spec per run; do not keep old tables alive
        _EVALUATORS[key] = WindowEvaluator(table, spec.fitness, spec.threads)
    return _EVALUATORS[key]


def evaluate_chunk(spec_json: str, exprs_json: list[str], segments: list[str]) -> list[Any]:
    """Worker entry point: metrics of a chunk as nested lists of floats."""
    arr = evaluator_for(spec_json).evaluate(exprs_json, segments)
    return list(arr.tolist())


class Backend(Protocol):
    """Evaluates batches of codec-JSON expressions; results keep the input order."""

    def evaluate(
        self, exprs_json: Sequence[str], segments: Sequence[str]
    ) -> npt.NDArray[np.float64]: ...

    def close(self) -> None: ...


def _chunks(items: Sequence[str], n: int) -> list[list[str]]:
    if not items:
        return []
    n = max(1, min(n, len(items)))
    size = -(-len(items) // n)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _stack(parts: Sequence[list[Any]], n_folds: int, n_segments: int, n_metrics: int) -> Any:
    rows = [r for part in parts for r in part]
    if not rows:
        return np.empty((0, n_folds, n_segments, n_metrics))
    return np.asarray(rows, dtype=np.float64)


class InlineBackend:
    """Evaluates in this process (the Rust batch uses every core through its own threads)."""

    def __init__(self, spec: EvalSpec) -> None:
        self._spec = spec.to_json()

    def evaluate(self, exprs_json: Sequence[str], segments: Sequence[str]) -> Any:
        ev = evaluator_for(self._spec)
        return ev.evaluate(list(exprs_json), list(segments))

    def close(self) -> None:
        _EVALUATORS.clear()


class LocalPoolBackend:
    """A spawn-safe local process pool; each worker runs single-threaded Rust batches."""

    def __init__(self, spec: EvalSpec, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._spec = msgspec.structs.replace(spec, threads=1).to_json()
        self._folds = spec.fitness.folds
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def evaluate(self, exprs_json: Sequence[str], segments: Sequence[str]) -> Any:
        try:
            futures: list[Future[list[Any]]] = [
                self._pool.submit(evaluate_chunk, self._spec, chunk, list(segments))
                for chunk in _chunks(exprs_json, 2 * self.workers)
            ]
            parts = [f.result() for f in futures]
        except BrokenProcessPool as exc:
            raise EvaluationError(f"a pool worker died during evaluation: {exc}") from exc
        except NexusForgeError:
            raise
        except Exception as exc:
            raise EvaluationError(f"a pool worker raised {type(exc).__name__}: {exc}") from exc
        return _stack(parts, self._folds, len(segments), len(METRICS))

    def pids(self) -> list[int]:
        """Process ids of the pool's live workers (for monitoring; reads the executor's table)."""
        return [p.pid for p in list(self._pool._processes.values()) if p.pid is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """Sends chunks to an existing Dask distributed scheduler by address."""

    def __init__(
        self, spec: EvalSpec, address: str, chunks: int | None = None, connect_s: float = 20.0
    ) -> None:
        from distributed import Client

        self._spec = msgspec.structs.replace(spec, threads=1).to_json()
        self._folds = spec.fitness.folds
        try:
            client = cast(Any, Client)
            self._client: Any = client(address, timeout=f"{connect_s}s", set_as_default=False)
        except OSError as exc:
            raise EvaluationError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        n_workers = len(self._client.scheduler_info().get("workers", {})) or 1
        self._chunks = chunks or 2 * n_workers

    def evaluate(self, exprs_json: Sequence[str], segments: Sequence[str]) -> Any:
        futures = [
            self._client.submit(evaluate_chunk, self._spec, chunk, list(segments), pure=False)
            for chunk in _chunks(exprs_json, self._chunks)
        ]
        try:
            parts = self._client.gather(futures)
        except NexusForgeError:
            raise
        except Exception as exc:
            raise EvaluationError(f"Dask evaluation failed: {type(exc).__name__}: {exc}") from exc
        return _stack(parts, self._folds, len(segments), len(METRICS))

    def close(self) -> None:
        self._client.close()


def make_backend(
    spec: EvalSpec, kind: str = "local", workers: int | None = None, address: str | None = None
) -> Backend:
    """The backend named by `kind`; `dask` needs a scheduler `address`."""
    if kind == "inline":
        return InlineBackend(spec)
    if kind == "local":
        return LocalPoolBackend(spec, workers)
    if kind == "dask":
        if not address:
            raise ConfigError("the dask backend needs a scheduler address (eval.address)")
        return DaskBackend(spec, address)
    raise ConfigError(f"unknown evaluation backend {kind!r}; expected one of {BACKENDS}")
