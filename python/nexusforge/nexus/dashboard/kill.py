"""The kill switch over HTTP: `POST /api/kill/arm` then `POST /api/kill/confirm`.

Refused with 403 when the dashboard runs without a token (read-only), 409 when the source
cannot act (a journal), 401 without the right bearer token, 400 for a bad body, 410 for a code
that is wrong, used or expired. Only a confirmed request reaches `source.trigger_kill`.
"""

from __future__ import annotations

import logging

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse

from nexusforge.nexus.dashboard.auth import Confirmations, bearer_ok
from nexusforge.nexus.dashboard.cache import SnapshotCache

log = logging.getLogger(__name__)
MAX_REASON_CHARS = 200


class ConfirmBody(msgspec.Struct, forbid_unknown_fields=True):
    """The body of a confirm request."""

    code: str
    reason: str = "operator"


class KillEndpoints:
    """The two handlers, sharing one set of confirmation codes."""

    def __init__(self, cache: SnapshotCache, token: str | None) -> None:
        self._cache = cache
        self._token = token
        self._codes = Confirmations()

    def _refusal(self, request: Request) -> JSONResponse | None:
        if self._token is None:
            return _error(403, "read-only dashboard: started without a token")
        if not self._cache.source.can_kill:
            return _error(409, "this source cannot act (a journal being read)")
        if not bearer_ok(request, self._token):
            log.warning("kill switch: request without a valid token from %s", _peer(request))
            return _error(401, "a valid bearer token is required")
        return None

    async def arm(self, request: Request) -> JSONResponse:
        """Step 1: a one-time code to type back within its time limit."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        code = self._codes.arm()
        return JSONResponse({"code": code, "expires_s": self._codes.ttl_s})

    async def confirm(self, request: Request) -> JSONResponse:
        """Step 2: trips the kill switch when the code is live."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        try:
            body = msgspec.json.decode(await request.body(), type=ConfirmBody)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, f"body: {exc}")
        if not self._codes.confirm(body.code):
            return _error(410, "confirmation code wrong, used or expired: arm again")
        reason = " ".join(body.reason.split())[:MAX_REASON_CHARS] or "operator"
        log.warning("kill switch tripped from the dashboard (%s): %s", _peer(request), reason)
        self._cache.source.trigger_kill(f"dashboard: {reason}")
        self._cache.invalidate()
        return JSONResponse({"tripped": True, "reason": reason})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
