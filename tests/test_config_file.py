"""Every TOML config loader turns an unreadable, non-UTF-8 or malformed file into a ConfigError."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.run import load_config as load_forge
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.validate.config import load_gate_config
from nexusforge.nexus.config import load_config as load_engine
from nexusforge.nexus.venues.local.config import ExchangeConfig

LOADERS: dict[str, Callable[[Path], Any]] = {
    "forge": load_forge,
    "gate": load_gate_config,
    "simulator": SimConfig.from_toml,
    "engine": load_engine,
    "exchange": ExchangeConfig.from_toml,
}


@pytest.mark.parametrize("what", sorted(LOADERS))
@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"a = \xff\xfe\n", "not UTF-8"), (b"[section\n", "not valid TOML"), (None, "cannot read")],
)
def test_bad_files_are_config_errors_naming_the_file(
    tmp_path: Path, what: str, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "cfg.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=problem) as err:
        LOADERS[what](path)
    assert str(path) in str(err.value) and f"{what} config" in str(err.value)
