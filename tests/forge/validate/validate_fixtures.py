"""The tiny Forge config and synthetic tables (a planted driver, or none) the validation
tests share."""

from __future__ import annotations

import tomllib

from nexusforge.forge.evolve.run import ForgeConfig, parse_config
from nexusforge.forge.validate.synthetic import BARS_PER_YEAR, planted_table

__all__ = ["BARS_PER_YEAR", "TINY", "planted_table", "real_config", "tiny_config"]

TINY = """
seed = 3
challengers = 2
[causal]
sample_rows = 1500
alpha = {alpha}
[gp]
population = 30
generations = 2
[fitness]
folds = 2
[surrogate]
min_train = 20
[eval]
backend = "inline"
"""


def tiny_config(alpha: float = 0.01) -> ForgeConfig:
    return parse_config(tomllib.loads(TINY.format(alpha=alpha)))


def real_config() -> dict[str, object]:
    """The tiny search on the last 12,000 real bars."""
    cfg = tomllib.loads(TINY.format(alpha=0.01))
    cfg["seed"] = 5
    cfg["data"] = {"max_rows": 12000}
    return cfg
