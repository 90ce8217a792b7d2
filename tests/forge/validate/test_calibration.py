"""Null calibration of the whole pipeline at test size: 20 seeded histories with no signal,
each searched by a small Forge run (PCMCI at a loose alpha, so spurious parents reach the GP)
and judged by the gate with its default thresholds; at most 5 % (1 of 20) may pass. The full
sizes (40 null and 20 planted seeds, power >= 80 %) are `benchmarks/gate_calibration.py`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nexusforge.errors import ForgeError
from nexusforge.forge.evolve.run import parse_config, run_on_table
from nexusforge.forge.validate.config import GateConfig
from nexusforge.forge.validate.gate import validate_run
from nexusforge.forge.validate.synthetic import planted_table

SEARCH = """
challengers = 1
[causal]
sample_rows = 600
alpha = 0.2
[gp]
population = 16
generations = 1
[fitness]
folds = 2
[surrogate]
enabled = false
[eval]
backend = "inline"
"""
# Default thresholds and 19 null searches (p can reach 0.05); less bootstrap and PBO work.
GATE = GateConfig(bootstrap_paths=20, pbo_blocks=8, pbo_max_strategies=50)


@pytest.mark.slow
def test_gate_passes_at_most_one_in_twenty_null_histories(tmp_path: Path) -> None:
    passed, judged = 0, 0
    for seed in range(20):
        doc = {**tomllib.loads(SEARCH), "seed": seed}
        out = tmp_path / f"null-{seed}"
        try:
            run_on_table(parse_config(doc), planted_table(seed=700 + seed, rows=2400, beta=0.0),
                         out)  # fmt: skip
        except ForgeError:
            continue  # no causal parent: nothing to evolve, nothing reaches the gate
        res = validate_run(out, GATE)
        judged += len(res.judged)
        passed += bool(res.validated)
        for j in res.judged:  # every rejection names its failed checks
            assert j.decision.passed or j.decision.failed
    # The loose alpha must put most histories through the gate, or the test proves nothing.
    assert judged >= 15, judged
    assert passed <= 1, passed
