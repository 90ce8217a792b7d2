"""Watchtower: each model's equity, peak and drawdown; Sudden Death; flattening; the kill switch.

Equity is marked to the venue's mark price when one is given, else to the book's mid. A model
dies when its equity is ≤ 0 (Sudden Death) or ≤ `kill_fraction` × its capital (an earlier,
configurable kill level). A dead model stops trading and is flattened at once: reduce-only (where
the account allows it, see `intents.orders`) market orders in lot-size chunks, re-planned from
the ledger's inventory after each attempt and retried with backoff until the ledger is flat; the
outcome (flat, or dust under the minimum order qty) is recorded by the caller in the journal.

The global kill switch flattens everything: a file whose existence is checked every loop, signal
handlers (SIGUSR1, SIGTERM) and `trigger()` for the dashboard. Flattening all models crosses their
opposite positions internally at the mid first, so what goes to the venue is exactly the account's
net position, in orders that all reduce it. Never blocks, never sleeps: the engine drives it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import FrameType

from nexusforge.errors import ConfigError
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.intents import (
    Cross,
    OrderIntent,
    TradeNeed,
    WorkingOrder,
    cross,
    orders,
    reduces_account,
)
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.order_ids import OrderLinkId

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delay before re-planning a flatten that left inventory: first × factor^n, capped."""

    first_delay_s: float = 0.25
    factor: float = 2.0
    max_delay_s: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after attempt number `attempt` (1-based)."""
        return float(min(self.max_delay_s, self.first_delay_s * self.factor ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class WatchtowerConfig:
    """Kill level as a fraction of capital (0: only Sudden Death at equity ≤ 0); flatten retries."""

    kill_fraction: Decimal = ZERO
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not ZERO <= self.kill_fraction < 1:
            raise ConfigError(f"kill_fraction must be in [0, 1), got {self.kill_fraction}")


@dataclass(frozen=True, slots=True)
class EquityMark:
    """One model's equity at one mark, with its running peak and drawdown."""

    model: str
    price: Decimal
    equity: Decimal
    peak: Decimal
    drawdown: Decimal
    death: str | None = None

    @property
    def drawdown_fraction(self) -> Decimal:
        """Drawdown over peak (0 when the peak is not positive)."""
        return self.drawdown / self.peak if self.peak > 0 else ZERO


class Watchtower:
    """Marks every model, remembers peaks, and says when a model must die."""

    def __init__(self, config: WatchtowerConfig | None = None) -> None:
        self.config = config or WatchtowerConfig()
        self._peaks: dict[str, Decimal] = {}
        self.dead: dict[str, str] = {}
        self.liquidations: dict[int, Liquidation] = {}

    def liquidate(self, slot: int, symbol: str, now_s: float) -> Liquidation:
        """The liquidation of `slot`: started now, or the one already running (one per slot)."""
        liq = self.liquidations.get(slot)
        if liq is None:
            liq = Liquidation(slot, symbol, now_s, self.config.retry)
            self.liquidations[slot] = liq
        return liq

    def mark(self, ledger: Ledger, mid: Decimal, mark_price: Decimal | None = None) -> EquityMark:
        """Equity of `ledger` at the mark price (or mid); `death` is set once, on the mark
        where the model first crosses its kill level."""
        price = mark_price if mark_price is not None else mid
        if price <= 0:
            raise ConfigError(f"{ledger.model}: mark price must be > 0, got {price}")
        equity = ledger.equity(price)
        peak = max(self._peaks.get(ledger.model, ledger.capital), equity)
        self._peaks[ledger.model] = peak
        death = None
        if ledger.model not in self.dead:
            death = self._death_reason(ledger, equity)
            if death is not None:
                self.dead[ledger.model] = death
                log.warning("%s: %s", ledger.model, death)
        return EquityMark(ledger.model, price, equity, peak, peak - equity, death)

    def _death_reason(self, ledger: Ledger, equity: Decimal) -> str | None:
        if equity <= 0:
            return f"sudden death: equity {equity} <= 0"
        level = ledger.capital * self.config.kill_fraction
        if self.config.kill_fraction > 0 and equity <= level:
            return f"kill level: equity {equity} <= {level}"
        return None


@dataclass(frozen=True, slots=True)
class FlattenPlan:
    """Orders that bring one position to flat, and the dust no order can take."""

    intents: tuple[OrderIntent, ...]
    dust: Decimal


def flatten_plan(
    slot: int,
    symbol: str,
    inventory: Decimal,
    account_position: Decimal,
    instrument: Instrument,
    link_id: Callable[[int], OrderLinkId],
    reason: str = "flatten",
) -> FlattenPlan:
    """Market orders for −inventory in lot-size chunks (reduce-only where the account allows)."""
    ro_ok = reduces_account(account_position, -inventory)
    qty = -inventory
    out = orders(
        slot, symbol, qty, inventory, instrument, link_id, reduce_only_ok=ro_ok, reason=reason
    )
    done = sum((i.qty for i in out), ZERO)
    return FlattenPlan(tuple(out), abs(inventory) - done)


