"""`/v5/private`: auth op, subscribe to execution/order/position/wallet, push the venue's effects.

Nothing is replayed on (re)connect (Bybit's rule: clients recover over REST). Faults for tests:
`duplicate_executions` sends the next execution messages twice; `delay_executions` sends the next
ones `delay_s` late (later messages overtake them: a reorder).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from nexusforge.nexus.venues.local.auth import verify_ws_auth
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.ws_conn import Connection

KINDS = ("execution", "order", "position", "wallet")
TOPICS = frozenset({*KINDS, "execution.linear", "order.linear", "position.linear"})


class PrivateHub:
    """Authenticated private clients and their topics."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.connections: set[Connection] = set()
        self.duplicate_executions = 0
        self.delay_executions = 0
        self.delay_s = 0.0
        self.pushed: dict[str, int] = dict.fromkeys(KINDS, 0)

    def handle(self, conn: Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        req_id = message.get("req_id")
        reply: dict[str, Any] = {"op": op, "conn_id": conn.conn_id}
        if req_id is not None:
            reply["req_id"] = req_id
        if op == "ping":
            conn.send(reply | {"op": "pong", "args": [str(self.venue.now_ms())]})
        elif op == "auth":
            conn.send(reply | self._auth(conn, message.get("args")))
        elif op in ("subscribe", "unsubscribe"):
            conn.send(reply | self._subscription(conn, op, message.get("args")))
        else:
            conn.send(reply | {"success": False, "ret_msg": f"Invalid op: {op!r}"})

    def _auth(self, conn: Connection, args: object) -> dict[str, Any]:
        if conn.api_key is not None:
            return {"success": False, "ret_msg": "Repeat auth"}
        try:
            conn.api_key = verify_ws_auth(self.venue.config, args, self.venue.now_ms())
        except Reject as exc:
            return {"success": False, "ret_msg": exc.message}
        return {"success": True, "ret_msg": ""}

    def _subscription(self, conn: Connection, op: str, args: object) -> dict[str, Any]:
        if conn.api_key is None:
            return {"success": False, "ret_msg": "Request not authorized"}
        topics = args if isinstance(args, list) else []
        if not topics or any(t not in TOPICS for t in topics):
            return {"success": False, "ret_msg": f"Invalid topic: {args}"}
        if op == "subscribe":
            conn.topics.update(topics)
        else:
            conn.topics.difference_update(topics)
        return {"success": True, "ret_msg": ""}

    def private(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Push one effect to every client subscribed to `kind` or `kind.linear`."""
        now = self.venue.now_ms()
        copies = 1
        if kind == "execution" and self.duplicate_executions > 0:
            self.duplicate_executions -= 1
            copies = 2
        if kind == "execution" and self.delay_executions > 0:
            self.delay_executions -= 1
            asyncio.get_running_loop().call_later(self.delay_s, self._push, kind, records, now, 1)
            return
        self._push(kind, records, now, copies)

    def _push(self, kind: str, records: list[dict[str, Any]], now: int, copies: int) -> None:
        for conn in list(self.connections):
            for topic in (kind, f"{kind}.linear"):
                if topic not in conn.topics:
                    continue
                message = {"id": str(uuid.uuid4()), "topic": topic, "creationTime": now,
                           "data": records}  # fmt: skip
                for _ in range(copies):
                    conn.send(message)
                self.pushed[kind] += 1

    def drop_all(self) -> int:
        """Close every private connection (a fault for tests); returns how many."""
        dropped = list(self.connections)
        for conn in dropped:
            conn.close(1011)
        return len(dropped)
