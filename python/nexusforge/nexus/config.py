"""The engine's settings: a TOML file over embedded defaults, validated with the bad key named.

Schema (every key optional; the defaults below are what an empty file gives):

    [engine]
    symbol = "LTCUSDT"              # the USDT linear perpetual all models trade
    journal = "nexus-journal.sqlite"  # SQLite (WAL) journal; relative to the config file
    journal_synchronous = "FULL"    # FULL | NORMAL | EXTRA (FULL: on disk before we act)
    capital = "10000"               # USDT per model ledger (a decimal string or number)
    max_position = "100"            # cap on |position| per model, base units
    round_interval_s = 1.0          # at most one decision round per interval (on a book event)
    orderbook_depth = 50            # public orderbook topic depth (1, 50, 200, 500)
    kill_file = "nexus.kill"        # its existence trips the kill switch ("" = no file);
                                    # relative paths (and journal) resolve beside the config
    kill_fraction = "0"             # kill a model at equity <= fraction x capital (0: at <= 0)
    check_interval_s = 1.0          # how often the invariant is verified against the venue
    challenger_dir = ""             # Pit Crew intake folder ("" = no shadow challengers);
                                    # relative paths resolve beside the config
    cwo_interval_s = 60.0           # CWO: re-weight the models this often
    bar_interval_s = 300            # base bar of the research table's bar/MTFA features, from
                                    # the venue's closed klines (a Bybit kline length; 0 = off)
    bar_horizons = [1]              # past returns ret_h{h} in bars (Forge's data.horizon)
    bar_turnover = "estimated"      # VWAP's turnover: volume x typical price, as research has
                                    # it from candle files without one (Bybit's), or "recorded"

    [venue]
    kind = "local"                  # local (in-process exchange) | custom | testnet | mainnet
    host = "127.0.0.1"              # custom/local only
    port = 8931                     # custom/local only
    keyfile = ""                    # custom/testnet/mainnet: 0600 TOML keyfile, else the
                                    # NEXUSFORGE_BYBIT_API_KEY/_SECRET environment variables

    [local]                         # the exchange `kind = "local"` starts in-process
    speed = 20.0                    # replay speed (0 = as fast as possible); 20x warms the
                                    # champions' windows (up to 5000 events) in minutes
    replay_files = []               # default: the bundled Bybit recordings under shared/data

    [dashboard]                     # the live dashboard `nexus run` serves on 127.0.0.1
    port = 8940                     # TCP port (0 = any free port); --dashboard-port wins
    reports = "reports"             # folder of research reports (HTML/PNG) it lists and opens;
                                    # relative to the working directory, where the report
                                    # commands write (`nexusforge backtest --report reports/…`)

    [[models]]                      # default: the six bundled champions, equal weights
    name = "book_imbalance"
    strategy = "champion:book_imbalance"   # or a path to a strategy JSON file
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from nexusforge.config_file import read_toml
from nexusforge.errors import ConfigError
from nexusforge.nexus.bar_feed import KLINE_INTERVALS, TURNOVER_KINDS, BarSpec
from nexusforge.nexus.config_locate import locate_error
from nexusforge.nexus.model import champion_names

VENUE_KINDS = ("local", "custom", "testnet", "mainnet")
SYNC_MODES = ("FULL", "NORMAL", "EXTRA")
BOOK_DEPTHS = (1, 50, 200, 500)
CHAMPION_PREFIX = "champion:"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model slot: its name and where its strategy comes from."""

    name: str
    strategy: str


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """Which venue the engine trades on."""

    kind: str = "local"
    host: str = "127.0.0.1"
    port: int = 8931
    keyfile: str = ""


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """The in-process local exchange (venue kind `local`)."""

    speed: float = 20.0
    replay_files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """The engine's dashboard: its port and the reports folder it lists."""

    port: int = 8940
    reports: str = "reports"


