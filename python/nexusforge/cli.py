"""The `nexusforge` command. Subcommands are grouped by task; nothing imports this module."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from nexusforge.nexus.engine import Engine

app = typer.Typer(
    help="NexusForge: research crypto strategies (Forge) and trade them on Bybit (Nexus).",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Ingest recordings into a parquet store, inspect it, record feeds.")
app.add_typer(data_app, name="data")
sim_app = typer.Typer(
    help="The agent-based market simulator: run, calibrate, check fidelity.",
    no_args_is_help=True,
)
app.add_typer(sim_app, name="sim")
forge_app = typer.Typer(
    help="Forge research: causal discovery, typed GP, surrogate, challengers.",
    no_args_is_help=True,
)
app.add_typer(forge_app, name="forge")
exchange_app = typer.Typer(
    help="The local Bybit-v5-compatible exchange (replay of recordings, or the simulator).",
    no_args_is_help=True,
)
app.add_typer(exchange_app, name="exchange")
nexus_app = typer.Typer(
    help="The Nexus live engine: six models trading one account, exact ledgers, journal.",
    no_args_is_help=True,
)
app.add_typer(nexus_app, name="nexus")


# ---- data commands (python/nexusforge/data) ----


@data_app.command("ingest")
def data_ingest(
    src: Annotated[Path, typer.Argument(help="A recording file or a folder of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Store folder (created if absent).")],
) -> None:
    """Read every known recording under SRC into the parquet store OUT."""
    from rich.progress import Progress

    from nexusforge.data.ingest import ingest, source_files
    from nexusforge.data.views import ingest_tables

    files = source_files(src)
    with Progress(console=_console()) as progress:
        task = progress.add_task("ingest", total=len(files))

        def step(path: Path) -> None:
            progress.update(task, advance=1, description=path.name[:40])

        report = ingest(src, out, progress=step)
    for table in ingest_tables(report):
        _console().print(table)
    if report.failed:
        raise typer.Exit(code=1)


@data_app.command("info")
def data_info(
    store: Annotated[Path, typer.Argument(help="Store folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Rows, time span, gaps and book stats per table and series of a store."""
    import json

    from nexusforge.data.info import store_info
    from nexusforge.data.store import Store
    from nexusforge.data.views import info_json, info_tables

    if not store.is_dir():
        raise typer.BadParameter(f"{store} is not a folder", param_hint="STORE")
    info = store_info(Store(store))
    if as_json:
        typer.echo(json.dumps(info_json(info), indent=2))
        return
    for table in info_tables(info):
        _console().print(table)


@data_app.command("record")
def data_record(
    url: Annotated[str, typer.Option("--url", help="Public v5 websocket URL (ws:// or wss://).")],
    symbol: Annotated[str, typer.Option("--symbol", help="Symbol, e.g. BTCUSDT.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Store folder.")],
    depth: Annotated[int, typer.Option("--depth", help="Order book depth topic.")] = 50,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max-messages", help="Stop after N data messages.")
    ] = None,
) -> None:
    """Record a Bybit-v5-compatible public feed into the store until stopped."""
    import asyncio

    from nexusforge.data.recorder import RecorderConfig, record

    config = RecorderConfig(
        url=url, symbol=symbol, store=out, depth=depth, duration_s=duration,
        max_messages=max_messages,
    )  # fmt: skip
    stats = asyncio.run(record(config))
    _console().print(
        f"recorded {stats.messages} messages in {stats.flushes} files "
        f"({stats.connects} connections, {stats.skipped} skipped): {stats.rows}"
    )


def _console() -> Console:
    from rich.console import Console

    return Console()


# ---- overview (python/nexusforge/overview.py): the job `make run` runs for now ----


