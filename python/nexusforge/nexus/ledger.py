"""Per-model ledgers from venue executions, in `Decimal`, and the book of a symbol's ledgers.

Accounting (USDT linear perpetual, one-way mode; every number is exact unless said otherwise):

    cash        capital − Σ side·qty·price (fills) − Σ fees − Σ funding paid
    inventory   Σ side·qty (signed; + long)
    equity      cash + inventory · mark                      (exact: no division anywhere)
    cost_basis  signed cost of the open position under the average-cost method
    avg_entry   cost_basis / inventory
    realized    PnL of closed quantity: closing c of position P at price p realizes
                c·sign(P)·p − cost_basis·c/|P|; a fill through zero closes P, then opens the rest
                at p (a flip); cost_basis is exactly 0 whenever inventory is 0
    unrealized  inventory · mark − cost_basis

    so equity = capital + realized + unrealized − fees − funding, exactly. The one inexact step is
    the average-cost share cost_basis·c/|P|, computed in a 34-digit context and rounded to 1e-16
    USDT; it only moves value between `realized` and `cost_basis`. Every other operation is an
    exact sum or product (run in a 60-digit context, so nothing rounds for any sane magnitude).

Order: fills are applied in the canonical order (execTime, execId). A late fill that sorts before
fills already applied is inserted and the ledger replays from the last checkpoint before it, so
the final state is a function of the SET of fills, whatever order or duplication they came in.
(Inventory, cash, fees and funding are plain sums and order-free anyway; realized PnL under
average cost is path dependent, which is why the order is fixed.) Duplicates by execId are
ignored and counted. IGNORED rows (unknown execTypes) are counted and never applied.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import msgspec

from nexusforge.errors import LedgerError
from nexusforge.nexus import order_ids
from nexusforge.nexus.executions import ExecId, ExecKind, Execution

log = logging.getLogger(__name__)

ZERO = Decimal(0)
# Average cost divides; 34 significant digits (decimal128) keeps it far below any tick.
AVG_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)
SHARE_QUANTUM = Decimal("1e-16")
# Sums and products of venue strings: wide enough that they never round.
EXACT_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
CHECKPOINT_EVERY = 32
# Fills a ledger keeps in memory (a multiple of CHECKPOINT_EVERY); older ones are compacted away
# as they pass it. ~1.4 KB a fill: an engine trading all day stays flat (the soak found the
# ledgers, and the dashboard's copy of them, growing by every fill).
MAX_KEPT_FILLS = 256
# execIds a journal-backed Book (and each of its ledgers) keeps in memory; older ones are
# answered exactly by the journal's unique index (~0.3 KB an id: the soak found these sets
# growing by every fill, in the engine's book and again in the dashboard's).
RECENT_EXEC_IDS = 4096
# Forgotten at once when the window overflows: one journal lookup per this many fills.
FORGET_BATCH = 256


@dataclass(frozen=True, slots=True)
class LedgerState:
    """Everything a ledger knows about its money and position at one point."""

    inventory: Decimal = ZERO
    cost_basis: Decimal = ZERO
    cash: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    realized: Decimal = ZERO

    @property
    def avg_entry(self) -> Decimal:
        """Average entry price of the open position (0 when flat)."""
        if self.inventory == 0:
            return ZERO
        return AVG_CONTEXT.divide(self.cost_basis, self.inventory)

    def unrealized(self, mark: Decimal) -> Decimal:
        """PnL of the open position at `mark`."""
        with localcontext(EXACT_CONTEXT):
            return self.inventory * mark - self.cost_basis

    def equity(self, mark: Decimal) -> Decimal:
        """Cash plus the position marked at `mark`."""
        with localcontext(EXACT_CONTEXT):
            return self.cash + self.inventory * mark


def step(s: LedgerState, e: Execution) -> LedgerState:
    """The state after one execution (FILL, FORCED or FUNDING; IGNORED is never passed)."""
    with localcontext(EXACT_CONTEXT):
        if e.kind is ExecKind.FUNDING:
            return replace(s, cash=s.cash - e.fee, funding=s.funding + e.fee)
        q = e.signed_qty
        cash = s.cash - q * e.price - e.fee
        fees = s.fees + e.fee
        inv, cost, realized = _trade(s.inventory, s.cost_basis, s.realized, q, e.price)
        return LedgerState(inv, cost, cash, fees, s.funding, realized)


def _trade(
    inv: Decimal, cost: Decimal, realized: Decimal, q: Decimal, price: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """Average-cost update of (inventory, cost basis, realized) for a signed fill q at price."""
    if q == 0:
        return inv, cost, realized
    if inv == 0 or (inv > 0) == (q > 0):
        return inv + q, cost + q * price, realized
    closing = min(abs(q), abs(inv))
    sign = 1 if inv > 0 else -1
    if closing == abs(inv):
        removed = cost
    else:
        share = AVG_CONTEXT.divide(AVG_CONTEXT.multiply(cost, closing), abs(inv))
        removed = share.quantize(SHARE_QUANTUM, rounding=ROUND_HALF_EVEN)
    realized += closing * sign * price - removed
    inv_after = inv + q
    cost_after = cost - removed if closing < abs(inv) else ZERO
    if inv_after != 0 and closing == abs(inv):
        cost_after = inv_after * price  # flip: the rest opens a new position at this price
    return inv_after, cost_after, realized


@dataclass
class Ledger:
    """One model's position and money in one symbol, from its executions only."""

    model: str
    symbol: str
    capital: Decimal
    duplicates: int = 0
    ignored: int = 0
    late_beyond_horizon: int = 0
    fill_count: int = 0  # fills applied, compacted ones included
    max_kept: int = MAX_KEPT_FILLS
    max_ids: int | None = None  # execIds remembered (None: all; exact dedupe on its own)
    forced_fills: list[ExecId] = field(default_factory=list)
    _fills: list[Execution] = field(default_factory=list, init=False, repr=False)
    _keys: list[tuple[int, str]] = field(default_factory=list, init=False, repr=False)
    _seen: RecentIds = field(init=False, repr=False)
    _checkpoints: list[LedgerState] = field(default_factory=list, init=False, repr=False)
    _state: LedgerState = field(init=False, repr=False)
    _horizon: tuple[int, str] = field(default=(-1, ""), init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_kept < CHECKPOINT_EVERY:
            raise LedgerError(f"{self.model}: max_kept must be >= {CHECKPOINT_EVERY}")
        self._seen = RecentIds(self.max_ids)
        self._state = LedgerState(cash=self.capital)
        self._checkpoints = [self._state]

    @property
    def state(self) -> LedgerState:
        """The current state (immutable snapshot)."""
        return self._state

    @property
    def inventory(self) -> Decimal:
        """Signed position in base units."""
        return self._state.inventory

    @property
    def fills(self) -> tuple[Execution, ...]:
        """The applied executions still kept (the newest `max_kept`), in canonical order."""
        return tuple(self._fills)

    @property
    def last_fill(self) -> Execution | None:
        """The newest kept execution in canonical order, if any."""
        return self._fills[-1] if self._fills else None

    def has(self, exec_id: str) -> bool:
        """Whether this execId was applied (or deliberately ignored) and is still remembered
        (always, unless `max_ids` bounds the memory: then the newest `max_ids`)."""
        return exec_id in self._seen

    @property
    def remembered_ids(self) -> int:
        """How many execIds this ledger holds in memory."""
        return len(self._seen)

    def apply(self, e: Execution) -> bool:
        """Applies one execution once; False for a duplicate or an IGNORED row (both counted)."""
        if e.symbol != self.symbol:
            raise LedgerError(f"{self.model}: {e.exec_id} is {e.symbol}, ledger is {self.symbol}")
        if e.exec_id in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(e.exec_id)
        if e.kind is ExecKind.IGNORED:
            self.ignored += 1
            log.warning("%s: execType %r of %s not applied", self.model, e.exec_type, e.exec_id)
            return False
        if e.forced:
            self.forced_fills.append(e.exec_id)
        self.fill_count += 1
        self._insert(e)
        if len(self._fills) > self.max_kept + CHECKPOINT_EVERY:
            self._cut((len(self._fills) - self.max_kept) // CHECKPOINT_EVERY)
        return True

    def _insert(self, e: Execution) -> None:
        key = e.sort_key
        if key < self._horizon:
            self.late_beyond_horizon += 1
            log.warning("%s: %s is older than the compacted horizon", self.model, e.exec_id)
        i = bisect.bisect_right(self._keys, key)
        self._keys.insert(i, key)
        self._fills.insert(i, e)
        if i == len(self._fills) - 1:
            self._state = step(self._state, e)
            if len(self._fills) % CHECKPOINT_EVERY == 0:
                self._checkpoints.append(self._state)
            return
        self._replay_from(i)

    def _replay_from(self, i: int) -> None:
        """A late fill landed at index i: replay from the last checkpoint at or before i."""
        c = i // CHECKPOINT_EVERY
        del self._checkpoints[c + 1 :]
        s = self._checkpoints[c]
        for j in range(c * CHECKPOINT_EVERY, len(self._fills)):
            s = step(s, self._fills[j])
            if (j + 1) % CHECKPOINT_EVERY == 0:
                self._checkpoints.append(s)
        self._state = s

    def equity(self, mark: Decimal) -> Decimal:
        """Equity marked at `mark`."""
        return self._state.equity(mark)

    def compact(self, before_ms: int) -> int:
        """Forgets the fills with execTime < before_ms (their effect stays); returns how many.

        Bounds memory on long runs. Cuts at a checkpoint, so the state is unchanged. A fill
        older than the cut that arrives later sorts before every kept fill and is applied right
        after the cut: sums stay exact; only its realized/cost split may differ from the full
        canonical order (counted in `late_beyond_horizon`). execIds are kept for dedupe.
        """
        k = bisect.bisect_left(self._keys, (before_ms, ""))
        return self._cut(k // CHECKPOINT_EVERY)

    def _cut(self, c: int) -> int:
        """Forgets the fills before checkpoint `c` (the state is unchanged); returns how many."""
        if c <= 0:
            return 0
        cut = c * CHECKPOINT_EVERY
        self._horizon = max(self._horizon, self._keys[cut - 1])
        del self._fills[:cut], self._keys[:cut], self._checkpoints[:c]
        return cut


class RecentIds:
    """The newest `capacity` execIds in arrival order (None: every one); `add` returns the
    oldest ones it forgot (`FORGET_BATCH` at a time, so callers act on them in bulk)."""

    def __init__(self, capacity: int | None) -> None:
        if capacity is not None and capacity < 1:
            raise LedgerError(f"execId memory must hold at least 1 id, got {capacity}")
        self.capacity = capacity
        self._ids: dict[str, None] = {}

    def __contains__(self, exec_id: str) -> bool:
        return exec_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, exec_id: str) -> list[str]:
        """Remembers `exec_id` (not already held); returns the ids forgotten to make room."""
        self._ids[exec_id] = None
        if self.capacity is None or len(self._ids) <= self.capacity + FORGET_BATCH:
            return []
        old = list(itertools.islice(self._ids, len(self._ids) - self.capacity))
        for k in old:
            del self._ids[k]
        return old


@dataclass(frozen=True, slots=True)
class ReconciliationAlert:
    """The ledgers of a symbol disagree with the venue's position: pause new orders."""

    symbol: str
    venue_position: Decimal
    ledger_total: Decimal
    by_model: Mapping[str, Decimal]
    orphan: Decimal

    @property
    def difference(self) -> Decimal:
        """Venue position minus the sum of the ledgers."""
        return self.venue_position - self.ledger_total

    def __str__(self) -> str:
        return (
            f"{self.symbol}: venue position {self.venue_position} != ledgers {self.ledger_total} "
            f"(difference {self.difference}, orphan {self.orphan})"
        )


# The router: orderLinkId -> model name, or None when no model owns it.
OwnerFn = Callable[[str], str | None]
# A journal's index: (execIds, symbol) -> the journal row id of each one journaled.
ExecRows = Callable[[Sequence[str], str], Mapping[str, int]]
ORPHAN = "orphan"
FUNDING_QUANTUM = Decimal("1e-12")


class Book:
    """The ledgers of every model trading one symbol in one account, plus an orphan ledger.

    Executions are routed by `owner(orderLinkId)`: a fill whose link id names no model here
    (ADL, liquidation, manual trades, other software) goes to the orphan ledger, so the sum of
    all ledgers always tracks the venue position; a non-zero orphan inventory is an orphaned
    position that the engine must flatten. Funding rows (no link id) are split across the
    ledgers in proportion to their signed inventories at the time the row is applied (each
    ledger pays what it would pay alone); shares are rounded to 1e-12 and the residue goes to
    the largest position so the shares sum to the venue's fee exactly. That split depends on
    arrival order, so a rebuild replays the journal in arrival order.

    Dedupe is exact. Alone, a Book remembers every execId. Given `exec_rows` (its journal's
    index), it keeps the newest `RECENT_EXEC_IDS` in memory and answers older ones from the
    journal: once the rows up to journal row R were applied and forgotten, an execId journaled
    at or before R was applied. That holds when the Book is fed its journal's rows in journal
    order, each once journaled (the engine, `Journal.rebuild` and the dashboard all do); an id
    that was never journaled is never forgotten.
    """

    def __init__(
        self,
        symbol: str,
        capitals: Mapping[str, Decimal],
        owner: OwnerFn | None = None,
        *,
        exec_rows: ExecRows | None = None,
    ) -> None:
        self.symbol = symbol
        window = None if exec_rows is None else RECENT_EXEC_IDS
        # each ledger's own memory is a safety net: the Book's exact dedupe runs first
        self.ledgers = {m: Ledger(m, symbol, c, max_ids=window) for m, c in capitals.items()}
        self.orphan = Ledger(ORPHAN, symbol, ZERO, max_ids=window)
        self._owner = owner if owner is not None else _no_owner
        self._exec_rows = exec_rows
        self._recent = RecentIds(window)
        self._unjournaled: set[str] = set()  # applied, not in the journal: never forgotten
        self._forgotten_through = 0  # journal rows with id <= this were applied and forgotten
        self.duplicates = 0
        self.orphan_fills = 0

    def ledger(self, model: str) -> Ledger:
        """The ledger of `model` (LedgerError when unknown)."""
        try:
            return self.ledgers[model]
        except KeyError:
            raise LedgerError(f"no ledger for model {model!r} in {self.symbol}") from None

    def apply(self, e: Execution) -> bool:
        """Routes and applies one execution once; False for a duplicate or an ignored row."""
        if self.applied_before(e.exec_id):
            self.duplicates += 1
            return False
        if e.symbol != self.symbol:
            raise LedgerError(f"{e.exec_id} is {e.symbol}, book is {self.symbol}")
        self._remember(e.exec_id)
        if e.kind is ExecKind.FUNDING:
            return self._apply_funding(e)
        model = self._owner(e.order_link_id)
        if model is None or model not in self.ledgers:
            self.orphan_fills += e.kind is not ExecKind.IGNORED
            return self.orphan.apply(e)
        return self.ledgers[model].apply(e)

    def applied_before(self, exec_id: str) -> bool:
        """Whether an execution with this execId was applied (or ignored) here already."""
        if exec_id in self._recent or exec_id in self._unjournaled:
            return True
        if self._exec_rows is None or self._forgotten_through == 0:
            return False
        row = self._exec_rows([exec_id], self.symbol).get(exec_id)
        return row is not None and row <= self._forgotten_through

    @property
    def remembered_ids(self) -> int:
        """How many execIds this Book holds in memory (its ledgers' not counted)."""
        return len(self._recent) + len(self._unjournaled)

    def _remember(self, exec_id: str) -> None:
        old = self._recent.add(exec_id)
        if not old:
            return
        assert self._exec_rows is not None  # only a bounded window forgets
        rows = self._exec_rows(old, self.symbol)
        self._unjournaled.update(k for k in old if k not in rows)
        if rows:
            self._forgotten_through = max(self._forgotten_through, *rows.values())

    def apply_all(self, rows: Iterable[Execution]) -> int:
        """Applies rows in the given order; returns how many changed a ledger."""
        return sum(self.apply(e) for e in rows)

    def _apply_funding(self, e: Execution) -> bool:
        holders = [lg for lg in self._all() if lg.inventory != 0]
        net = sum((lg.inventory for lg in holders), ZERO)
        if net == 0:
            log.warning("%s: funding %s with no net ledger position -> orphan", self.symbol, e)
            return self.orphan.apply(e)
        with localcontext(EXACT_CONTEXT):
            raw = [AVG_CONTEXT.divide(e.fee * lg.inventory, net) for lg in holders]
            shares = [r.quantize(FUNDING_QUANTUM, rounding=ROUND_HALF_EVEN) for r in raw]
            biggest = max(range(len(holders)), key=lambda k: abs(holders[k].inventory))
            shares[biggest] += e.fee - sum(shares, ZERO)
        for lg, share in zip(holders, shares, strict=True):
            part_id = ExecId(f"{e.exec_id}:{lg.model}")
            lg.apply(msgspec.structs.replace(e, exec_id=part_id, fee=share))
        return True

    def _all(self) -> list[Ledger]:
        return [*self.ledgers.values(), self.orphan]

    def total_inventory(self) -> Decimal:
        """Sum of every ledger's inventory, the orphan included."""
        return sum((lg.inventory for lg in self._all()), ZERO)

    def check(self, venue_position: Decimal) -> ReconciliationAlert | None:
        """None when Σ ledgers == the venue's signed position; else the alert."""
        total = self.total_inventory()
        if total == venue_position:
            return None
        by_model = {m: lg.inventory for m, lg in self.ledgers.items()}
        return ReconciliationAlert(
            self.symbol, venue_position, total, by_model, self.orphan.inventory
        )


def _no_owner(order_link_id: str) -> str | None:
    return None


def slot_router(names: Mapping[int, str]) -> OwnerFn:
    """The router of our orderLinkIds: the slot they name -> that slot's model name."""
    table = dict(names)

    def owner(order_link_id: str) -> str | None:
        slot = order_ids.slot_of(order_link_id)
        return None if slot is None else table.get(slot)

    return owner
