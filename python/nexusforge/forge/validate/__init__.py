"""The validation gate: walk-forward, Monte Carlo, null tests, deflated Sharpe, PBO, causal
refutation and stress paths; only strategies that pass every check become challengers."""

from nexusforge.forge.validate.bootstrap import MonteCarlo, monte_carlo
from nexusforge.forge.validate.config import GateConfig, load_gate_config, parse_gate_config
from nexusforge.forge.validate.deflated_sharpe import (
    DeflatedSharpe,
    deflated_sharpe,
    deflated_sharpe_of,
    expected_max_sharpe,
    probabilistic_sharpe,
)
from nexusforge.forge.validate.gate import Check, Decision, GateResult, validate_run
from nexusforge.forge.validate.pbo import PboResult, pbo
from nexusforge.forge.validate.permutation import (
    NullTest,
    PopulationNull,
    null_table,
    null_test,
    population_null,
)
from nexusforge.forge.validate.refute import RefuteConfig, RefuteResult, refute
from nexusforge.forge.validate.report import write_report
from nexusforge.forge.validate.run_folder import RunFolder, read_run
from nexusforge.forge.validate.stress import StressResult, stress
from nexusforge.forge.validate.walk_forward import (
    ForgeFitter,
    GridFitter,
    WalkForward,
    WalkForwardConfig,
    walk_forward,
)

__all__ = [
    "Check",
    "Decision",
    "DeflatedSharpe",
    "ForgeFitter",
    "GateConfig",
    "GateResult",
    "GridFitter",
    "MonteCarlo",
    "NullTest",
    "PboResult",
    "PopulationNull",
    "RefuteConfig",
    "RefuteResult",
    "RunFolder",
    "StressResult",
    "WalkForward",
    "WalkForwardConfig",
    "deflated_sharpe",
    "deflated_sharpe_of",
    "expected_max_sharpe",
    "load_gate_config",
    "monte_carlo",
    "null_table",
    "null_test",
    "parse_gate_config",
    "pbo",
    "population_null",
    "probabilistic_sharpe",
    "read_run",
    "refute",
    "stress",
    "validate_run",
    "walk_forward",
    "write_report",
]
