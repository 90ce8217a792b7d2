"""Reading a TOML config file: every failure (missing, unreadable, not UTF-8, bad TOML) is a
`ConfigError` that names the file and what it was for."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from nexusforge.errors import ConfigError


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
