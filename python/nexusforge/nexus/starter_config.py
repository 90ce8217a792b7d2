"""`nexusforge init`: a commented starter engine config holding every key at its default.

The values are rendered from `EngineConfig()` itself and the key list from its dataclasses, so
the file cannot drift from what the loader expects: loading it gives the defaults (a test checks
both). Edit the copy, then `nexusforge nexus run --config nexus.toml`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

from nexusforge.errors import ConfigError
from nexusforge.nexus.config import (
    DashboardSettings,
    EngineConfig,
    LocalSettings,
    VenueSettings,
    default_models,
)

DEFAULT_NAME = "nexus.toml"
HEADER = """\
# NexusForge engine config, written by `nexusforge init`.
# Every key is optional: each line below holds the built-in default, so this file as written
# runs exactly what no file runs. Edit what you need, delete the rest.
#   nexusforge nexus run --config {name}        (or: make run CONFIG={name})
# Paths: journal, kill_file and challenger_dir resolve beside this file; dashboard.reports
# resolves against the working directory (where the report commands write).
# A bad key or value stops the engine at start with the key and its line named.
"""
# (section, key, comment); every key of every section, in the order written.
DOCS: tuple[tuple[str, str, str], ...] = (
    ("engine", "symbol", "USDT linear perpetual all models trade"),
    ("engine", "journal", "SQLite (WAL) journal of every intent, ack and fill"),
    ("engine", "journal_synchronous", "FULL | NORMAL | EXTRA (FULL: on disk before we act)"),
    ("engine", "capital", "USDT per model ledger (a decimal string: exact)"),
    ("engine", "max_position", "cap on |position| per model, base units"),
    ("engine", "round_interval_s", "at most one decision round per interval (on a book event)"),
    ("engine", "orderbook_depth", "public orderbook topic depth: 1, 50, 200 or 500"),
    ("engine", "kill_file", 'its existence trips the kill switch ("" = no file)'),
    ("engine", "kill_fraction", "kill a model at equity <= fraction x capital (0: at <= 0)"),
    ("engine", "check_interval_s", "how often the ledgers are checked against the venue"),
    ("engine", "challenger_dir", 'Pit Crew intake folder ("" = no shadow challengers)'),
    ("engine", "cwo_interval_s", "CWO: re-weight the models' capital this often"),
    ("engine", "bar_interval_s", "base bar of the bar/MTFA features (kline seconds; 0 = off)"),
    ("engine", "bar_horizons", "past returns ret_h{h} over h bars (Forge's data.horizon)"),
    ("engine", "bar_turnover", "VWAP turnover: estimated (as Bybit candle files) | recorded"),
    ("venue", "kind", "local (in-process exchange) | custom | testnet | mainnet"),
    ("venue", "host", "custom/local only"),
    ("venue", "port", "custom/local only"),
    ("venue", "keyfile", 'a 0600 TOML keyfile of API keys; "" = from the environment'),
    ("local", "speed", "replay speed (0 = as fast as possible)"),
    ("local", "replay_files", "recordings to replay; [] = the bundled Bybit ones"),
    ("dashboard", "port", "on 127.0.0.1 (0 = any free port); --dashboard-port wins"),
    ("dashboard", "reports", "research reports (HTML/PNG) listed at /reports"),
)
SECTION_DOCS = {
    "engine": "The engine: what it trades, its journal and its safety limits.",
    "venue": "Where orders go. Keys for testnet/mainnet: NEXUSFORGE_BYBIT_API_KEY / _SECRET.",
    "local": 'The Bybit-v5-compatible exchange `kind = "local"` starts in-process.',
    "dashboard": "The live dashboard (read-only unless NEXUSFORGE_DASHBOARD_TOKEN is set).",
}
MODELS_DOC = (
    "# The model slots (1 to 98): a name and a strategy, `champion:<name>` for a bundled one or\n"
    "# the path of a strategy JSON file (relative to this file). Default: the six champions.\n"
)
_SECTION_TYPES = {
    "venue": VenueSettings,
    "local": LocalSettings,
    "dashboard": DashboardSettings,
}


def render() -> str:
    """The starter config's text."""
    defaults = EngineConfig()
    parts = [HEADER.format(name=DEFAULT_NAME)]
    for section, doc in SECTION_DOCS.items():
        parts.append(f"\n# {doc}\n[{section}]\n")
        holder = defaults if section == "engine" else getattr(defaults, section)
        for sec, key, comment in DOCS:
            if sec == section:
                parts.append(_line(key, getattr(holder, key), comment))
    parts.append("\n" + MODELS_DOC.rstrip("\n"))
    for spec in default_models():
        parts.append(
            f"\n[[models]]\nname = {_toml(spec.name)}\nstrategy = {_toml(spec.strategy)}\n"
        )
    return "".join(parts)


def documented_keys() -> dict[str, set[str]]:
    """Section -> the keys the loader knows, from the config's dataclasses (for the test)."""
    engine = {f.name for f in fields(EngineConfig)} - {*_SECTION_TYPES, "models"}
    out = {"engine": engine}
    out.update({s: {f.name for f in fields(t)} for s, t in _SECTION_TYPES.items()})
    return out


def write_starter_config(path: Path, *, force: bool = False) -> Path:
    """Writes the starter config to `path`; ConfigError if it exists and not `force`."""
    if path.exists() and not force:
        raise ConfigError(f"{path} exists: not overwritten (use --force to replace it)")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render())
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never clobber it
            os.unlink(tmp)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{path} exists: not overwritten (use --force to replace it)") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _line(key: str, value: object, comment: str) -> str:
    return f"{f'{key} = {_toml(value)}':<34}# {comment}\n"


def _toml(value: object) -> str:
    """A default as a TOML value: strings and decimals quoted (decimals stay exact)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Decimal | Path):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
