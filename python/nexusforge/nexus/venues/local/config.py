"""Settings of the local exchange: mode, API keys, account, fees, rate limits, replay source.

Built from a dict or a TOML file (`[exchange]`, `[[keys]]`, `[rate_limits]`, `[replay]`,
`[instruments.SYMBOL]`). API secrets live in `Secret`, whose repr never shows the value, so a
config printed in a log or a traceback leaks nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, TypeVar

from nexusforge.config_file import load_toml
from nexusforge.errors import ConfigError
from nexusforge.market.costs import BYBIT_FEE_TIERS

Mode = Literal["replay", "sim"]
T = TypeVar("T")
MODES: tuple[Mode, ...] = ("replay", "sim")

# The recorded Bybit public streams bundled in shared/data: the v5 XRPUSDT ob500 history (real
# Bybit archive) and the 2021 public capture of eight USDT perps with trades (v2 schema).
DEFAULT_REPLAY_NAMES = (
    "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip",
    "bybit/market/bybit_legacy_v2_linear_ws_20210417.txt",
)


class Secret:
    """A string whose repr and str hide it; `reveal()` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ApiKey:
    """One API key of the exchange's single account."""

    key: str
    secret: Secret


@dataclass(frozen=True)
class RateLimits:
    """Requests per second per key, by endpoint group (Bybit's linear defaults)."""

    order_write: int = 10  # create / amend / cancel / cancel-all
    order_read: int = 50  # order realtime / history, execution list
    account_read: int = 50  # position list, wallet balance, fee rate

    def __post_init__(self) -> None:
        for name in ("order_write", "order_read", "account_read"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ConfigError(f"rate_limits.{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True)
class InstrumentOverride:
    """Trading rules given in the config for one symbol (others are inferred from the data)."""

    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal | None = None
    max_qty: Decimal = Decimal("1000000000")
    max_market_qty: Decimal | None = None
    min_notional: Decimal = Decimal("5")


@dataclass(frozen=True)
class ExchangeConfig:
    """Frozen settings of one local exchange."""

    mode: Mode = "replay"
    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port
    keys: tuple[ApiKey, ...] = ()
    initial_balance: Decimal = Decimal("100000")
    leverage: Decimal = Decimal("10")
    fee_tier: str = "VIP0"
    rate_limits: RateLimits = field(default_factory=RateLimits)
    replay_files: tuple[Path, ...] = ()
    speed: float = 1.0  # replay speed vs the recording's clock; 0 = as fast as possible
    loop: bool = True  # replay again from the start when the recording ends
    start_paused: bool = False
    instruments: dict[str, InstrumentOverride] = field(default_factory=dict)
    funding_rate: Decimal = Decimal("0.0001")
    sim_seed: int = 7
    sim_symbol: str = "BTCUSDT"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"exchange.mode must be one of {MODES}, got {self.mode!r}")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"exchange.host must be a loopback address, got {self.host!r}")
        if not (isinstance(self.port, int) and 0 <= self.port < 65536):
            raise ConfigError(f"exchange.port must be in [0, 65535], got {self.port!r}")
        if self.fee_tier not in BYBIT_FEE_TIERS:
            raise ConfigError(f"exchange.fee_tier must be one of {list(BYBIT_FEE_TIERS)}")
        if not (math.isfinite(self.speed) and self.speed >= 0):
            raise ConfigError(f"replay.speed must be finite and >= 0, got {self.speed!r}")
        if not self.initial_balance >= 0:
            raise ConfigError("exchange.initial_balance must be >= 0")
        if not Decimal(1) <= self.leverage <= Decimal(100):
            raise ConfigError(f"exchange.leverage must be in [1, 100], got {self.leverage}")
        names = [k.key for k in self.keys]
        if len(set(names)) != len(names):
            raise ConfigError("keys: api keys must be unique")

    @property
    def fee_rates(self) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates as exact decimals of the cost model's tier."""
        maker, taker = BYBIT_FEE_TIERS[self.fee_tier]
        return Decimal(repr(maker)), Decimal(repr(taker))

    def secret_for(self, key: str) -> Secret | None:
        for api_key in self.keys:
            if api_key.key == key:
                return api_key.secret
        return None

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base: Path | None = None) -> ExchangeConfig:
        """Build from the TOML layout; relative replay paths are resolved against `base`."""
        try:
            return _from_dict(raw, base or Path.cwd())
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ConfigError(f"bad exchange config: {exc!r}") from exc

    @classmethod
    def from_toml(cls, path: Path) -> ExchangeConfig:
        """A TOML file; a bad value's error names the file and its line."""
        return load_toml(path, "exchange", lambda raw: cls.from_dict(raw, path.parent))


def default_replay_files(shared_data: Path | None = None) -> tuple[Path, ...]:
    """The bundled recordings under shared/data (env NEXUSFORGE_SHARED, else ../shared)."""
    if shared_data is None:
        root = os.environ.get("NEXUSFORGE_SHARED")
        shared = Path(root) if root else Path(__file__).resolve().parents[5].parent / "shared"
        shared_data = shared / "data"
    return tuple(shared_data / name for name in DEFAULT_REPLAY_NAMES)


