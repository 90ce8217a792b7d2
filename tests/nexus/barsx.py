"""Recorded Bybit 5 m BTCUSDT candles for the live-bar tests: the instrument, the candles as the
venue's strings, and Forge's research table of the same candles."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Mapping
from itertools import islice
from pathlib import Path

import pytest

from nexusforge.data.ingest import ingest
from nexusforge.forge.backtest.run import SeriesSpec
from nexusforge.forge.evolve.table import ResearchTable, load_research_table
from nexusforge.market.instruments import Instrument, parse_instruments_response
from nexusforge.strategy import codec
from nexusforge.strategy.expr import Expr

CSV_5M = "history/bybit_linear_BTCUSDT_5m_20260301_20260721.csv.gz"
SERIES = SeriesSpec("bybit_linear", "BTCUSDT", 300)
TOPIC = "kline.5.BTCUSDT"
Raw = list[tuple[int, str, str, str, str, str]]


def expr(doc: Mapping[str, object]) -> Expr:
    """A strategy expression from its JSON document (as a challenger file holds it)."""
    return codec.loads(json.dumps({"schema": 1, "expr": doc}))


def btc_instrument(shared_data: Path) -> Instrument:
    """BTCUSDT from the recorded linear instruments response."""
    path = shared_data / "bybit/rest/nautilus_http_get_instruments_linear.json"
    return parse_instruments_response(json.loads(path.read_text()))["BTCUSDT"]


def venue_candles(shared_data: Path, bars: int | None = None) -> Raw:
    """The first `bars` candles (all when None) as venue strings: (start ms, o, h, l, c, v)."""
    with gzip.open(shared_data / CSV_5M, "rt") as fh:
        rows = list(islice(csv.DictReader(fh), bars))
    return [(int(r["open_time_ms"]), r["open"], r["high"], r["low"], r["close"], r["volume"])
            for r in rows]  # fmt: skip


def research_table(
    shared_data: Path, tmp: pytest.TempPathFactory, bars: int | None = None
) -> ResearchTable:
    """Forge's research table of the candles; with `bars`, of the file cut to its first `bars` rows
    (same name and format: a row's features read only bars up to it, so the cut changes none)."""
    src = shared_data / CSV_5M
    if bars is not None:
        cut = tmp.mktemp("cut") / src.name
        with gzip.open(src, "rt") as fh, gzip.open(cut, "wt", newline="") as out:
            out.writelines(islice(fh, bars + 1))  # header + `bars` rows
        src = cut.parent
    store = tmp.mktemp("store")
    assert not ingest(src, store).failed
    table = load_research_table(store, SERIES)
    assert bars is None or table.height == bars
    return table
