"""`nexusforge init`: the starter config documents every key, loads (with the loader as it is) to
exactly the defaults, and is never written over without --force. A bad config names the key and
its line, through the loader and through `nexus run`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.errors import ConfigError
from nexusforge.nexus.config import EngineConfig, from_dict, load_config
from nexusforge.nexus.config_locate import key_line
from nexusforge.nexus.starter_config import documented_keys, render

runner = CliRunner()


def test_init_writes_a_config_that_loads_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "nexus.toml"
    done = runner.invoke(app, ["init", str(path)])
    assert done.exit_code == 0, done.output
    assert str(path) in done.output
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    # relative paths resolve beside the file either way: equal to what no key at all gives
    assert load_config(path) == load_config(empty)
    assert from_dict(tomllib.loads(path.read_text())) == EngineConfig()
    assert path.stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".*.tmp"))


def test_every_key_is_written_with_a_comment() -> None:
    text = render()
    doc = tomllib.loads(text)
    for section, keys in documented_keys().items():
        assert set(doc[section]) == keys, section
        for key in keys:
            line = text.splitlines()[key_line(text, f"{section}.{key}") - 1]  # type: ignore[operator]
            assert re.match(rf"{key} = .+# \w", line), line
    assert [m["name"] for m in doc["models"]] == [m.name for m in EngineConfig().models]
    assert documented_keys()["engine"] >= {"symbol", "journal", "capital", "challenger_dir"}
    assert documented_keys()["dashboard"] == {"port", "reports"}


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "nexus.toml"
    path.write_text("# mine\n")
    done = runner.invoke(app, ["init", str(path)])
    assert done.exit_code == 2
    assert "exists" in done.output and "--force" in done.output
    assert path.read_text() == "# mine\n"
    done = runner.invoke(app, ["init", str(path), "--force"])
    assert done.exit_code == 0, done.output
    assert load_config(path) == EngineConfig(
        journal=tmp_path / "nexus-journal.sqlite", kill_file=str(tmp_path / "nexus.kill")
    )
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 2  # a folder


def _edited(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The starter config with one line changed; the file and that line's number."""
    text = render()
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines, 1) if line.startswith(old))
    lines[n - 1] = new
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, n


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("capital = ", 'capital = "-5"', "engine.capital"),
        ("orderbook_depth = ", "orderbook_depth = 7", "engine.orderbook_depth"),
        ("kind = ", 'kind = "binance"', "venue.kind"),
        ("port = 8931", "prot = 8931", "venue.prot"),
        ("speed = ", 'speed = "fast"', "local.speed"),
        ("reports = ", "reports = 3", "dashboard.reports"),
        ('strategy = "champion:flow_pressure"', 'strat = "x"', "models[3].strat"),
    ],
)
def test_a_bad_key_is_named_with_its_line(tmp_path: Path, old: str, new: str, key: str) -> None:
    path, line = _edited(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}, line {line}: {key}:"), str(err.value)


def test_nexus_run_names_the_bad_key_and_line(tmp_path: Path) -> None:
    path, line = _edited(tmp_path, "max_position = ", 'max_position = "0"')
    done = runner.invoke(app, ["nexus", "run", "--config", str(path), "--no-dashboard"])
    assert done.exit_code == 2
    assert f"line {line}: engine.max_position" in done.output


def test_bad_toml_names_its_line(tmp_path: Path) -> None:
    path, line = _edited(tmp_path, "capital = ", "capital = = 1")
    with pytest.raises(ConfigError, match=rf"not valid TOML .*line {line}"):
        load_config(path)


def test_key_line_finds_tables_arrays_and_inline_tables() -> None:
    text = 'top = 1\nengine = { capital = "1" }\n[venue]\nport = 1\n[[models]]\nname = "a"\n'
    text += '[[models]]\n# name = "x"\nname = "b"\n[local]\n'
    assert key_line(text, "top") == 1
    assert key_line(text, "engine.capital") == 2  # an inline table: its line
    assert key_line(text, "venue.port") == 4
    assert key_line(text, "models[1].name") == 9  # not the comment
    assert key_line(text, "models.name") == 6
    assert key_line(text, "models[1]") == 7
    assert key_line(text, "local.speed") == 10  # not written: its table's header
    assert key_line(text, "dashboard.port") is None
    assert key_line(text, "not a key") is None