class LiquidationOutcome(Enum):
    """Where one liquidation stands."""

    PENDING = "pending"
    FLAT = "flat"
    DUST = "dust"


@dataclass
class Liquidation:
    """Drives one dead model to flat: plan, wait for the orders, re-plan, until flat or dust."""

    slot: int
    symbol: str
    started_s: float
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    attempts: int = 0
    outcome: LiquidationOutcome = LiquidationOutcome.PENDING
    finished_s: float | None = None
    residual: Decimal = ZERO
    _next_s: float = 0.0

    def step(
        self,
        now_s: float,
        inventory: Decimal,
        account_position: Decimal,
        working: Sequence[WorkingOrder],
        instrument: Instrument,
        link_id: Callable[[int], OrderLinkId],
    ) -> list[OrderIntent]:
        """Orders to send now (often none): waits while orders work or the backoff runs."""
        if self.outcome is not LiquidationOutcome.PENDING:
            return []
        self.residual = inventory
        if inventory == 0:
            return self._finish(LiquidationOutcome.FLAT, now_s)
        if working or now_s < self._next_s:
            return []
        plan = flatten_plan(
            self.slot, self.symbol, inventory, account_position, instrument, link_id
        )
        if not plan.intents:
            return self._finish(LiquidationOutcome.DUST, now_s)
        self.attempts += 1
        self._next_s = now_s + self.policy.delay(self.attempts)
        if self.attempts > 1:
            log.warning("slot %d: flatten attempt %d, %s left", self.slot, self.attempts, inventory)
        return list(plan.intents)

    def _finish(self, outcome: LiquidationOutcome, now_s: float) -> list[OrderIntent]:
        self.outcome = outcome
        self.finished_s = now_s
        return []

    def describe(self) -> str:
        """One line for the journal's kill_events."""
        took = "" if self.finished_s is None else f" in {self.finished_s - self.started_s:.3f}s"
        return f"{self.outcome.value} after {self.attempts} attempt(s){took}, left {self.residual}"


@dataclass(frozen=True, slots=True)
class FlattenAll:
    """The kill switch's plan: internal crosses between slots, then orders for the net."""

    crosses: tuple[Cross, ...]
    intents: tuple[OrderIntent, ...]
    dust: Decimal


def flatten_all(
    symbol: str,
    inventories: Mapping[int, Decimal],
    mid: Decimal,
    instrument: Instrument,
    link_id: Callable[[int], OrderLinkId],
) -> FlattenAll:
    """Flattens every slot (include the orphan ledger under `ENGINE_SLOT`): opposite positions
    cross at `mid`, the rest goes out as orders that all reduce the account's net position."""
    needs = [TradeNeed(slot, -inv) for slot, inv in sorted(inventories.items()) if inv != 0]
    result = cross(needs, mid)
    intents: list[OrderIntent] = []
    dust = ZERO
    for slot, qty in sorted(result.residual.items()):
        if qty == 0:
            continue
        # what this slot still holds after its crosses; the residuals all reduce the account
        held = -qty
        out = orders(
            slot, symbol, qty, held, instrument, link_id, reduce_only_ok=True, reason="kill"
        )
        dust += abs(qty) - sum((i.qty for i in out), ZERO)
        intents.extend(out)
    return FlattenAll(result.crosses, tuple(intents), dust)


class KillSwitch:
    """The global kill switch: a file, signals and a method; once tripped it stays tripped."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.reason: str | None = None

    def trigger(self, reason: str) -> None:
        """Trips the switch (the dashboard's button; also what the signal handlers call)."""
        if self.reason is None:
            self.reason = reason

    def check(self) -> str | None:
        """Why the switch is tripped (the file is looked at on every call), or None."""
        if self.reason is None and self.path is not None and self.path.exists():
            self.trigger(f"kill file {self.path}")
        return self.reason

    def install_signal_handlers(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        signals: Sequence[signal.Signals] = (signal.SIGUSR1, signal.SIGTERM),
    ) -> Callable[[], None]:
        """Makes `signals` trip the switch; returns a function that restores the old handlers.

        With a running asyncio `loop` the handlers go through `loop.add_signal_handler`."""
        if loop is not None:
            for sig in signals:
                loop.add_signal_handler(sig, self.trigger, f"signal {sig.name}")

            def remove_loop() -> None:
                for sig in signals:
                    loop.remove_signal_handler(sig)

            return remove_loop
        previous = {sig: signal.getsignal(sig) for sig in signals}

        def handler(signum: int, frame: FrameType | None) -> None:
            self.trigger(f"signal {signal.Signals(signum).name}")

        for sig in signals:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore
