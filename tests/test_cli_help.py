"""Every `nexusforge` command and group answers --help with a description, and every option and
argument says what it is for (the help is how the CLI teaches)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from nexusforge.cli import app

runner = CliRunner()


def _commands() -> list[tuple[list[str], Any]]:
    """(argv prefix, command) of the app and every group and command below it (typer ships its
    own click, so groups are told by their `commands`)."""
    root = typer.main.get_command(app)
    out: list[tuple[list[str], Any]] = []

    def walk(path: list[str], cmd: Any) -> None:
        out.append((path, cmd))
        if hasattr(cmd, "commands"):
            for name, sub in sorted(cmd.commands.items()):
                walk([*path, name], sub)

    walk([], root)
    return out


COMMANDS = _commands()


def test_the_task_groups_are_there() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    for want in ("data", "backtest", "sim", "forge", "validate", "nexus", "init", "exchange"):
        assert want in names


@pytest.mark.parametrize(
    ("path", "cmd"), COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_help_works_and_documents_every_parameter(path: list[str], cmd: Any) -> None:
    done = runner.invoke(app, [*path, "--help"])
    assert done.exit_code == 0, done.output
    assert "Usage" in done.output
    assert (cmd.help or "").strip(), f"{' '.join(path) or 'nexusforge'}: no description"
    for param in cmd.params:
        if param.name == "help":
            continue
        assert (getattr(param, "help", None) or "").strip(), f"{path} {param.name}: no help"