SECTIONS = frozenset({"exchange", "keys", "replay", "instruments", "rate_limits"})
EXCHANGE_KEYS = frozenset(
    {"mode", "host", "port", "initial_balance", "leverage", "fee_tier", "funding_rate",
     "sim_seed", "sim_symbol"}
)  # fmt: skip
REPLAY_KEYS = frozenset({"files", "speed", "loop", "start_paused"})
INSTRUMENT_KEYS = frozenset(
    {"tick_size", "qty_step", "min_qty", "max_qty", "max_market_qty", "min_notional"}
)


def _from_dict(raw: dict[str, Any], base: Path) -> ExchangeConfig:
    _refuse_unknown(raw, "", SECTIONS)
    ex = dict(_table(raw, "exchange"))
    _refuse_unknown(ex, "exchange.", EXCHANGE_KEYS)
    keys = tuple(_api_key(i, k) for i, k in enumerate(raw.get("keys", [])))
    replay = dict(_table(raw, "replay"))
    _refuse_unknown(replay, "replay.", REPLAY_KEYS)
    files = tuple(_path(p, base) for p in replay.get("files", ()))
    insts = {}
    for sym, spec in _table(raw, "instruments").items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"instruments.{sym}: expected a table, got {spec!r}")
        _refuse_unknown(spec, f"instruments.{sym}.", INSTRUMENT_KEYS)
        try:
            insts[str(sym).upper()] = _instrument(spec)
        except ValueError as exc:
            raise ConfigError(f"instruments.{sym}: {exc}") from None
    limits = dict(_table(raw, "rate_limits"))
    for name in sorted(limits.keys() - {"order_write", "order_read", "account_read"}):
        raise ConfigError(f"rate_limits.{name}: unknown key")
    kwargs: dict[str, Any] = {
        "keys": keys,
        "rate_limits": RateLimits(**limits),
        "replay_files": files,
        "instruments": insts,
    }
    for name in ("mode", "host", "fee_tier", "sim_symbol"):
        if name in ex:
            kwargs[name] = str(ex[name])
    for name in ("port", "sim_seed"):
        if name in ex:
            kwargs[name] = _value(ex, "exchange", name, int, "an integer")
    for name in ("initial_balance", "leverage", "funding_rate"):
        if name in ex:
            kwargs[name] = _value(ex, "exchange", name, lambda v: Decimal(str(v)), "a number")
    if "speed" in replay:
        kwargs["speed"] = _value(replay, "replay", "speed", float, "a number")
    for name in ("loop", "start_paused"):
        if name in replay:
            kwargs[name] = _flag(replay, "replay", name)
    return ExchangeConfig(**kwargs)


def _table(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a table, got {value!r}")
    return value


def _refuse_unknown(table: Mapping[str, Any], prefix: str, known: frozenset[str]) -> None:
    """A misspelt key would silently fall back to its default: name it instead."""
    for name in sorted(set(table) - known):
        raise ConfigError(f"{prefix}{name}: unknown key (known: {', '.join(sorted(known))})")


def _flag(table: Mapping[str, Any], section: str, name: str) -> bool:
    value = table[name]
    if not isinstance(value, bool):  # bool("no") is True: a string here is a mistake
        raise ConfigError(f"{section}.{name}: expected true or false, got {value!r}")
    return value


def _value(
    table: Mapping[str, Any], section: str, name: str, conv: Callable[[Any], T], kind: str
) -> T:
    """`conv` of the value at `section.name`; a ConfigError naming that key when it fails."""
    try:
        return conv(table[name])
    except (TypeError, ValueError, ArithmeticError):  # decimal.InvalidOperation: Arithmetic
        raise ConfigError(f"{section}.{name}: expected {kind}, got {table[name]!r}") from None


def _api_key(i: int, entry: Any) -> ApiKey:
    """The i-th `[[keys]]` table (the secret's value never appears in an error)."""
    for name in ("key", "secret"):
        if not isinstance(entry, Mapping) or name not in entry:
            raise ConfigError(f"keys[{i}].{name}: missing")
    _refuse_unknown(entry, f"keys[{i}].", frozenset({"key", "secret"}))
    return ApiKey(str(entry["key"]), Secret(str(entry["secret"])))


def _path(raw: object, base: Path) -> Path:
    path = Path(str(raw)).expanduser()
    return path if path.is_absolute() else base / path


def _instrument(spec: Mapping[str, Any]) -> InstrumentOverride:
    def dec(name: str) -> Decimal | None:
        if name not in spec:
            return None
        try:
            return Decimal(str(spec[name]))
        except ArithmeticError:  # decimal.InvalidOperation
            raise ValueError(f"{name} must be a number, got {spec[name]!r}") from None

    tick, step = dec("tick_size"), dec("qty_step")
    if tick is None or step is None or tick <= 0 or step <= 0:
        raise ValueError("an instrument needs tick_size and qty_step > 0")
    return InstrumentOverride(
        tick_size=tick,
        qty_step=step,
        min_qty=dec("min_qty"),
        max_qty=_or(dec("max_qty"), Decimal("1000000000")),
        max_market_qty=dec("max_market_qty"),
        min_notional=_or(dec("min_notional"), Decimal("5")),
    )


def _or(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value