def default_models() -> tuple[ModelSpec, ...]:
    """The six bundled champions."""
    return tuple(ModelSpec(n, CHAMPION_PREFIX + n) for n in champion_names())


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything `nexusforge nexus run` needs."""

    symbol: str = "LTCUSDT"
    journal: Path = Path("nexus-journal.sqlite")
    journal_synchronous: str = "FULL"
    capital: Decimal = Decimal(10_000)
    max_position: Decimal = Decimal(100)
    round_interval_s: float = 1.0
    orderbook_depth: int = 50
    kill_file: str = "nexus.kill"
    kill_fraction: Decimal = Decimal(0)
    check_interval_s: float = 1.0
    challenger_dir: str = ""
    cwo_interval_s: float = 60.0
    bar_interval_s: int = 300
    bar_horizons: tuple[int, ...] = (1,)
    bar_turnover: str = "estimated"
    venue: VenueSettings = field(default_factory=VenueSettings)
    local: LocalSettings = field(default_factory=LocalSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    models: tuple[ModelSpec, ...] = field(default_factory=default_models)

    def __post_init__(self) -> None:
        _check(self.symbol.isalnum() and self.symbol.isupper(), "engine.symbol", self.symbol)
        _check(self.journal_synchronous in SYNC_MODES, "engine.journal_synchronous", SYNC_MODES)
        _check(self.capital > 0, "engine.capital", "> 0")
        _check(self.max_position > 0, "engine.max_position", "> 0")
        _check(self.round_interval_s > 0, "engine.round_interval_s", "> 0")
        _check(self.check_interval_s > 0, "engine.check_interval_s", "> 0")
        _check(self.cwo_interval_s > 0, "engine.cwo_interval_s", "> 0")
        _check(self.orderbook_depth in BOOK_DEPTHS, "engine.orderbook_depth", BOOK_DEPTHS)
        bars = (0, *KLINE_INTERVALS)
        _check(self.bar_interval_s in bars, "engine.bar_interval_s", bars)
        ok = all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 1000
                 for h in self.bar_horizons)  # fmt: skip
        _check(bool(self.bar_horizons) and ok, "engine.bar_horizons", "integers in 1..1000")
        _check(self.bar_turnover in TURNOVER_KINDS, "engine.bar_turnover", TURNOVER_KINDS)
        _check(Decimal(0) <= self.kill_fraction < 1, "engine.kill_fraction", "in [0, 1)")
        _check(self.venue.kind in VENUE_KINDS, "venue.kind", VENUE_KINDS)
        _check(0 <= self.venue.port < 65536, "venue.port", "in 0..65535")
        _check(self.local.speed >= 0, "local.speed", ">= 0")
        _check(0 <= self.dashboard.port < 65536, "dashboard.port", "in 0..65535")
        _check(bool(self.dashboard.reports), "dashboard.reports", "a folder path")
        _check(0 < len(self.models) <= 98, "models", "1..98 entries")
        names = [m.name for m in self.models]
        _check(len(set(names)) == len(names), "models.name", "unique names")
        for m in self.models:
            _check(bool(m.name) and m.name != "orphan", "models.name", "non-empty, not 'orphan'")

    def bar_spec(self) -> BarSpec | None:
        """The live bar features' spec (None when `bar_interval_s` is 0)."""
        if not self.bar_interval_s:
            return None
        return BarSpec(self.bar_interval_s, self.bar_horizons, turnover=self.bar_turnover)


def _check(ok: bool, key: str, want: object) -> None:
    if not ok:
        raise ConfigError(f"{key}: invalid value (expected {want})")


_SECTIONS = {"engine", "venue", "local", "dashboard", "models"}
_TABLES = ("venue", "local", "dashboard", "models")
_ENGINE_KEYS = {f.name for f in fields(EngineConfig) if f.name not in _TABLES}