@app.command()
def overview(
    shared: Annotated[Path, typer.Option(help="The shared folder holding data/.")] = Path(
        "../shared"
    ),
    store: Annotated[Path, typer.Option(help="Store folder to ingest into.")] = Path(".store"),
) -> None:
    """Ingest the bundled real data, show what the store holds and summarise its features."""
    from nexusforge.data.info import store_info
    from nexusforge.data.store import Store
    from nexusforge.data.views import info_tables, ingest_tables
    from nexusforge.overview import event_feature_summary, ingest_bundled, mtfa_summary
    from nexusforge.views import summary_table

    data = shared / "data"
    if not data.is_dir():
        raise typer.BadParameter(f"{data} not found; put shared/ beside the checkout")
    console, target = _console(), Store(store)
    with console.status(f"ingesting {data} into {store}"):
        reports = ingest_bundled(data, target)
    for report in reports:
        for table in ingest_tables(report)[:1]:
            console.print(table)
    for table in info_tables(store_info(target)):
        console.print(table)
    with console.status("computing features"):
        summaries = [
            event_feature_summary(target, "binance_usdm", "BTCUSDT"),
            event_feature_summary(target, "bybit_linear", "XRPUSDT"),
            mtfa_summary(target, "bybit_linear", "BTCUSDT", 300),
            mtfa_summary(target, "binance_usdm", "BTCUSDT", 60),
        ]
    for summary in summaries:
        console.print(summary_table(summary))


# ---- backtest (python/nexusforge/forge/backtest) ----


@app.command()
def backtest(
    strategy: Annotated[Path, typer.Argument(help="Strategy JSON file (strategy codec).")],
    data: Annotated[Path, typer.Option("--data", help="Store folder holding the candles.")],
    venue: Annotated[str, typer.Option(help="Venue of the series.")] = "bybit_linear",
    symbol: Annotated[str, typer.Option(help="Symbol of the series.")] = "BTCUSDT",
    interval: Annotated[int, typer.Option(help="Candle interval in seconds.")] = 300,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write a standalone HTML report here (e.g. reports/bt.html: the dashboard lists "
            "the reports folder).",
        ),
    ] = None,
    png: Annotated[
        bool, typer.Option("--png", help="Also export the report as PNG beside it (Chromium).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
    fee_tier: Annotated[
        str, typer.Option(help="Bybit fee tier (only VIP0 is documented; others user-supplied).")
    ] = "VIP0",
    taker_fee: Annotated[
        float | None, typer.Option(help="Taker fee rate (fraction), overrides the tier.")
    ] = None,
    maker_fee: Annotated[
        float | None, typer.Option(help="Maker fee rate (fraction), overrides the tier.")
    ] = None,
    half_spread_bps: Annotated[
        float, typer.Option(help="Half-spread crossed per fill, bps of the close.")
    ] = 0.5,
    spread: Annotated[bool, typer.Option(help="Charge the half-spread.")] = True,
    impact: Annotated[bool, typer.Option(help="Charge square-root market impact.")] = True,
    impact_eta: Annotated[float | None, typer.Option(help="Temporary impact coefficient.")] = None,
    impact_gamma: Annotated[
        float | None, typer.Option(help="Permanent impact coefficient.")
    ] = None,
    impact_window: Annotated[
        int, typer.Option(help="Bars of trailing volatility and volume for impact.")
    ] = 288,
    latency: Annotated[int, typer.Option(help="Bars from decision to fill.")] = 1,
    max_contracts: Annotated[
        float | None, typer.Option(help="Position limit in contracts.")
    ] = None,
    max_notional: Annotated[
        float | None, typer.Option(help="Position limit in quote notional.")
    ] = None,
    capital: Annotated[float, typer.Option(help="Initial capital (quote).")] = 10_000.0,
    funding: Annotated[bool, typer.Option(help="Charge funding at funding times.")] = True,
    no_costs: Annotated[
        bool, typer.Option("--no-costs", help="No fees, spread or impact (funding stays).")
    ] = False,
) -> None:
    """Backtest STRATEGY on one candle series of the store and print its metrics and costs."""
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.backtest.options import CostOptions
    from nexusforge.forge.backtest.run import SeriesSpec, run_strategy_file
    from nexusforge.forge.backtest.table import cost_table, metrics_json, metrics_table

    if png and report is None:
        raise typer.BadParameter("--png needs --report", param_hint="--png")
    try:
        options = CostOptions(
            fee_tier=fee_tier, taker_fee=taker_fee, maker_fee=maker_fee,
            half_spread_bps=half_spread_bps, spread=spread, impact=impact,
            impact_eta=impact_eta, impact_gamma=impact_gamma, impact_window=impact_window,
            latency_bars=latency, initial_capital=capital, funding=funding, costs=not no_costs,
            max_contracts=float("inf") if max_contracts is None else max_contracts,
            max_notional=float("inf") if max_notional is None else max_notional,
        )  # fmt: skip
        run = run_strategy_file(strategy, data, SeriesSpec(venue, symbol, interval), options)
        if report is not None:
            from nexusforge.forge.backtest.report import write_report

            write_report(run, report)
            if png:
                _export_png(report, as_json)
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(metrics_json(run))
        return
    console = _console()
    console.print(metrics_table(run))
    console.print(cost_table(run))
    if report is not None:
        console.print(f"report written to {report}")


# ---- forge commands (python/nexusforge/forge/evolve) ----


@forge_app.command("run")
def forge_run(
    data: Annotated[Path, typer.Option("--data", help="Store folder with the candle series.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (created).")],
    config: Annotated[Path | None, typer.Option("--config", help="forge.toml.")] = None,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate/--no-validate",
            help="End with the validation gate (default): only challengers passing every check "
            "reach OUT/validation/challengers and the Pit Crew folder. --no-validate: the run "
            "folder only, nothing written to the Pit Crew folder.",
        ),
    ] = True,
    gate_config: Annotated[
        Path | None, typer.Option("--gate-config", help="Gate TOML config (default thresholds).")
    ] = None,
) -> None:
    """Causal discovery, GP with surrogate screening, challenger files, then the validation
    gate, into OUT."""
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.evolve.console import run_with_progress
    from nexusforge.forge.evolve.report import write_run_report
    from nexusforge.forge.evolve.run import load_config
    from nexusforge.forge.validate.console import gate_skipped_note, validate_command

    try:
        cfg = load_config(config)
        run_with_progress(cfg, data, out, _console())
        if validate:
            validate_command(out, gate_config, False, _console())
        else:
            _console().print(gate_skipped_note(out, cfg.challenger_dir))
        _console().print(f"run report: {write_run_report(out)}")  # after the gate: its verdicts
    except NexusForgeError as exc:
        _console().print(f"[red]forge run failed:[/red] {exc}")
        raise typer.Exit(code=1) from exc


