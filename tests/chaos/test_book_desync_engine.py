"""Named scenario 6 on the engine side (book desync): the engine's MarketFeed, fed the captured
Bybit snapshot and then a crossed delta or a delta past a `u` gap, gives no mid and NaN features
(so no model trades on it) until a fresh snapshot; a delta before any snapshot changes nothing."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from nexusforge.market.features import FeatureConfig
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.venues.bybit import BookUpdate

D = Decimal
INSTRUMENT = Instrument("BTCUSDT", D("0.5"), D("0.001"), D("0.001"), D(1000), D(1000), D(5))
SNAPSHOT = "bybit/ws_public/nautilus_ws_orderbook_snapshot.json"


Levels = list[list[str]]


def update(
    raw: dict[str, Any],
    *,
    snapshot: bool,
    u: int,
    bids: Levels | None = None,
    asks: Levels | None = None,
) -> BookUpdate:
    data = raw["data"]
    return BookUpdate(
        topic=raw["topic"], symbol=data["s"], snapshot=snapshot,
        bids=[(x[0], x[1]) for x in (data["b"] if bids is None else bids)],
        asks=[(x[0], x[1]) for x in (data["a"] if asks is None else asks)],
        update_id=u, seq=data["seq"] + u, ts_ms=raw["ts"], cts_ms=raw["ts"], frame="",
    )  # fmt: skip


def feed() -> MarketFeed:
    return MarketFeed(INSTRUMENT, FeatureConfig(tick_size=0.5))


def features_held(row: dict[str, float]) -> bool:
    return all(math.isnan(row[k]) for k in ("imb_1", "microprice_dev_bps"))


def test_crossed_delta_makes_the_book_unusable_until_a_snapshot(shared_data: Path) -> None:
    raw = json.loads((shared_data / SNAPSHOT).read_text())
    f = feed()
    assert not features_held(f.on_book(update(raw, snapshot=True, u=1)))
    assert f.mid() == D("27450.5")
    crossed = f.on_book(update(raw, snapshot=False, u=2, bids=[["27452.00", "3.0"]], asks=[]))
    assert f.mid() is None and features_held(crossed)
    assert not features_held(f.on_book(update(raw, snapshot=True, u=3)))
    assert f.mid() == D("27450.5")


def test_update_id_gap_makes_the_book_unusable_until_a_snapshot(shared_data: Path) -> None:
    raw = json.loads((shared_data / SNAPSHOT).read_text())
    f = feed()
    f.on_book(update(raw, snapshot=True, u=10))
    gapped = f.on_book(update(raw, snapshot=False, u=15, bids=[["27450.00", "0.7"]], asks=[]))
    assert f.mid() is None and features_held(gapped)
    f.on_book(update(raw, snapshot=True, u=20))
    assert f.mid() == D("27450.5")


def test_delta_before_any_snapshot_gives_no_book(shared_data: Path) -> None:
    raw = json.loads((shared_data / SNAPSHOT).read_text())
    f = feed()
    row = f.on_book(update(raw, snapshot=False, u=5, bids=[["27450.00", "0.7"]], asks=[]))
    assert f.mid() is None and features_held(row)
