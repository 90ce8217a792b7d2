"""The validation gate: walk-forward, Monte Carlo, null tests, deflated Sharpe, PBO, causal
refutation and stress paths; only strategies that pass every check become challengers."""

from nexusforge.forge.validate.bootstrap import MonteCarlo, monte_carlo
from nexusforge.forge.validate.deflated_sharpe import (
    DeflatedSharpe,
    deflated_sharpe,
    deflated_sharpe_of,
    expected_max_sharpe,
    probabilistic_sharpe,
)
from nexusforge.forge.validate.pbo import PboResult, pbo
from nexusforge.forge.validate.permutation import NullTest, null_table, null_test
from nexusforge.forge.validate.refute import RefuteConfig, RefuteResult, refute
from nexusforge.forge.validate.stress import StressResult, stress
from nexusforge.forge.validate.walk_forward import (
    ForgeFitter,
    GridFitter,
    WalkForward,
    WalkForwardConfig,
    walk_forward,
)

__all__ = [
    "DeflatedSharpe",
    "ForgeFitter",
    "GridFitter",
    "MonteCarlo",
    "NullTest",
    "PboResult",
    "RefuteConfig",
    "RefuteResult",
    "StressResult",
    "WalkForward",
    "WalkForwardConfig",
    "deflated_sharpe",
    "deflated_sharpe_of",
    "expected_max_sharpe",
    "monte_carlo",
    "null_table",
    "null_test",
    "pbo",
    "probabilistic_sharpe",
    "refute",
    "stress",
    "walk_forward",
]