@forge_app.command("report")
def forge_report(
    run_dir: Annotated[Path, typer.Argument(help="A finished Forge run folder.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default RUN_DIR/report.html).")
    ] = None,
    png: Annotated[
        bool, typer.Option("--png", help="Also export the report as PNG beside it (Chromium).")
    ] = False,
) -> None:
    """The run's HTML report: fitness by generation, surrogate savings, causal graph,
    challengers and the gate's verdicts."""
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.evolve.report import write_run_report

    try:
        html = write_run_report(run_dir, out)
        typer.echo(f"report written to {html}")
        if png:
            _export_png(html, False)
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


@forge_app.command("causal")
def forge_causal(
    data: Annotated[Path, typer.Option("--data", help="Store folder with the candle series.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for causal/graph.*.")],
    config: Annotated[Path | None, typer.Option("--config", help="forge.toml.")] = None,
) -> None:
    """PCMCI causal parents of the return on the first training window; JSON and PNG."""
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.evolve.console import causal_only, causal_table
    from nexusforge.forge.evolve.run import load_config

    try:
        graph = causal_only(load_config(config), data, out)
    except NexusForgeError as exc:
        _console().print(f"[red]forge causal failed:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    _console().print(causal_table(graph))


@forge_app.command("iel-train")
def forge_iel_train(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for iel.onnx, iel.pt, iel.json.")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Training seed.")] = 7,
    timesteps: Annotated[int, typer.Option("--timesteps", help="PPO environment steps.")] = 12_000,
    eval_episodes: Annotated[
        int, typer.Option("--eval-episodes", help="Held-out simulator episodes to compare on.")
    ] = 60,
) -> None:
    """Train the execution policy (PPO in the simulator), export ONNX + manifest into OUT."""
    from nexusforge.forge.execution_rl.console import train_command

    train_command(out, seed, timesteps, eval_episodes, _console())


# ---- validation gate (python/nexusforge/forge/validate) ----


