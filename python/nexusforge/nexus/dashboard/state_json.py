"""The JSON the page and `/api/state` get: the snapshot plus a few derived numbers.

Decimals become strings (exact digits for tables; the page parses them for charts); NaN becomes
null. Derived values (drawdown fraction, latency percentiles, challenger uplift) are computed
here once so the page's script stays a renderer.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from nexusforge.nexus.dashboard.snapshot import Snapshot

QS = (0.5, 0.9, 0.99)  # latency percentiles shown


def state_dict(snap: Snapshot, *, actions: bool) -> dict[str, Any]:
    """The snapshot as JSON-ready builtins; `actions`: whether the kill switch can be armed."""
    out: dict[str, Any] = msgspec.to_builtins(snap)
    for m, view in zip(out["models"], snap.models, strict=True):
        m["drawdown_fraction"] = str(view.drawdown_fraction)
    for c, ch in zip(out["challengers"], snap.challengers, strict=True):
        c["uplift"] = _finite(ch.uplift)
    for h, lat in zip(out["latencies"], snap.latencies, strict=True):
        h["percentiles_s"] = {f"p{round(q * 100)}": _finite(lat.percentile(q)) for q in QS}
    out["actions"] = actions
    return out


def encode(snap: Snapshot, *, actions: bool) -> bytes:
    """`state_dict` as JSON bytes."""
    return msgspec.json.encode(state_dict(snap, actions=actions))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
