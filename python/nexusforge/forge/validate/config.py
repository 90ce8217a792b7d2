"""The gate's settings: pass thresholds (defaults from issue 7) and how much Monte Carlo,
null-search, PBO, refutation and stress work to do. Unknown keys are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from nexusforge.config_file import load_toml
from nexusforge.errors import ConfigError
from nexusforge.forge.validate.refute import RefuteConfig
from nexusforge.forge.validate.walk_forward import WalkForwardConfig
from nexusforge.nexus.config_locate import msgspec_message


class GateConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Thresholds and workload of the validation gate."""

    min_dsr: float = 0.95
    # The trials' Sharpe variance behind the DSR's benchmark: "null" = each trial's Sharpe
    # variance across the null histories (zero skill, as the theorem assumes); "trials" =
    # their cross-sectional variance in the run (evaluations.parquet), which also counts
    # real skill, cost and sign differences between trials as luck.
    dsr_variance: str = "null"
    max_pbo: float = 0.2
    max_p_value: float = 0.05
    min_oos_sharpe: float = 0.0  # net annualised OOS Sharpe must be above this
    require_refuters: bool = True
    require_stress: bool = False  # stress is recorded; gating needs simulator features
    max_ruin_probability: float = 1.0  # 1.0: recorded, not gated
    nulls: int = 19
    null_block: int = 288
    pbo_blocks: int = 16
    pbo_max_strategies: int = 300
    bootstrap_paths: int = 1000
    bootstrap_block: float = 288.0
    ruin_drawdown: float = 0.5
    stress_seeds: int = 2
    stress_duration_s: float = 600.0
    seed: int = 0
    # Rust threads for re-scoring the trials on the null histories (None: every core).
    threads: int | None = None
    # False: the DoWhy refuters (seconds per candidate) run only for candidates that passed
    # every cheaper check; a candidate already rejected records them as skipped.
    refute_all: bool = False
    # Validated challengers are also written here; None: the run's own `challenger_dir`
    # (the Pit Crew folder of its forge config), when it has one.
    challenger_dir: str | None = None
    refute: RefuteConfig = msgspec.field(default_factory=RefuteConfig)
    walk_forward: WalkForwardConfig | None = None  # GP refit per step when set (slow)

    def __post_init__(self) -> None:
        if self.dsr_variance not in ("null", "trials"):
            raise ValueError("dsr_variance must be null or trials")
        if not 0.0 <= self.min_dsr <= 1.0 or not 0.0 <= self.max_pbo <= 1.0:
            raise ValueError("min_dsr and max_pbo must be in [0, 1]")
        if not 0.0 < self.max_p_value <= 1.0 or not 0.0 <= self.max_ruin_probability <= 1.0:
            raise ValueError("max_p_value must be in (0, 1] and max_ruin_probability in [0, 1]")
        if not 1 <= self.nulls <= 10_000 or self.null_block < 1:
            raise ValueError("nulls must be in 1..10000 and null_block >= 1")
        if self.pbo_blocks % 2 or not 2 <= self.pbo_blocks <= 16:
            raise ValueError("pbo_blocks must be even, in 2..16")
        if self.pbo_max_strategies < 2 or self.bootstrap_paths < 10:
            raise ValueError("pbo_max_strategies must be >= 2 and bootstrap_paths >= 10")
        if self.bootstrap_block < 1.0 or not 0.0 < self.ruin_drawdown <= 1.0:
            raise ValueError("bootstrap_block must be >= 1 and ruin_drawdown in (0, 1]")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise ValueError("threads must be in 1..1024")
        if self.stress_seeds < 1 or self.stress_duration_s <= 0.0:
            raise ValueError("stress_seeds must be >= 1 and stress_duration_s > 0")


def parse_gate_config(doc: dict[str, Any]) -> GateConfig:
    """A gate config from a plain mapping; a problem is a `ConfigError` naming the key."""
    try:
        return msgspec.convert(doc, GateConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{msgspec_message(str(exc))} (gate config)") from None


def load_gate_config(path: Path | None) -> GateConfig:
    """Read a TOML gate config (defaults when `path` is None)."""
    if path is None:
        return GateConfig()
    return load_toml(path, "gate", parse_gate_config)
