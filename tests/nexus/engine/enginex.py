"""Helpers for the engine tests: a local exchange on loopback, six fast strategies, the venue's
own executions by orderLinkId, and the ledgers they imply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from nexusforge.nexus import order_ids
from nexusforge.nexus.engine import Engine, Summary, to_execution
from nexusforge.nexus.executions import Execution
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.ledger import Ledger, LedgerState
from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, RateLimits, Secret

KEY, SECRET = "engine-test-key", "engine-test-secret"
LEGACY = "bybit/market/bybit_legacy_v2_linear_ws_20210417.txt"
SYMBOL = "LTCUSDT"
CAPITAL = Decimal(10_000)


async def drive(engine: Engine, script: Callable[[], Awaitable[None]], timeout_s: float) -> Summary:
    """Runs `engine` until `script()` returns or fails (or `timeout_s`); its error goes up."""
    stop = asyncio.Event()

    async def guarded() -> None:
        try:
            await script()
        finally:
            stop.set()

    task = asyncio.create_task(guarded())
    summary = await engine.run(timeout_s, stop)
    await task
    return summary


def exchange_config(shared_data: Path) -> ExchangeConfig:
    """The 2021 capture (LTCUSDT book and trades) replayed as fast as possible, looping."""
    return ExchangeConfig(
        keys=(ApiKey(KEY, Secret(SECRET)),),
        replay_files=(shared_data / LEGACY,),
        speed=0.0,
        rate_limits=RateLimits(order_write=100),
    )


def _e(op: str, *args: object, **extra: object) -> dict[str, object]:
    return {"op": op, "args": list(args), **extra}


def col(name: str) -> dict[str, str]:
    return {"col": name}


# Six strategies with short windows so they trade within seconds; two lean against each other
# so the internal crossing step is exercised.
FAST = {
    "imb1": _e("clip", _e("mul", _e("ema", col("imb_1"), k=3), {"const": 2.0}), params=[-1.0, 1.0]),
    "imb5": _e("clip", _e("ema", col("imb_5"), k=5), params=[-1.0, 1.0]),
    "imb10": _e("clip", col("imb_10"), params=[-1.0, 1.0]),
    "anti_imb1": _e("neg", _e("clip", col("imb_1"), params=[-1.0, 1.0])),
    "micro": _e("tanh", _e("ema", col("microprice_dev_bps"), k=4)),
    "ofi": _e("tanh", col("ofi_1s")),
}


def write_strategies(folder: Path) -> dict[str, Path]:
    """The FAST strategies as strategy-language JSON files."""
    out = {}
    for name, expr in FAST.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"schema": 1, "expr": expr}))
        out[name] = path
    return out


def write_config(folder: Path, port: int, **engine: object) -> Path:
    """An engine TOML for the exchange on `port` with the FAST models."""
    files = write_strategies(folder)
    settings = {"symbol": SYMBOL, "journal": "journal.sqlite", "round_interval_s": 0.2,
                "capital": str(CAPITAL), "kill_file": "kill.now"} | engine  # fmt: skip
    lines = ["[engine]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["[venue]", 'kind = "custom"', f"port = {port}"]
    for name, path in files.items():
        lines += ["[[models]]", f'name = "{name}"', f'strategy = "{path}"']
    cfg = folder / "engine.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def client_config(port: int) -> BybitConfig:
    return BybitConfig.custom(port=port)


async def venue_state(port: int) -> tuple[list[Execution], Decimal]:
    """Every execution the venue reports for SYMBOL, and its signed position."""
    async with BybitRestClient(client_config(port), Credentials(KEY, SECRET)) as rest:
        rows = await rest.executions(symbol=SYMBOL)
        positions = await rest.positions(SYMBOL)
    position = sum((p.signed_size for p in positions if p.symbol == SYMBOL), Decimal(0))
    return [to_execution(r) for r in rows], position


def fetch_venue(port: int) -> tuple[list[Execution], Decimal]:
    return asyncio.run(venue_state(port))


def expected_states(
    journal_path: Path, venue: list[Execution]
) -> tuple[dict[str, LedgerState], Ledger]:
    """Each model's ledger built from the VENUE's executions of its orderLinkIds plus the
    internal crosses the journal booked (the venue never sees those); and the orphan ledger."""
    with Journal(journal_path, readonly=True) as j:
        models = {m.slot: m.name for m in j.models()}
        internal = [e for e in j.executions() if e.exec_type == "Internal"]
    ledgers = {name: Ledger(name, SYMBOL, CAPITAL) for name in models.values()}
    orphan = Ledger("orphan", SYMBOL, Decimal(0))
    for e in [*venue, *internal]:
        slot = order_ids.slot_of(e.order_link_id)
        (ledgers[models[slot]] if slot in models else orphan).apply(e)
    return {n: lg.state for n, lg in ledgers.items()}, orphan


def journal_states(journal_path: Path) -> tuple[dict[str, LedgerState], Ledger]:
    """The ledgers the journal rebuilds (what a restart starts from)."""
    with Journal(journal_path, readonly=True) as j:
        book = j.rebuild()[SYMBOL]
    return {n: lg.state for n, lg in book.ledgers.items()}, book.orphan
