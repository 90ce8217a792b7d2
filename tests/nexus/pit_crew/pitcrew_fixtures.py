"""Challenger files and a synthetic book with a planted edge, for the real feature path."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from nexusforge.market.instruments import Instrument
from nexusforge.nexus.venues.bybit import BookUpdate
from nexusforge.strategy import artifact, codec
from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.expr import Expr

D = Decimal
SYMBOL = "TESTUSDT"
INSTRUMENT = Instrument(SYMBOL, D("0.1"), D("0.1"), D("0.1"), D(100000), D(100000), D(5))
GATE_PASSED = {"status": "validated", "gate": {"passed": True, "failed": []}}


def expr_of(doc: dict[str, Any]) -> Expr:
    return codec.loads(json.dumps({"schema": 1, "expr": doc}))


EDGE = {"op": "clip", "args": [{"op": "mul", "args": [{"col": "imb_1"}, {"const": 3.0}]}],
        "params": [-1.0, 1.0]}  # fmt: skip
ANTI_EDGE = {"op": "clip", "args": [{"op": "mul", "args": [{"col": "imb_1"}, {"const": -3.0}]}],
             "params": [-1.0, 1.0]}  # fmt: skip
FLAT = {"op": "mul", "args": [{"col": "imb_1"}, {"const": 0.0}]}


def challenger_text(
    doc: dict[str, Any], validation: dict[str, Any] | None = None, tag: str = ""
) -> str:
    ch = Challenger(expr_of(doc), {"oos_sharpe": 1.0}, {"table": "test"}, {"tag": tag},
                    validation or GATE_PASSED)  # fmt: skip
    return artifact.dumps(ch)


def resealed(doc: dict[str, Any]) -> str:
    """A file whose body is `doc` with a correct hash (to test checks behind the hash)."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return json.dumps({**body, "sha256": hashlib.sha256(canon.encode()).hexdigest()})


@dataclass
class EdgeMarket:
    """A book whose top-level imbalance predicts the next mid move (regimes of ~20 steps).

    Each step the mid moves one tick in the direction of the imbalance sign with probability
    `p`, else one tick against it; the imbalance sign flips with probability 1/20."""

    seed: int = 1
    p: float = 0.8
    mid_ticks: int = 1000  # mid = 100.0 at tick 0.1 (the mid sits on a tick: bid/ask ± 1)
    update_id: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.sign = 1

    def step(self) -> BookUpdate:
        """The next book (a full snapshot) after this step's move."""
        if self.update_id > 0:
            move = self.sign if self.rng.random() < self.p else -self.sign
            self.mid_ticks += move
        if self.rng.random() < 1 / 20:
            self.sign = -self.sign
        self.update_id += 1
        heavy, light = "90", "10"
        top_b, top_a = (heavy, light) if self.sign > 0 else (light, heavy)
        bids = [(str(D(self.mid_ticks - 1 - k) / 10), top_b if k == 0 else "40") for k in range(5)]
        asks = [(str(D(self.mid_ticks + 1 + k) / 10), top_a if k == 0 else "40") for k in range(5)]
        return BookUpdate(
            topic=f"orderbook.50.{SYMBOL}", symbol=SYMBOL, snapshot=True, bids=bids, asks=asks,
            update_id=self.update_id, seq=self.update_id, ts_ms=1_700_000_000_000 + self.update_id,
            cts_ms=0, frame="",
        )  # fmt: skip
