"""TradingModel: a strategy-language expression, the symbol it trades, its ledger, state and weight.

State machine (one `(state, event) -> state` table; anything else raises StateTransitionError):

    SHADOW --promote--> ACTIVE --demote--> SHADOW
    ACTIVE --kill--> DEAD,   SHADOW --kill--> DEAD        (DEAD is final: a revived model is new)

Only an ACTIVE model sends orders; a SHADOW model computes targets that Pit Crew papers; a DEAD
model's target is 0 (Watchtower flattens what it still holds). Sizing follows the backtester:
the strategy's value in [-1, 1] is a fraction of the model's equity, times its capital weight,
over the price, rounded toward zero to the lot step. NaN (warm-up, missing feature) keeps the
current inventory. Strategy files are data: parsed by the codec, never executed.
A model reading only bar features (`bar_feed.is_bar_column`) is bar-clocked: its strategy sees
one row per closed bar, as the research table has, and holds its value between bars; any other
model sees every tick row and skips the rows a bar close emits. The model is the one authority
on the clock: its MAML head follows it (`LiveHead.follow`, also for a head restored from a save).
A bar-clocked model hands each bar row it reads to its head, so a gap fill's bars and a new
shadow's warm-up bars reach the head in order, paired as research pairs them.

The weight (in [0, 1], set by the allocator every 60 s) only scales exposure: re-weighting never
moves cash between ledgers, so every ledger stays exactly the sum of its own fills.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from importlib import resources
from pathlib import Path

from nexusforge.errors import ConfigError, StateTransitionError
from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.bar_feed import BAR_CLOSE_TS, BAR_ROW, is_bar_column
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.live_head import LiveHead
from nexusforge.strategy import codec
from nexusforge.strategy.expr import Expr
from nexusforge.strategy.stream import StreamEvaluator

ZERO = Decimal(0)
MAX_STRATEGY_BYTES = 64 * 1024


class ModelState(Enum):
    """Lifecycle state of a model."""

    ACTIVE = "active"
    SHADOW = "shadow"
    DEAD = "dead"


class ModelEvent(Enum):
    """What can happen to a model's state."""

    PROMOTE = "promote"
    DEMOTE = "demote"
    KILL = "kill"


TRANSITIONS: dict[tuple[ModelState, ModelEvent], ModelState] = {
    (ModelState.SHADOW, ModelEvent.PROMOTE): ModelState.ACTIVE,
    (ModelState.ACTIVE, ModelEvent.DEMOTE): ModelState.SHADOW,
    (ModelState.ACTIVE, ModelEvent.KILL): ModelState.DEAD,
    (ModelState.SHADOW, ModelEvent.KILL): ModelState.DEAD,
}