def load_config(path: str | Path | None = None) -> EngineConfig:
    """The defaults, overridden by the TOML file at `path` (relative paths resolve beside it)."""
    if path is None:
        return EngineConfig()
    p = Path(path)
    raw = read_toml(p, "engine")
    try:
        cfg = from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(locate_error(p, str(exc))) from None
    if not cfg.journal.is_absolute():
        cfg = replace(cfg, journal=p.parent / cfg.journal)
    if cfg.kill_file and not Path(cfg.kill_file).is_absolute():
        cfg = replace(cfg, kill_file=str(p.parent / cfg.kill_file))
    if cfg.challenger_dir and not Path(cfg.challenger_dir).is_absolute():
        cfg = replace(cfg, challenger_dir=str(p.parent / cfg.challenger_dir))
    return cfg


def from_dict(raw: Mapping[str, Any]) -> EngineConfig:
    """An EngineConfig from the TOML layout; ConfigError names the first bad key."""
    _unknown(raw, _SECTIONS, "")
    engine = _table(raw, "engine")
    _unknown(engine, _ENGINE_KEYS, "engine.")
    kwargs: dict[str, Any] = {k: _engine_value(k, v) for k, v in engine.items()}
    venue = _table(raw, "venue")
    _unknown(venue, {"kind", "host", "port", "keyfile"}, "venue.")
    kwargs["venue"] = VenueSettings(
        kind=_str(venue, "kind", "local"),
        host=_str(venue, "host", "127.0.0.1"),
        port=_int(venue, "port", 8931, "venue."),
        keyfile=_str(venue, "keyfile", ""),
    )
    local = _table(raw, "local")
    _unknown(local, {"speed", "replay_files"}, "local.")
    files = local.get("replay_files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ConfigError("local.replay_files: expected a list of paths")
    kwargs["local"] = LocalSettings(_float(local, "speed", 20.0, "local."), tuple(files))
    dash = _table(raw, "dashboard")
    _unknown(dash, {"port", "reports"}, "dashboard.")
    kwargs["dashboard"] = DashboardSettings(
        port=_int(dash, "port", 8940, "dashboard."),
        reports=_str(dash, "reports", "reports", "dashboard."),
    )
    if "models" in raw:
        kwargs["models"] = _models(raw["models"])
    return EngineConfig(**kwargs)


def _unknown(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {sorted(known)})")


def _table(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a table")
    return value


def _engine_value(key: str, value: object) -> object:
    name = f"engine.{key}"
    if key in ("capital", "max_position", "kill_fraction"):
        return _decimal(value, name)
    if key in ("round_interval_s", "check_interval_s", "cwo_interval_s"):
        return _float({key: value}, key, 0.0, "engine.")
    if key in ("orderbook_depth", "bar_interval_s"):
        return _int({key: value}, key, 0, "engine.")
    if key == "journal":
        return Path(_str({key: value}, key, ""))
    if key == "bar_horizons":
        if not isinstance(value, list):
            raise ConfigError(f"{name}: expected a list of integers, got {value!r}")
        return tuple(dict.fromkeys(value))
    return _str({key: value}, key, "", "engine.")


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{name}: expected a decimal string or number, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{name}: {value!r} is not a decimal number") from None
    if not d.is_finite():
        raise ConfigError(f"{name}: {value!r} is not finite")
    return d


def _str(t: Mapping[str, Any], key: str, default: str, prefix: str = "venue.") -> str:
    value = t.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{prefix}{key}: expected a string, got {value!r}")
    return value


def _int(t: Mapping[str, Any], key: str, default: int, prefix: str) -> int:
    value = t.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{prefix}{key}: expected an integer, got {value!r}")
    return value


def _float(t: Mapping[str, Any], key: str, default: float, prefix: str) -> float:
    value = t.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{prefix}{key}: expected a number, got {value!r}")
    return float(value)


def _models(raw: object) -> tuple[ModelSpec, ...]:
    if not isinstance(raw, list):
        raise ConfigError("models: expected an array of tables ([[models]])")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"models[{i}]: expected a table")
        _unknown(item, {"name", "strategy"}, f"models[{i}].")
        name = _str(item, "name", "", f"models[{i}].")
        strategy = _str(item, "strategy", CHAMPION_PREFIX + name, f"models[{i}].")
        out.append(ModelSpec(name, strategy))
    return tuple(out)
