"""Causal discovery with tigramite PCMCI: which features, at which lags, drive the return.

The return `ret_h{h}` at row t (log(close_t / close_{t-h})) is the target variable; a parent
X at tigramite lag tau >= h means X_{t-tau} -> ret_t, so X at lag tau - h (a strategy lag, 0 =
the current bar) precedes the forward return of a position taken at that bar. Links that would
overlap the return window (tau < h) are never tested. Runs on a caller-chosen sample only (the
first training window in a Forge run), so discovery never sees test or trade data.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import polars as pl

from nexusforge.errors import ConfigError, DataError

TESTS = ("parcorr", "robust_parcorr")
METHODS = ("pcmci", "pcmciplus")
_MISSING = 9.876543e15  # tigramite's missing_flag must be a number; NaN never compares equal


class CausalConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """PCMCI settings: significance, lags, conditional-independence test and sample size."""

    alpha: float = 0.01
    pc_alpha: float = 0.05
    max_lag: int = 3
    test: str = "parcorr"
    method: str = "pcmci"
    sample_rows: int = 3000
    max_parents: int = 8
    # Only the target's parents are searched over all variables; the others get their own
    # lags as candidate parents (enough for MCI's conditioning), which makes a run ~N× faster.
    target_only: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0 or not 0.0 < self.pc_alpha < 1.0:
            raise ValueError("alpha and pc_alpha must be in (0, 1)")
        if not 1 <= self.max_lag <= 50:
            raise ValueError("max_lag must be in 1..50")
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {TESTS}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        if not 200 <= self.sample_rows <= 1_000_000:
            raise ValueError("sample_rows must be in 200..1000000")
        if not 1 <= self.max_parents <= 64:
            raise ValueError("max_parents must be in 1..64")


@dataclass(frozen=True)
class CausalParent:
    """A causal parent of the return: feature, strategy lag (bars), MCI strength and p-value."""

    feature: str
    lag: int
    tau: int
    strength: float
    p_value: float


@dataclass(frozen=True)
class CausalGraph:
    """Parents of the target, strongest first, and what the run looked at."""

    target: str
    parents: tuple[CausalParent, ...]
    variables: tuple[str, ...]
    dropped: tuple[str, ...]
    rows: int
    seconds: float
    config: dict[str, Any]

    def to_json(self) -> str:
        """JSON text of the graph (NaN-free)."""
        doc = asdict(self)
        return json.dumps(doc, indent=2, allow_nan=False)


def _independence_test(name: str) -> Any:
    if name == "robust_parcorr":
        from tigramite.independence_tests.robust_parcorr import (  # type: ignore[import-untyped]
            RobustParCorr,
        )

        return RobustParCorr(significance="analytic")
    from tigramite.independence_tests.parcorr import ParCorr  # type: ignore[import-untyped]

    return ParCorr(significance="analytic")


def _variables(
    frame: pl.DataFrame, target: str, features: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Variables to test, dropping constant columns and exact copies of the target."""
    y = frame[target].to_numpy()
    keep, dropped = [], []
    for name in features:
        if name == target:
            continue
        x = frame[name].to_numpy()
        ok = np.isfinite(x)
        if ok.sum() < 10 or np.nanstd(x) == 0.0:
            dropped.append(name)
            continue
        both = ok & np.isfinite(y)
        if np.allclose(x[both], y[both], rtol=0.0, atol=1e-12):
            dropped.append(name)
            continue
        keep.append(name)
    return [target, *keep], dropped


def _matrix(frame: pl.DataFrame, names: Sequence[str]) -> np.ndarray[Any, Any]:
    data = frame.select(names).to_numpy().astype(np.float64)
    mu, sd = np.nanmean(data, axis=0), np.nanstd(data, axis=0)
    z = (data - mu) / np.where(sd > 0, sd, 1.0)
    return np.where(np.isfinite(z), z, _MISSING)


