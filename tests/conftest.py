"""Shared fixtures: where the real recorded data lives (../shared beside the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"real data not found at {path}; put shared/ beside the checkout")
    return path


# Shared 2-core machines stall now and then: no per-example deadline. On CI (CI=true) examples
# are derandomized so a run is repeatable; locally hypothesis keeps exploring.
settings.register_profile("nexusforge", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("nexusforge")
