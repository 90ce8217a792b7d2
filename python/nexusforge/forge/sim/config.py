"""Simulator configuration: a scenario's complete settings with your overrides on top.

A config is a nested mapping of sections, the same shape as its TOML file:

    duration_s, seed                      run length (simulated seconds) and seed
    [market]      tick_size, lot_size, maker_fee, taker_fee, vol_window_s
    [process]     fundamental value: initial_price, vol_per_day, drift_per_day,
                  mean_reversion_per_s, two stochastic-volatility factors (vol_of_vol,
                  vol_reversion_per_s, vol2_of_vol, vol2_reversion_per_s), jump_rate_per_hour,
                  jump_mean, jump_std, step_ms
    [agents.market_maker] [agents.hft] [agents.informed] [agents.noise] [agents.momentum]
    [agents.metaorder]
                  count, latency = {order_us, md_us, jitter_us}, and per-type parameters
                  (makers: anchor_weight and flow_* for a reference that moves with order
                  flow, size_dispersion, join_slices / join_interval_s for a level posted in
                  slices; metaorder: Pareto parent sizes worked as children)
    [strategy]    the strategy under test: latency, interval_s, max_position_lots,
                  max_order_lots, start_s
    [sampling]    top_interval_s, l2_interval_s, l2_levels, mid_interval_s, record_events

Every key and its meaning is documented on the Rust structs (`rust/src/sim/config.rs`); the
defaults come from there too (`SimConfig.scenario(name).to_dict()` shows them all). Unknown
keys, wrong types and out-of-range values raise `ConfigError` naming the dotted key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusforge._core import CoreInputError, sim_check_config, sim_scenario_config, sim_scenarios
from nexusforge.config_file import load_toml
from nexusforge.errors import ConfigError

SCENARIOS: tuple[str, ...] = tuple(sim_scenarios())
DEFAULT_SCENARIO = "calm"
# A TOML file may name the scenario it starts from with this top-level key.
SCENARIO_KEY = "scenario"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """A complete, validated configuration (build it with `scenario`, `from_dict`, `from_toml`)."""

    json: str

    @classmethod
    def scenario(cls, name: str = DEFAULT_SCENARIO, **overrides: Any) -> SimConfig:
        """A built-in scenario, with dotted-key overrides (`agents__noise__rate=0.1` or a
        mapping through `with_overrides`)."""
        base = cls._base(name)
        dotted = {k.replace("__", "."): v for k, v in overrides.items()}
        return base.with_overrides(dotted) if dotted else base

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: str = DEFAULT_SCENARIO) -> SimConfig:
        """`data` (nested sections, as in TOML) laid over the scenario `base`."""
        merged = _merge(cls._base(base).to_dict(), data, "")
        return cls._checked(merged)

    @classmethod
    def from_toml(cls, path: Path) -> SimConfig:
        """A TOML file; its optional top-level `scenario` names the base (default calm). A bad
        key's error names the file and the key's line."""
        return load_toml(path, "simulator", cls._from_document)

    @classmethod
    def _from_document(cls, data: dict[str, Any]) -> SimConfig:
        base = data.pop(SCENARIO_KEY, DEFAULT_SCENARIO)
        if not isinstance(base, str):
            raise ConfigError(f"{SCENARIO_KEY} must be a scenario name, got {base!r}")
        return cls.from_dict(data, base=base)

    def with_overrides(self, overrides: Mapping[str, Any]) -> SimConfig:
        """A copy with dotted keys (`"agents.noise.rate"`) set."""
        nested: dict[str, Any] = {}
        for key, value in overrides.items():
            parts = key.split(".")
            node = nested
            for p in parts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"override {key!r} clashes with another override")
            node[parts[-1]] = value
        return self._checked(_merge(self.to_dict(), nested, ""))

    def to_dict(self) -> dict[str, Any]:
        """The full nested configuration (a fresh copy)."""
        data: dict[str, Any] = json.loads(self.json)
        return data

    def get(self, key: str) -> Any:
        """The value at a dotted key."""
        node: Any = self.to_dict()
        for p in key.split("."):
            if not isinstance(node, dict) or p not in node:
                raise ConfigError(f"unknown key {key!r}")
            node = node[p]
        return node

    @property
    def seed(self) -> int:
        return int(self.get("seed"))

    @property
    def duration_s(self) -> float:
        return float(self.get("duration_s"))

    @property
    def tick_size(self) -> float:
        return float(self.get("market.tick_size"))

    @property
    def lot_size(self) -> float:
        return float(self.get("market.lot_size"))

    @classmethod
    def _base(cls, name: str) -> SimConfig:
        if name not in SCENARIOS:
            raise ConfigError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        return cls(sim_scenario_config(name))

    @classmethod
    def _checked(cls, data: dict[str, Any]) -> SimConfig:
        text = json.dumps(data, allow_nan=True)
        try:
            sim_check_config(text)
        except CoreInputError as exc:
            raise ConfigError(str(exc).removeprefix("invalid input: ")) from None
        return cls(text)


def _merge(base: dict[str, Any], data: Mapping[str, Any], path: str) -> dict[str, Any]:
    """`base` with `data` laid over it; every key must exist in `base` with a compatible type."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path.rstrip('.') or 'config'} must be a table, got {data!r}")
    out = dict(base)
    for key, value in data.items():
        dotted = f"{path}{key}"
        if key not in base:
            raise ConfigError(_unknown(dotted, path, base))
        if isinstance(base[key], dict):
            out[key] = _merge(base[key], value, f"{dotted}.")
        else:
            out[key] = _coerce(dotted, base[key], value)
    return out


def _unknown(dotted: str, path: str, base: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(base))
    if path == "agents.":
        return f"unknown agent type {dotted.removeprefix(path)!r}; known: {known}"
    return f"unknown key {dotted!r}; known here: {known}"


def _coerce(key: str, default: Any, value: Any) -> Any:
    """`value` in the type of `default` (ints widen to floats, nothing else converts)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        # Every whole-number setting is a count, a size or the seed.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{key} must be a non-negative integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be finite, got {value!r}")
        return float(value)
    raise ConfigError(f"{key} has an unsupported type")
