"""Every parser of outside files (strategy and challenger files; engine, exchange, forge, gate and
simulator configs) fed mutated real inputs: only the documented error types
escape (ExpressionError, ArtifactError, ConfigError, DataError)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from fuzzx import FUZZ, mutated
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import ArtifactError, ConfigError, ExpressionError
from nexusforge.forge.evolve.run import load_config as load_forge_config
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.validate.config import load_gate_config
from nexusforge.nexus.config import load_config
from nexusforge.nexus.model import champion_names
from nexusforge.nexus.venues.local.config import ExchangeConfig
from nexusforge.strategy import artifact, codec

ROOT = Path(__file__).resolve().parents[2]
CHAMPIONS = ROOT / "python/nexusforge/nexus/champions"
CHAMPION = (CHAMPIONS / f"{champion_names()[0]}.json").read_bytes()
CHALLENGER = artifact.dumps(
    artifact.Challenger(codec.loads(CHAMPION), {"sharpe": 1.0}, {"a": "b"}, {}, {}, None)
).encode()
ENGINE_TOML = b"""[engine]
symbol = "LTCUSDT"
capital = "10000"
round_interval_s = 0.2
kill_fraction = "0.5"
[venue]
kind = "custom"
port = 9000
[[models]]
name = "a"
strategy = "champion:book_imbalance"
"""
EXCHANGE_TOML = b"""[exchange]
mode = "replay"
port = 0
[[keys]]
key = "k"
secret = "s"
[instruments.LTCUSDT]
tick_size = "0.01"
qty_step = "0.1"
min_notional = "5"
[rate_limits]
order_write = 10
"""

FORGE_TOML = (ROOT / "examples/forge.toml").read_bytes()
SIM_TOML = (ROOT / "examples/sim/fidelity.toml").read_bytes()
GATE_TOML = b"""min_dsr = 0.95
dsr_variance = "null"
max_pbo = 0.2
max_p_value = 0.05
require_refuters = true
nulls = 19
null_block = 288
pbo_blocks = 16
bootstrap_paths = 1000
bootstrap_block = 288.0
stress_seeds = 2
"""
CONFIG_SEEDS = {"engine": ENGINE_TOML, "exchange": EXCHANGE_TOML, "forge": FORGE_TOML,
                "gate": GATE_TOML, "sim": SIM_TOML}  # fmt: skip


@FUZZ
@given(mutated(CHAMPION))
def test_strategy_codec_raises_only_expression_error(data: bytes) -> None:
    with contextlib.suppress(ExpressionError):
        codec.loads(data)


@FUZZ
@given(mutated(CHALLENGER))
def test_challenger_files_raise_only_artifact_error(data: bytes) -> None:
    with contextlib.suppress(ArtifactError):
        artifact.loads(data)


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c,
                                                                         max_size=4),
                    max_leaves=30))  # fmt: skip
def test_codec_structured_documents(expr: object) -> None:
    with contextlib.suppress(ExpressionError):
        codec.loads(json.dumps({"schema": 1, "expr": expr}))


LOADERS: dict[str, Callable[[Path], object]] = {
    "engine": load_config,
    "exchange": ExchangeConfig.from_toml,
    "forge": load_forge_config,
    "gate": load_gate_config,
    "sim": SimConfig.from_toml,
}


def _load_toml(data: bytes, loader: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cfg.toml"
        path.write_bytes(data)
        LOADERS[loader](path)


def test_every_config_seed_loads_unmutated() -> None:
    """The fuzz below starts from valid files (else it would test only the TOML parser)."""
    for name, seed in CONFIG_SEEDS.items():
        _load_toml(seed, name)


@FUZZ
@given(mutated(ENGINE_TOML))
def test_engine_config_raises_only_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        _load_toml(data, "engine")


@FUZZ
@given(mutated(EXCHANGE_TOML))
def test_exchange_config_raises_only_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        _load_toml(data, "exchange")


@FUZZ
@given(mutated(FORGE_TOML))
def test_forge_config_raises_only_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        _load_toml(data, "forge")


@FUZZ
@given(mutated(GATE_TOML))
def test_gate_config_raises_only_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        _load_toml(data, "gate")


@FUZZ
@given(mutated(SIM_TOML))
def test_sim_config_raises_only_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        _load_toml(data, "sim")
