"""A small real trading session written through the real Journal, a loopback server thread, and
the Prometheus text parsed back into samples."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from nexusforge.nexus.dashboard.serve import DashboardServer
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.order_ids import OrderLinkId, make

D = Decimal
SYMBOL = "BTCUSDT"
MODELS = {0: "book_imbalance", 1: "flow_pressure", 2: "ofi_momentum"}
T0 = 1_700_000_000_000


@dataclass
class Session:
    """Writes a session into a journal the way the engine does: intent, ack, fill."""

    journal: Journal
    seq: int = 0
    n_exec: int = 0

    def trade(self, slot: int, side: int, qty: str, price: str, fee: str = "0.01") -> OrderLinkId:
        """An order of `slot` journaled, acknowledged and filled at `price`."""
        link = make(slot, self.journal.run_id, self.seq)
        self.seq += 1
        intent = OrderIntent(link, slot, SYMBOL, side, D(qty), False, "target")
        self.journal.record_intent(intent)
        self.journal.record_ack(link, status="New", order_id=f"o{self.seq}")
        self.n_exec += 1
        e = Execution(
            exec_id=ExecId(f"e{self.n_exec:06d}"),
            symbol=SYMBOL,
            exec_type="Trade",
            side=side,
            price=D(price),
            qty=D(qty),
            fee=D(fee),
            exec_time_ms=T0 + 1000 * self.n_exec,
            order_link_id=link,
        )
        self.journal.record_execution(e, "ws")
        self.journal.record_ack(link, status="Filled", order_id=f"o{self.seq}", cum_exec_qty=D(qty))
        return link


def new_session(path: Path, capital: str = "10000") -> Session:
    """A journal with three models registered, active, weighted."""
    j = Journal(path)
    for slot, name in MODELS.items():
        j.record_model(slot, name, SYMBOL, D(capital))
        j.record_state(slot, "shadow", "active", "start")
        j.record_weight(slot, D("0.3"))
    return Session(j)


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Runs `app` with uvicorn on an ephemeral loopback port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = DashboardServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("dashboard server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def families(text: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {sorted labels: value} for every sample."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out
