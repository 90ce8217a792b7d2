"""The coverage-guided (atheris) fuzz targets of `atheris_fuzz.py`, each for a small fixed budget
(NEXUSFORGE_ATHERIS_RUNS, default 500 inputs) seeded with real recordings: none may crash. The
long run is `python tests/fuzz/atheris_fuzz.py TARGET CORPUS_DIR -runs=1000000`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("atheris_fuzz.py")
RUNS = int(os.environ.get("NEXUSFORGE_ATHERIS_RUNS", "500"))
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed"),
    pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data not present"),
]


@pytest.mark.parametrize("target", ["bybit-ws", "bybit-execution", "bybit-v2", "binance"])
def test_target_survives_its_budget(target: str, tmp_path: Path) -> None:
    cmd = [sys.executable, str(HARNESS), target, str(tmp_path / "corpus"), f"-runs={RUNS}",
           f"-artifact_prefix={tmp_path}/", "-seed=1"]  # fmt: skip
    # our own interpreter and harness, no shell
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Done {RUNS} runs" in run.stderr
    assert not list(tmp_path.glob("crash-*"))
