"""What `nexusforge validate` prints: one row per challenger with its key figures, the
verdict and the failed checks, then where the files went."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nexusforge.forge.validate.config import load_gate_config
from nexusforge.forge.validate.gate import GateResult, validate_run
from nexusforge.forge.validate.report import write_report


def _fmt(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else "—" if v is None else str(v)


def _refuters(fig: dict[str, object]) -> str:
    return "skipped" if fig.get("skipped") else "hold" if fig.get("passed") else "fail"


def decisions_table(result: GateResult) -> Table:
    """The gate's decisions as a rich table."""
    t = Table(title=f"validation gate: {result.run.path.name}")
    for col in ("challenger", "OOS Sharpe", "DSR", "PBO", "null p", "refuters", "verdict"):
        t.add_column(col)
    for j in result.judged:
        f = j.decision.figures
        t.add_row(
            j.decision.source, _fmt(f["oos_sharpe"]), _fmt(f["dsr"]["dsr"]),
            _fmt(None if f["pbo"] is None else f["pbo"]["pbo"]),
            _fmt(f["permutation"]["p_value"]), _refuters(f["refutation"]),
            "[green]validated[/green]" if j.decision.passed
            else "[red]rejected[/red]: " + ", ".join(j.decision.failed),
        )  # fmt: skip
    return t


def validate_command(run_dir: Path, config: Path | None, as_json: bool, console: Console) -> None:
    """Run the gate on `run_dir`, write its files and the HTML report, and print the outcome."""
    result = validate_run(run_dir, load_gate_config(config))
    report = write_report(result)
    if as_json:
        doc = {**result.summary_doc(), "report": str(report),
               "rejection_log": str(result.rejection_log)}  # fmt: skip
        console.print_json(json.dumps(doc, allow_nan=False))
        return
    console.print(decisions_table(result))
    console.print(f"validated challengers: {len(result.validated)} in "
                  f"{result.summary.parent / 'challengers'}")  # fmt: skip
    pit = result.config.challenger_dir or result.run.config.challenger_dir
    if pit is not None:
        console.print(
            f"published to the Pit Crew folder {pit}: {len(result.published)}"
            + ("" if result.published else " (no challenger passed every check)")
        )
    console.print(f"rejection log: {result.rejection_log}")
    console.print(f"report: {report}")


def gate_skipped_note(run_dir: Path, pit_crew: str | None) -> str:
    """What `forge run --no-validate` tells the user: nothing was validated or published."""
    where = f" Nothing was written to the Pit Crew folder {pit_crew}." if pit_crew else ""
    return (f"[yellow]validation gate skipped (--no-validate):[/yellow] the challengers in "
            f"{run_dir / 'challengers'} are marked not validated and the Pit Crew refuses them."
            f"{where} Run `nexusforge validate {run_dir}` to judge them.")  # fmt: skip
