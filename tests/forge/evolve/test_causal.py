"""PCMCI on a planted causal structure (parent found at its lag, decoys and noise not) and on
real Bybit history (runs, writes JSON and PNG)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexusforge.errors import ConfigError, DataError
from nexusforge.forge.evolve.causal import CausalConfig, discover, save
from nexusforge.forge.evolve.run import discover_parents, parse_config, research_table
from nexusforge.forge.evolve.table import ResearchTable

FEATURES = ("driver", "decoy_a", "decoy_b", "noise_a", "noise_b")


@pytest.mark.parametrize("target_only", [True, False])
def test_planted_parent_ranks_first_and_decoys_are_excluded(
    planted: ResearchTable, target_only: bool
) -> None:
    cfg = CausalConfig(alpha=0.001, sample_rows=4000, target_only=target_only)
    graph, _ = discover(planted.frame, "ret_h1", FEATURES, cfg)
    assert graph.parents, "the planted driver was not found"
    top = graph.parents[0]
    assert (top.feature, top.tau, top.lag) == ("driver", 2, 1)
    assert {p.feature for p in graph.parents} <= {"driver"}


def test_robust_test_and_pcmciplus_also_find_the_driver(planted: ResearchTable) -> None:
    for cfg in (CausalConfig(alpha=0.001, test="robust_parcorr", sample_rows=2000),
                CausalConfig(alpha=0.001, method="pcmciplus", sample_rows=2000)):  # fmt: skip
        graph, _ = discover(planted.frame, "ret_h1", FEATURES, cfg)
        assert graph.parents[0].feature == "driver"
        assert not {"decoy_a", "decoy_b", "noise_a", "noise_b"} & {p.feature for p in graph.parents}


def test_real_history_writes_json_and_png(real_store: Path, tmp_path: Path) -> None:
    cfg = parse_config({"data": {"max_rows": 20_000}, "causal": {"sample_rows": 2000}})
    table = research_table(cfg, real_store)
    graph, terms = discover_parents(cfg, table, tmp_path)
    doc = json.loads((tmp_path / "causal" / "graph.json").read_text())
    assert doc["target"] == "ret_h1" and doc["rows"] == 2000
    assert len(doc["parents"]) == len(terms) <= cfg.causal.max_parents
    assert "m5_ret" in doc["dropped"]  # an exact copy of the target is not its own parent
    png = (tmp_path / "causal" / "graph.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    for p in graph.parents:
        assert p.p_value <= cfg.causal.alpha and p.lag == p.tau - 1 >= 0


def test_save_replaces_files(planted: ResearchTable, tmp_path: Path) -> None:
    graph, res = discover(planted.frame, "ret_h1", FEATURES, CausalConfig(sample_rows=1000))
    js, png = save(graph, res, tmp_path)
    save(graph, res, tmp_path)
    assert js.exists() and png.exists() and not list(tmp_path.glob(".*tmp"))


def test_bad_settings_and_missing_columns(planted: ResearchTable) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        parse_config({"causal": {"alpha": 2.0}})
    with pytest.raises(ConfigError, match="test must be one of"):
        parse_config({"causal": {"test": "gpdc"}})
    with pytest.raises(DataError, match="lacks columns"):
        discover(planted.frame, "ret_h1", ("driver", "absent"), CausalConfig())
    with pytest.raises(ConfigError, match="horizon"):
        discover(planted.frame, "ret_h1", FEATURES, CausalConfig(max_lag=1), horizon=2)
