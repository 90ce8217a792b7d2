"""`/v5/trade`: order entry over websocket (order.create / order.amend / order.cancel).

Auth is the private auth op with the trade reply shape; each request carries
`header.X-BAPI-TIMESTAMP` (pybit sends it as an int) and shares the REST rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nexusforge.nexus.venues.local import rejects as rc
from nexusforge.nexus.venues.local.auth import DEFAULT_RECV_WINDOW, check_window, verify_ws_auth
from nexusforge.nexus.venues.local.params import Params
from nexusforge.nexus.venues.local.ratelimit import ORDER_WRITE, RateLimited, RateLimiter
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.ws_conn import Connection


class TradeGateway:
    """Order-entry websocket clients."""

    def __init__(self, venue: Venue, limiter: RateLimiter) -> None:
        self.venue = venue
        self.limiter = limiter
        self.connections: set[Connection] = set()
        self.ops: dict[str, Callable[[Params], dict[str, Any]]] = {
            "order.create": venue.create_order,
            "order.amend": venue.amend_order,
            "order.cancel": venue.cancel_order,
        }

    def handle(self, conn: Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        reply: dict[str, Any] = {"op": op, "connId": conn.conn_id}
        for name in ("reqId", "req_id"):
            if name in message:
                reply[name] = message[name]
        if op == "ping":
            conn.send(reply | {"retCode": 0, "retMsg": "OK", "op": "pong",
                               "data": [str(self.venue.now_ms())]})  # fmt: skip
        elif op == "auth":
            conn.send(reply | self._auth(conn, message.get("args")))
        else:
            conn.send(reply | self._order(conn, str(op), message))

    def _auth(self, conn: Connection, args: object) -> dict[str, Any]:
        if conn.api_key is not None:
            return {"retCode": rc.WS_REPEAT_AUTH, "retMsg": "Repeat auth"}
        try:
            conn.api_key = verify_ws_auth(self.venue.config, args, self.venue.now_ms())
        except Reject as exc:
            return {"retCode": exc.code, "retMsg": exc.message}
        return {"retCode": 0, "retMsg": "OK"}

    def _order(self, conn: Connection, op: str, message: dict[str, Any]) -> dict[str, Any]:
        now = self.venue.now_ms()
        header: dict[str, str] = {"Traceid": conn.conn_id, "Timenow": str(now)}
        try:
            if conn.api_key is None:
                raise Reject(rc.BAD_KEY, "Request not authorized")
            handler = self.ops.get(op)
            if handler is None:
                raise Reject(rc.WS_UNKNOWN_OP, f"unsupported op {op!r}")
            args, sent = message.get("args"), message.get("header")
            if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], dict)):
                raise Reject(rc.PARAMS, "args must hold exactly one request object")
            sent = sent if isinstance(sent, dict) else {}
            check_window(
                sent.get("X-BAPI-TIMESTAMP"),
                sent.get("X-BAPI-RECV-WINDOW", DEFAULT_RECV_WINDOW),
                now,
            )
            header |= self.limiter.take(conn.api_key, ORDER_WRITE, now).headers()
            data = handler(args[0])
        except RateLimited as exc:
            header |= exc.status.headers()
            return {"retCode": exc.code, "retMsg": exc.message, "data": {}, "retExtInfo": {},
                    "header": header}  # fmt: skip
        except Reject as exc:
            return {"retCode": exc.code, "retMsg": exc.message, "data": {}, "retExtInfo": {},
                    "header": header}  # fmt: skip
        return {"retCode": 0, "retMsg": "OK", "data": data, "retExtInfo": {}, "header": header}
