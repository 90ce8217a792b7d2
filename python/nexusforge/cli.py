"""The `nexusforge` command. Subcommands are grouped by task; nothing imports this module."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="NexusForge: research crypto strategies (Forge) and trade them on Bybit (Nexus).",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Ingest recordings into a parquet store, inspect it, record feeds.")
app.add_typer(data_app, name="data")


@app.command()
def version() -> None:
    """Print the package and Rust core versions."""
    from nexusforge import __version__, core_version

    typer.echo(f"nexusforge {__version__} (core {core_version()})")


def main() -> None:
    """Entry point of the `nexusforge` console script."""
    app()