@app.command("validate")
def validate(
    run_dir: Annotated[Path, typer.Argument(help="A complete Forge run folder.")],
    config: Annotated[Path | None, typer.Option("--config", help="Gate TOML config.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decisions as JSON.")] = False,
    png: Annotated[
        bool, typer.Option("--png", help="Also export the HTML report as PNG (Chromium).")
    ] = False,
) -> None:
    """Validation gate: walk-forward OOS, Monte Carlo, null test, DSR, PBO, DoWhy refuters;
    writes validated challengers, a rejection log and an HTML report under RUN_DIR/validation."""
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.validate.console import validate_command

    try:
        validate_command(run_dir, config, as_json, _console())
        if png:
            _export_png(run_dir / "validation" / "report.html", as_json)
    except NexusForgeError as exc:
        _console().print(f"[red]validate failed:[/red] {exc}")
        raise typer.Exit(code=1) from exc


# ---- simulator (python/nexusforge/forge/sim) ----


@sim_app.command("run")
def sim_run(
    scenario: Annotated[
        str, typer.Option(help="Base scenario (calm, volatile, toxic, thin, rmsc04).")
    ] = "calm",
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config (its `scenario` key wins).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Replace the config's seed.")] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="Simulated seconds.")] = None,
    strategy: Annotated[
        Path | None, typer.Option("--strategy", help="Strategy JSON file to trade in the market.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the tables (parquet) and a manifest.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the agent-based market simulator and print what happened."""
    import json
    import time

    from nexusforge import __version__
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.backtest.run import load_strategy
    from nexusforge.forge.sim.config import SimConfig
    from nexusforge.forge.sim.run import run_sim, summary, write_result

    try:
        cfg = SimConfig.from_toml(config) if config else SimConfig.scenario(scenario)
        if duration is not None:
            cfg = cfg.with_overrides({"duration_s": duration})
        expr = load_strategy(strategy).expr if strategy else None
        start = time.perf_counter()
        result = run_sim(cfg, seed=seed, strategy=expr)
        wall = time.perf_counter() - start
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    info = summary(result, wall)
    if out is not None:
        write_result(result, out, {"nexusforge": __version__, "seed": result.config.seed})
    typer.echo(json.dumps(info, indent=2) if as_json else _plain(info))


def _plain(info: dict[str, object]) -> str:
    return "\n".join(f"{k:>16}: {v}" for k, v in info.items())


# ---- sim check / calibrate (forge/sim/check.py, calibrate.py, fidelity_report.py) ----


@sim_app.command("check")
def sim_check(
    config: Annotated[Path | None, typer.Option("--config", help="TOML config to check.")] = None,
    scenario: Annotated[str, typer.Option(help="Base scenario when no --config.")] = "calm",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds to run (>= 20 for the issue).")] = 20,
    duration: Annotated[float, typer.Option(help="Simulated seconds per seed.")] = 43_200.0,
    impact_sizes: Annotated[int, typer.Option(help="Meta-order sizes per seed (0: none).")] = 6,
    data: Annotated[Path | None, typer.Option("--data", help="Shared data folder.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write HTML here (e.g. reports/fidelity.html).")
    ] = None,
    png: Annotated[
        bool, typer.Option("--png", help="Also export the report as PNG beside it (Chromium).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
) -> None:
    """Stylized facts of the simulator over many seeds, beside the same facts of real data."""
    from rich.console import Console

    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.sim.check import ImpactPlan
    from nexusforge.forge.sim.config import SimConfig
    from nexusforge.forge.sim.fidelity_report import print_check, run_check

    if png and report is None:
        raise typer.BadParameter("--png needs --report", param_hint="--png")
    try:
        cfg = SimConfig.from_toml(config) if config else SimConfig.scenario(scenario)
        cfg = cfg.with_overrides({"duration_s": duration})
        plan = ImpactPlan(sizes=impact_sizes)
        result = run_check(cfg, seeds, plan, data, Console(stderr=True))
        print_check(result, _console(), report, as_json)
        if png and report is not None:
            _export_png(report, as_json)
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _export_png(html: Path, quiet: bool) -> None:
    """The PNG export of a report just written (python/nexusforge/report_png.py)."""
    from nexusforge.report_png import html_to_png

    out = html_to_png(html)
    typer.echo(f"PNG written to {out}", err=quiet)  # stderr under --json: stdout stays JSON


@sim_app.command("calibrate")
def sim_calibrate(
    out: Annotated[Path, typer.Option("--out", "-o", help="TOML config to write.")],
    data: Annotated[Path | None, typer.Option("--data", help="Shared data folder.")] = None,
    scenario: Annotated[str, typer.Option(help="Scenario the fit starts from.")] = "calm",
    base: Annotated[
        Path | None,
        typer.Option("--base", help="TOML config the fit starts from (e.g. the fidelity preset)."),
    ] = None,
    budget: Annotated[int, typer.Option(help="Most candidate configs to run.")] = 40,
    duration: Annotated[float, typer.Option(help="Simulated seconds per run.")] = 1800.0,
    seed: Annotated[int, typer.Option(help="Seed of the search order.")] = 0,
    seeds: Annotated[int, typer.Option(help="Simulator seeds 1..N every candidate runs.")] = 2,
) -> None:
    """Fit agent rates and sizes to the real data's spread, depth, trade sizes and volatility."""
    from nexusforge.errors import NexusForgeError
    from nexusforge.forge.sim.calibrate import run_calibration

    try:
        run_calibration(out, data, scenario, budget, duration, seed, _console(), base, seeds)
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


@app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="File to write.")] = Path("nexus.toml"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a commented starter engine config: every key, its default and what it does."""
    from nexusforge.errors import ConfigError
    from nexusforge.nexus.starter_config import write_starter_config

    try:
        written = write_starter_config(path, force=force)
    except (ConfigError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"wrote {written}: edit it, then `nexusforge nexus run --config {written}`")


@app.command()
def version() -> None:
    """Print the package and Rust core versions."""
    from nexusforge import __version__, core_version

    typer.echo(f"nexusforge {__version__} (core {core_version()})")


# ---- local exchange (python/nexusforge/nexus/venues/local) ----


@exchange_app.command("serve")
def exchange_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8931,
    mode: Annotated[str, typer.Option(help="Market backend: replay or sim.")] = "replay",
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config (keys, account, replay).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Serve Bybit v5 REST and websockets on 127.0.0.1 until stopped."""
    import asyncio

    from nexusforge.errors import ConfigError
    from nexusforge.nexus.venues.local.serve import load_config, serve

    if mode not in ("replay", "sim"):
        raise typer.BadParameter("must be replay or sim", param_hint="--mode")
    try:
        settings = load_config(config, mode, port)  # type: ignore[arg-type]
        asyncio.run(serve(settings, duration, typer.echo))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc


# ---- Nexus engine (python/nexusforge/nexus/engine.py, run.py, status.py) ----


@nexus_app.command("run")
def nexus_run(
    config: Annotated[
        Path | None, typer.Option("--config", help="Engine TOML (see nexus/config.py).")
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Stop after e.g. 90s, 10m, 2h.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="Python log level.")] = "WARNING",
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard/--no-dashboard",
            help="Serve the live dashboard on 127.0.0.1 (read-only unless "
            "NEXUSFORGE_DASHBOARD_TOKEN is set).",
        ),
    ] = True,
    dashboard_port: Annotated[
        int | None,
        typer.Option(
            "--dashboard-port", help="Dashboard port (0: any free one; default dashboard.port)."
        ),
    ] = None,
    iel: Annotated[
        bool,
        typer.Option(
            "--iel/--no-iel",
            help="Orders go out with the tactics of the execution policy (nexus/policies/iel.onnx;"
            " default tactic market if it cannot be loaded); --no-iel: market orders only.",
        ),
    ] = True,
    challengers: Annotated[
        Path | None,
        typer.Option(
            "--challengers",
            help="Pit Crew folder: gate-validated challenger files dropped here are shadow-traded "
            "and promoted when they beat a champion (overrides engine.challenger_dir).",
        ),
    ] = None,
) -> None:
    """Trade until stopped (Ctrl-C), or for --duration; then print a summary.

    Exit 0: stopped and every ledger matched the venue; 1: a ledger did not match; 2: a config
    or start error; 3: stopped cleanly but the venue could not be read at the stop (the next
    start reconciles)."""
    import asyncio
    import dataclasses
    import logging

    from nexusforge.errors import NexusForgeError
    from nexusforge.nexus.config import load_config
    from nexusforge.nexus.report import summary_text
    from nexusforge.nexus.run import parse_duration, run_nexus

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    try:
        cfg = load_config(config)
        if challengers is not None:
            cfg = dataclasses.replace(cfg, challenger_dir=str(challengers.resolve()))
        seconds = None if duration is None else parse_duration(duration)
        on_start: Callable[[Engine], None] | None = None
        if dashboard:
            from nexusforge.nexus.dashboard.engine_source import DashboardOnStart
            from nexusforge.nexus.dashboard.serve import load_token

            port = cfg.dashboard.port if dashboard_port is None else dashboard_port
            reports = Path(cfg.dashboard.reports)
            on_start = DashboardOnStart("127.0.0.1", port, load_token(), typer.echo, reports)
        if iel:
            from nexusforge.nexus.execution import IelOnStart

            on_start = IelOnStart(then=on_start)
        summary = asyncio.run(
            run_nexus(cfg, seconds, on_start, strategy_base=config and config.parent)
        )
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(summary_text(summary))
    if summary.venue_position is None:
        raise typer.Exit(code=3)
    if not summary.reconciled:
        raise typer.Exit(code=1)


@nexus_app.command("status")
def nexus_status(
    config: Annotated[
        Path | None, typer.Option("--config", help="Engine TOML (see nexus/config.py).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per-model equity and inventory from the journal, reconciled with the venue."""
    import asyncio
    import json

    from nexusforge.errors import NexusForgeError
    from nexusforge.nexus.config import load_config
    from nexusforge.nexus.report import status_text
    from nexusforge.nexus.status import nexus_status as build_status

    try:
        report = asyncio.run(build_status(load_config(config)))
    except NexusForgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(json.dumps(report.to_json(), indent=1) if json_out else status_text(report))


@nexus_app.command("dashboard")
def nexus_dashboard(
    journal: Annotated[
        Path,
        typer.Option(
            "--journal", help="Journal file to show, read-only (a running engine's is followed)."
        ),
    ],
    host: Annotated[
        str, typer.Option("--host", help="Bind address; anything but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8940,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Private (chmod 600) file with the token; or set NEXUSFORGE_DASHBOARD_TOKEN.",
        ),
    ] = None,
    reports: Annotated[
        Path, typer.Option("--reports", help="Folder of research reports to list at /reports.")
    ] = Path("reports"),
) -> None:
    """Serve the live dashboard (page, /api/state, /metrics, /reports) of a journal file."""
    import asyncio

    from nexusforge.errors import NexusForgeError
    from nexusforge.nexus.dashboard import JournalSource, dashboard_server
    from nexusforge.nexus.dashboard.serve import load_token

    try:
        token = load_token(token_file)
        server = dashboard_server(JournalSource(journal), host, port, token, reports)
    except (NexusForgeError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"dashboard of {journal} at http://{shown}:{server.port}/ (metrics at /metrics)")
    asyncio.run(server.serve_socket())


# ---- chaos runs (python/nexusforge/chaos) ----


@app.command("chaos")
def chaos(
    seed: Annotated[int, typer.Option("--seed", help="First seed of the fault schedule.")] = 1,
    minutes: Annotated[float, typer.Option("--minutes", help="Length of each run.")] = 1.0,
    runs: Annotated[int, typer.Option("--runs", help="Runs, on seeds seed, seed+1, ...")] = 1,
    faults_per_s: Annotated[float, typer.Option("--faults-per-s", help="Fault rate.")] = 2.0,
    restarts: Annotated[int, typer.Option("--restarts", help="kill -9 + restarts a run.")] = 2,
    folder: Annotated[Path, typer.Option("--folder", help="Run folders go here.")] = Path(
        "chaos-runs"
    ),
) -> None:
    """The engine (a child process) vs the local exchange under seeded faults and kill -9;
    then every ledger is checked against the venue. Exit 1 when a check fails."""
    from nexusforge.chaos import ChaosConfig, run_chaos
    from nexusforge.chaos.report import default_shared_data, result_line, run_line

    results = []
    for s in range(seed, seed + runs):
        cfg = ChaosConfig(s, minutes * 60, folder / f"seed-{s}", default_shared_data(),
                          faults_per_s, restarts)  # fmt: skip
        result = run_chaos(cfg)
        results.append(result)
        typer.echo(run_line(result))
        for problem in result.verdict.problems[:20]:
            typer.echo(f"  {problem}")
    typer.echo(result_line(results))
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the `nexusforge` console script."""
    app()


if __name__ == "__main__":
    main()
