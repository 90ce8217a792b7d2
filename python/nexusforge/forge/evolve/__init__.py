"""Forge's intelligence core: causal discovery (tigramite PCMCI), a typed GP over the causal
parents (DEAP), LightGBM surrogate screening, causal fitness on train/test/trade windows, and
challenger files. The MAML head (`meta`, PyTorch) is imported on its own, never from here, so
that importing Forge (or the head's NumPy twin `meta_head`) does not load torch."""

from nexusforge.forge.evolve.causal import CausalConfig, CausalGraph, CausalParent, discover
from nexusforge.forge.evolve.fitness import FitnessConfig, WindowEvaluator, make_folds, scores
from nexusforge.forge.evolve.gp import Evolution, GpConfig, SurrogateConfig
from nexusforge.forge.evolve.primitives import Term, build_pset, from_expr, to_expr
from nexusforge.forge.evolve.run import (
    ForgeConfig,
    RunSummary,
    load_config,
    run_forge,
    run_on_table,
)
from nexusforge.forge.evolve.surrogate import Surrogate, Vectorizer
from nexusforge.forge.evolve.table import ResearchTable, from_bars, load_research_table

__all__ = [
    "CausalConfig",
    "CausalGraph",
    "CausalParent",
    "Evolution",
    "FitnessConfig",
    "ForgeConfig",
    "GpConfig",
    "ResearchTable",
    "RunSummary",
    "Surrogate",
    "SurrogateConfig",
    "Term",
    "Vectorizer",
    "WindowEvaluator",
    "build_pset",
    "discover",
    "from_bars",
    "from_expr",
    "load_config",
    "load_research_table",
    "make_folds",
    "run_forge",
    "run_on_table",
    "scores",
    "to_expr",
]
