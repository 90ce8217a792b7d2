"""Reading a TOML config file: every failure (missing, unreadable, not UTF-8, bad TOML) is a
`ConfigError` that names the file and what it was for; `load_toml` also names the line of the
key a bad value sits on."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from nexusforge.errors import ConfigError
from nexusforge.nexus.config_locate import locate_error

T = TypeVar("T")


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed document of the `what` config (e.g. "engine") at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: {what} config is not valid TOML (not UTF-8: {exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {what} config is not valid TOML ({exc})") from None


def load_toml(path: Path, what: str, parse: Callable[[dict[str, Any]], T]) -> T:
    """`parse` of the `what` config at `path`; its ConfigError (which names the key) comes back
    prefixed with the file and the key's line: `FILE, line N: key: …`."""
    doc = read_toml(path, what)
    try:
        return parse(doc)
    except ConfigError as exc:
        raise ConfigError(locate_error(path, str(exc))) from None