def transition(state: ModelState, event: ModelEvent) -> ModelState:
    """The next state, or StateTransitionError for a pair the table does not allow."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise StateTransitionError(f"cannot {event.value} a {state.value} model") from None


def load_strategy(path: str | Path) -> Expr:
    """A strategy expression from a JSON file (codec only, size-limited)."""
    p = Path(path)
    if p.stat().st_size > MAX_STRATEGY_BYTES:
        raise ConfigError(f"{p}: strategy file larger than {MAX_STRATEGY_BYTES} bytes")
    return codec.loads(p.read_bytes())


CHAMPIONS_PACKAGE = "nexusforge.nexus.champions"


def champion_names() -> list[str]:
    """Names of the bundled champion strategies (file stems), sorted."""
    files = resources.files(CHAMPIONS_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


def load_champion(name: str) -> Expr:
    """One bundled champion strategy by name."""
    if name not in champion_names():
        raise ConfigError(f"no bundled champion {name!r}; have {champion_names()}")
    text = resources.files(CHAMPIONS_PACKAGE).joinpath(f"{name}.json").read_bytes()
    return codec.loads(text)


@dataclass
class TradingModel:
    """One model slot: strategy, symbol, ledger, state and capital weight."""

    slot: int
    name: str
    symbol: str
    strategy: Expr
    ledger: Ledger
    state: ModelState = ModelState.SHADOW
    weight: Decimal = Decimal(1)
    last_signal: float = math.nan
    # The challenger's MAML head (signal + regime features -> position, adapted live), if any.
    head: LiveHead | None = None
    _evaluator: StreamEvaluator = field(init=False, repr=False)
    _raw: float = field(default=math.nan, init=False, repr=False)
    _bar_clocked: bool = field(default=False, init=False, repr=False)
    _bar_seen: float = field(default=-math.inf, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ledger.symbol != self.symbol:
            raise ConfigError(f"{self.name}: ledger is {self.ledger.symbol}, model {self.symbol}")
        self.set_weight(self.weight)
        self._evaluator = StreamEvaluator(self.strategy)
        cols = self.columns
        self._bar_clocked = bool(cols) and all(is_bar_column(c) for c in cols)
        if self.head is not None:
            try:  # the head takes the model's clock: a saved clock never overrules the model
                self.head.follow(self._bar_clocked)
            except ValueError as exc:
                raise ConfigError(f"{self.name}: {exc}") from None

    @property
    def bar_clocked(self) -> bool:
        """True when the strategy reads bar features only (one row per closed bar)."""
        return self._bar_clocked

    @property
    def awaits_bars(self) -> bool:
        """True for a bar-clocked model that has read no bar yet (`warm_up` would read some)."""
        return self._bar_clocked and self._bar_seen == -math.inf

    @property
    def columns(self) -> tuple[str, ...]:
        """Feature columns the strategy (and its head) reads."""
        extra = self.head.features if self.head is not None else ()
        return tuple(dict.fromkeys((*self._evaluator.columns, *extra)))

    def set_weight(self, weight: Decimal) -> None:
        """Sets the capital weight (in [0, 1])."""
        if not ZERO <= weight <= 1:
            raise ConfigError(f"{self.name}: weight {weight} outside [0, 1]")
        self.weight = weight

    def apply_event(self, event: ModelEvent) -> tuple[ModelState, ModelState]:
        """Moves the state machine; returns (from, to) for the journal."""
        before = self.state
        self.state = transition(before, event)
        return before, self.state

    def signal(self, row: Mapping[str, float]) -> float:
        """Feeds one feature row to the strategy; its value clipped to [-1, 1] (NaN kept).
        A row that is not news to the model's clock keeps the last value."""
        if not self._fresh(row):
            return self.last_signal
        self._evaluate(row)
        if self._bar_clocked and self.head is not None:
            self.head.on_bar(self._raw, row)  # every bar row, in order (a gap fill's too)
        return self.last_signal

    def warm_up(self, bar_rows: Iterable[Mapping[str, float]]) -> int:
        """A bar-clocked model that has read no bar yet (a new shadow) reads the bars closed
        before it existed, without trading: its windows start as research's do, and its head's
        history too (the newest bar is the head's first live row: it adapts there once it has
        `support` rows before it). Rows read."""
        if not self.awaits_bars:
            return 0
        n = 0
        newest: Mapping[str, float] | None = None
        for row in bar_rows:
            n += 1
            if not self._fresh(row):
                continue
            if newest is not None and self.head is not None:
                self.head.on_bar(self._raw, newest, warm=True)
            self._evaluate(row)
            newest = row
        if newest is not None and self.head is not None:
            self.head.on_bar(self._raw, newest)
        return n

    def _evaluate(self, row: Mapping[str, float]) -> None:
        value = self._raw = self._evaluator.update(row)
        self.last_signal = value if math.isnan(value) else max(-1.0, min(1.0, value))

    def _fresh(self, row: Mapping[str, float]) -> bool:
        if not self._bar_clocked:
            return BAR_ROW not in row
        stamp = row.get(BAR_CLOSE_TS, math.nan)
        if not stamp > self._bar_seen:  # the same bar again (or none yet: NaN)
            return False
        self._bar_seen = stamp
        return True

    def target_position(
        self, row: Mapping[str, float], price: Decimal, instrument: Instrument
    ) -> Decimal:
        """Wanted signed position after this row, in base units on the lot grid.

        Every state feeds the row (so a promoted shadow model has warm windows); DEAD wants 0.
        """
        if price <= 0:
            raise ConfigError(f"{self.name}: price must be > 0, got {price}")
        value = self.signal(row)
        if self.head is not None and self._bar_clocked:  # fed each bar row by `signal`
            value = self.head.position
        elif self.head is not None:  # the head sees the raw signal, as in training
            value = self.head.on_round(self._raw, row, float(price))
        if self.state is ModelState.DEAD:
            return ZERO
        if math.isnan(value):
            return self.ledger.inventory
        equity = max(self.ledger.equity(price), ZERO)
        raw = Decimal(repr(value)) * equity * self.weight / price
        snapped = instrument.round_qty(abs(raw), Rounding.DOWN)
        return snapped if raw >= 0 else -snapped