def discover(
    frame: pl.DataFrame,
    target: str,
    features: Sequence[str],
    config: CausalConfig,
    horizon: int = 1,
) -> tuple[CausalGraph, dict[str, Any]]:
    """Run PCMCI on the last `sample_rows` rows of `frame`; the graph and tigramite's results."""
    from tigramite import data_processing as pp  # type: ignore[import-untyped]
    from tigramite.pcmci import PCMCI  # type: ignore[import-untyped]

    if target not in frame.columns or any(f not in frame.columns for f in features):
        missing = [c for c in (target, *features) if c not in frame.columns]
        raise DataError(f"causal discovery: table lacks columns {missing}")
    if horizon > config.max_lag:
        raise ConfigError(f"max_lag {config.max_lag} must be >= the horizon {horizon}")
    sample = frame.tail(config.sample_rows)
    if sample.height < 10 * (config.max_lag + 1):
        raise DataError(f"causal discovery needs more rows than {sample.height}")
    names, dropped = _variables(sample, target, features)
    started = time.perf_counter()
    df = pp.DataFrame(_matrix(sample, names), var_names=names, missing_flag=_MISSING)
    pcmci = PCMCI(dataframe=df, cond_ind_test=_independence_test(config.test), verbosity=0)
    links = _links(len(names), horizon, config.max_lag) if config.target_only else None
    if config.method == "pcmciplus":
        res = pcmci.run_pcmciplus(tau_min=horizon, tau_max=config.max_lag, pc_alpha=config.alpha,
                                  link_assumptions=links)  # fmt: skip
    else:
        res = pcmci.run_pcmci(
            tau_min=horizon, tau_max=config.max_lag, pc_alpha=config.pc_alpha,
            alpha_level=config.alpha, link_assumptions=links,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    parents = _parents(res, names, config, horizon)
    graph = CausalGraph(
        target, parents, tuple(names), tuple(dropped), sample.height, round(seconds, 3),
        msgspec.to_builtins(config),
    )  # fmt: skip
    return graph, {**res, "var_names": names}


def _links(n: int, tau_min: int, tau_max: int) -> dict[int, dict[tuple[int, int], str]]:
    """Candidate links: every variable's lags into the target (index 0), own lags elsewhere."""
    lags = range(tau_min, tau_max + 1)
    links = {0: {(i, -tau): "-?>" for i in range(n) for tau in lags}}
    links.update({j: {(j, -tau): "-?>" for tau in lags} for j in range(1, n)})
    return links


def _parents(
    res: dict[str, Any], names: Sequence[str], config: CausalConfig, horizon: int
) -> tuple[CausalParent, ...]:
    p, val = res["p_matrix"], res["val_matrix"]
    found = []
    for i, name in enumerate(names):
        for tau in range(horizon, config.max_lag + 1):
            pv, strength = float(p[i, 0, tau]), float(val[i, 0, tau])
            if pv <= config.alpha and math.isfinite(strength):
                found.append(CausalParent(name, tau - horizon, tau, strength, pv))
    found.sort(key=lambda c: (-abs(c.strength), c.feature, c.lag))
    return tuple(found[: config.max_parents])


def save(graph: CausalGraph, results: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write `graph.json` and `graph.png` (links into the target only) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    js = folder / "graph.json"
    tmp = folder / ".graph.json.tmp"
    tmp.write_text(graph.to_json(), encoding="utf-8")
    tmp.replace(js)
    png = folder / "graph.png"
    _plot(graph, results, png)
    return js, png


def _plot(graph: CausalGraph, results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tigramite import plotting as tp

    if not graph.parents:
        # tigramite cannot draw a graph without links; the run reports "no causal parent" itself.
        fig, ax = plt.subplots(figsize=(7, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no causal parent of {graph.target} at this alpha", ha="center")
        fig.savefig(out, dpi=110)
        plt.close(fig)
        return
    names: list[str] = results["var_names"]
    shown = [graph.target, *dict.fromkeys(p.feature for p in graph.parents)]
    idx = [names.index(n) for n in shown]
    links = np.full((len(idx), len(idx), results["graph"].shape[2]), "", dtype="<U3")
    vals = np.zeros(links.shape)
    for a, i in enumerate(idx):
        for tau in range(links.shape[2]):
            if any(p.feature == names[i] and p.tau == tau for p in graph.parents):
                links[a, 0, tau] = "-->"
                vals[a, 0, tau] = results["val_matrix"][i, 0, tau]
    fig, ax = plt.subplots(figsize=(7, 6))
    tp.plot_graph(graph=links, val_matrix=vals, var_names=shown, fig_ax=(fig, ax),
                  show_colorbar=False)  # fmt: skip
    ax.set_title(f"causal parents of {graph.target} (edge label: lag tau in bars)")
    fig.savefig(out, dpi=110)
    plt.close(fig)
