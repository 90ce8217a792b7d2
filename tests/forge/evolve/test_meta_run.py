"""`[meta] enabled = true` in a Forge run: every challenger carries a MAML head that parses,
adapts and trades with the NumPy path, plus its trade-window figures; off by default; a regime
feature the table lacks is refused before the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.meta_head import adapt_np, apply_np, from_json
from nexusforge.forge.evolve.meta_report import table_window
from nexusforge.forge.evolve.run import ForgeConfig, parse_config, run_on_table
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.strategy import artifact

torch.set_num_threads(1)
BASE = {
    "seed": 5, "challengers": 2,
    "causal": {"alpha": 0.001, "sample_rows": 1500}, "fitness": {"folds": 2},
    "gp": {"population": 30, "generations": 2}, "eval": {"backend": "inline"},
}  # fmt: skip
META = {"enabled": True, "features": ["noise_a"], "support": 96, "query": 24, "iterations": 10,
        "meta_batch": 4}  # fmt: skip


def test_meta_is_off_by_default() -> None:
    assert not ForgeConfig().meta.enabled
    with pytest.raises(ConfigError):
        parse_config({"meta": {"enabled": True, "warp": 1}})
    with pytest.raises(ConfigError):
        parse_config({"meta": {"support": 3}})


@pytest.mark.slow
def test_run_with_meta_writes_heads_into_challengers(
    planted: ResearchTable, tmp_path: Path
) -> None:
    cfg = parse_config({**BASE, "meta": META, "challenger_dir": str(tmp_path / "pit")})
    run_on_table(cfg, planted, tmp_path / "run")
    chs = sorted((tmp_path / "run" / "challengers").glob("challenger-*.json"))
    assert len(chs) == 2
    assert not (tmp_path / "pit").exists()  # only the validation gate writes there
    for path in chs:
        ch = artifact.read(path)
        assert ch.head is not None
        head = from_json(ch.head)
        assert head.features == ("noise_a",)
        assert (head.support, head.query, head.steps) == (96, 24, 3)
        for way in ("adapted", "unadapted", "signal"):
            assert isinstance(ch.scores[f"meta_{way}_trade_mean_bps"], float)
        win = table_window(planted, ch.expr, head.features)
        live = adapt_np(head, win.rows(slice(5000, 5096)))
        pos = apply_np(live, win.signal[5096:5120], win.features[5096:5120])
        assert np.all(np.abs(pos) <= 1.0) and np.any(pos != 0.0)


def test_unknown_regime_feature_is_refused_before_the_search(
    planted: ResearchTable, tmp_path: Path
) -> None:
    cfg = parse_config({**BASE, "meta": {**META, "features": ["h1_rv"]}})
    with pytest.raises(ConfigError, match="h1_rv"):
        run_on_table(cfg, planted, tmp_path)
    assert not (tmp_path / "causal").exists() and not (tmp_path / "challengers").exists()


@pytest.mark.slow
def test_real_history_run_with_meta(real_store: Path, tmp_path: Path) -> None:
    """A tiny `forge run` over the real Bybit BTCUSDT 5 m 2025 store with the default regime
    features: the challengers carry heads; their trade-window figures are printed, not judged."""
    from nexusforge.forge.evolve.run import run_forge

    cfg = parse_config({
        "seed": 5, "challengers": 1, "data": {"max_rows": 12000},
        "causal": {"sample_rows": 1500}, "gp": {"population": 30, "generations": 2},
        "fitness": {"folds": 2}, "surrogate": {"min_train": 20}, "eval": {"backend": "inline"},
        "meta": {"enabled": True, "iterations": 20, "meta_batch": 8},
    })  # fmt: skip
    summary = run_forge(cfg, real_store, tmp_path / "run")
    ch = artifact.read(summary.challengers[0])
    assert ch.head is not None and from_json(ch.head).features == ("h1_rv", "h1_ret")
    print(summary.hall_of_fame[0], {k: v for k, v in ch.scores.items() if k.startswith("meta_")})
