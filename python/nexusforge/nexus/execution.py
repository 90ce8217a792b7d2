"""The Intelligent Execution Layer, live: an ONNX policy picks a tactic per order intent, and the
tactic becomes a concrete venue order with its follow-up.

The policy (`policies/iel.onnx`, trained in the simulator by `forge/execution_rl`) is trusted
only after its manifest checks out: the ONNX file's sha256 matches, its inputs/actions are
exactly `FEATURES`/`TACTICS` below (the contract with training), and onnxruntime loads it. Any
failure — missing or corrupt file, wrong hash, wrong lists — and any bad state at decision
time (wrong shape, NaN/inf) gives the documented default tactic, `market` (the only tactic that
always completes the intent, so a broken policy never leaves a model off its target), with a
logged warning; the engine keeps running. Never eval/exec/pickle: the manifest is JSON, the
model is ONNX. Live inference is onnxruntime only (no torch here).

Tactic -> order (`order_spec`): market = Market; passive = Limit GTC at our own best; inside =
Limit GTC one tick inside the spread (at best when the spread is one tick); post_then_cross =
Limit PostOnly at best, cancelled after `timeout_s`, and what is left crosses (the slot's next
decision is forced to market); wait = nothing sent this round. Each slot's unfinished need is
tracked (`ParentOrder`) so `remaining_frac` and `time_left_frac` mean what they meant in
training; when its horizon is spent the tactic is market.

In the engine (`OrderRouter.tactics`, wired by `IelOnStart` in `nexus run`): only `target`
intents are the policy's (flattening, liquidation and kill orders always cross); a resting order
keeps the engine from planning new rounds (nothing is planned while anything is in flight) until
it fills or its timeout cancels it, so `timeout_s` bounds that wait.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from nexusforge.errors import ConfigError
from nexusforge.market.book import OrderBook
from nexusforge.market.execution_state import (
    DEFAULT_TACTIC,
    FEATURES,
    TACTICS,
    VOL_WINDOW,
    Tactic,
    Touch,
    state_vector,
    vol_bps,
)

if TYPE_CHECKING:
    from nexusforge.nexus.engine import Engine

log = logging.getLogger(__name__)


MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20
F32 = npt.NDArray[np.float32]


def default_manifest() -> Path:
    """The policy shipped with the package (`nexusforge/nexus/policies/iel.json`)."""
    return Path(str(resources.files("nexusforge.nexus") / "policies" / "iel.json"))


@dataclass(frozen=True, slots=True)
class Decision:
    """The tactic chosen and why (`policy`, or the reason for the default)."""

    tactic: Tactic
    source: str


class IelPolicy:
    """The ONNX policy, or the default tactic when it cannot be trusted (`reason` says why)."""

    def __init__(self, session: ort.InferenceSession | None, reason: str, meta: dict[str, Any]):
        self._session = session
        self.reason = reason
        self.meta = meta
        self.fallbacks = 0
        self._warned: set[str] = set()
        self._outputs = ["action"]

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @classmethod
    def load(cls, manifest: Path | None = None) -> IelPolicy:
        """Checks and loads a policy; never raises (a bad one decides the default tactic)."""
        path = manifest or default_manifest()
        try:
            meta, onnx_path = _checked_manifest(path)
            session = _session(onnx_path)
        except Exception as exc:  # onnxruntime raises its own types; any failure means no policy
            log.warning("IEL policy %s not used, default tactic %s: %s", path, TACTICS[0], exc)
            return cls(None, str(exc), {})
        return cls(session, "", meta)

    def decide(self, state: npt.ArrayLike) -> Decision:
        """The policy's tactic for one state (`FEATURES` order, unscaled), or the default."""
        if self._session is None:
            return self.fallback(f"no policy: {self.reason}")
        x = np.asarray(state, dtype=np.float32)
        if x.shape != (len(FEATURES),):
            return self.fallback(f"state shape {x.shape}, expected ({len(FEATURES)},)")
        if not np.isfinite(x).all():
            return self.fallback("state is not finite")
        try:
            out = self._session.run(self._outputs, {"state": x.reshape(1, -1)})[0]
            action = int(out[0])
        except Exception as exc:  # an inference error must not stop the engine
            return self.fallback(f"inference failed: {exc}")
        if not 0 <= action < len(TACTICS):
            return self.fallback(f"action {action} out of range")
        return Decision(Tactic(action), "policy")

    def fallback(self, why: str) -> Decision:
        """The default tactic, counted, with a warning the first time for each kind of `why`."""
        self.fallbacks += 1
        key = why.split(":")[0]
        if key not in self._warned:  # once per kind of problem: the log stays readable
            self._warned.add(key)
            log.warning("IEL default tactic %s: %s", TACTICS[DEFAULT_TACTIC], why)
        return Decision(DEFAULT_TACTIC, f"default: {why}")


def _checked_manifest(path: Path) -> tuple[dict[str, Any], Path]:
    """The manifest's fields after every check, and the ONNX file it vouches for."""
    raw = path.read_bytes()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ValueError("manifest too large")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"manifest is not JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError("manifest is not an object")
    if meta.get("format_version") != MANIFEST_VERSION:
        raise ValueError(f"manifest format {meta.get('format_version')!r} unsupported")
    if meta.get("features") != list(FEATURES) or meta.get("actions") != list(TACTICS):
        raise ValueError("manifest features/actions differ from this engine's")
    name = meta.get("onnx_file")
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".onnx"):
        raise ValueError(f"bad onnx_file {name!r}")
    onnx_path = path.parent / name
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    if digest != meta.get("sha256"):
        raise ValueError(f"{name}: sha256 {digest} does not match the manifest")
    return meta, onnx_path


def _session(onnx_path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    # One thread: a 6-input MLP is latency-bound, and the engine's loop must not share cores.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if names != ["state"] or "action" not in [o.name for o in session.get_outputs()]:
        raise ValueError(f"{onnx_path.name}: inputs {names}, expected ['state'] -> action")
    return session


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A concrete venue order for a tactic (None price: market); `timeout_s` cancels a resting
    order; `cross_after` makes the slot's next decision market."""

    order_type: str
    price: Decimal | None = None
    time_in_force: str | None = None
    timeout_s: float | None = None
    cross_after: bool = False


def order_spec(
    tactic: Tactic, side: int, touch: Touch, tick: Decimal, timeout_s: float
) -> OrderSpec | None:
    """The order a tactic sends now (None: wait, send nothing)."""
    if tactic is Tactic.WAIT:
        return None
    if tactic is Tactic.MARKET or not touch.two_sided():
        return OrderSpec("Market")
    bid, ask = _on_grid(touch.bid, tick), _on_grid(touch.ask, tick)
    own = bid if side > 0 else ask
    if tactic is Tactic.INSIDE and ask - bid > tick:
        own += tick * side
    if tactic is Tactic.POST_THEN_CROSS:
        return OrderSpec("Limit", own, "PostOnly", timeout_s, cross_after=True)
    return OrderSpec("Limit", own, "GTC", timeout_s)


def _on_grid(price: float, tick: Decimal) -> Decimal:
    return (Decimal(repr(price)) / tick).to_integral_value() * tick


@dataclass(slots=True)
class ParentOrder:
    """A slot's need being worked across rounds: side, size when first seen, start time."""

    side: int
    qty: float
    start_s: float
    last_s: float = 0.0
    force_market: bool = False


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Horizon of a need (training drew 15-60 s) and the timeout of resting orders."""

    horizon_s: float = 30.0
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("horizon_s", "timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"execution.{name} must be finite and > 0, got {value!r}")


@dataclass(slots=True)
class ExecutionLayer:
    """Per-intent tactic choice with the state tracked between rounds."""

    policy: IelPolicy
    config: ExecutionConfig = field(default_factory=ExecutionConfig)
    parents: dict[int, ParentOrder] = field(default_factory=dict)
    mids: deque[float] = field(default_factory=lambda: deque(maxlen=VOL_WINDOW))
    _last_sample_s: float = -math.inf

    def observe(self, touch: Touch, now_s: float) -> None:
        """Feeds the one-second mid samples behind the volatility feature."""
        if touch.two_sided() and now_s - self._last_sample_s >= 1.0:
            self.mids.append(touch.mid)
            self._last_sample_s = now_s

    def vol_bps(self) -> float:
        return vol_bps(np.fromiter(self.mids, dtype=np.float64))

    def choose(self, slot: int, side: int, qty: float, touch: Touch, now_s: float) -> Decision:
        """The tactic for `slot`'s intent of `qty` on `side` now."""
        self.observe(touch, now_s)
        parent = self.parents.get(slot)
        # A need is continued only when it is the same side, no bigger, and was worked within
        # the last horizon; anything else is a new need.
        recent = parent is not None and now_s - parent.last_s <= self.config.horizon_s
        if parent is None or parent.side != side or qty > parent.qty or not recent:
            parent = self.parents[slot] = ParentOrder(side, qty, now_s)
        parent.last_s = now_s
        time_left = 1.0 - (now_s - parent.start_s) / self.config.horizon_s
        if parent.force_market or time_left <= 0:
            self.parents.pop(slot, None)
            return Decision(Tactic.MARKET, "horizon" if time_left <= 0 else "cross after timeout")
        if not touch.two_sided():
            return self.policy.fallback("no two-sided book")
        own_qty = touch.bid_qty if side > 0 else touch.ask_qty
        x = state_vector(side, qty / parent.qty, time_left, touch, self.vol_bps(), own_qty, qty)
        log.debug("IEL state slot %d: %s", slot, x)
        return self.policy.decide(x)

    def sent(self, slot: int, spec: OrderSpec | None) -> None:
        """Records what went out: a market order ends the need; a post-then-cross arms the cross."""
        parent = self.parents.get(slot)
        if parent is None:
            return
        if spec is not None and spec.order_type == "Market":
            self.parents.pop(slot, None)
        elif spec is not None and spec.cross_after:
            parent.force_market = True

    def done(self, slot: int) -> None:
        """The slot reached its target: forget its need."""
        self.parents.pop(slot, None)


@dataclass(slots=True)
class RouterTactics:
    """What the order router asks per intent (`OrderRouter.tactics`): the venue order to send.

    Only `target` intents are the policy's; flattening and liquidation orders always cross.
    `touch` and `tick` read the live book and instrument (None while unknown: market)."""

    layer: ExecutionLayer
    touch: Callable[[], Touch | None]
    tick: Callable[[], Decimal | None]
    clock: Callable[[], float] = time.monotonic
    counts: dict[str, int] = field(default_factory=dict)

    def spec_for(self, slot: int, side: int, qty: Decimal, reason: str) -> OrderSpec | None:
        """The order for one intent (None: wait, send nothing this round)."""
        if reason != "target":
            return OrderSpec("Market")
        touch, tick = self.touch(), self.tick()
        if touch is None or tick is None:
            decision = self.layer.policy.fallback("no book or instrument yet")
            spec: OrderSpec | None = OrderSpec("Market")
        else:
            decision = self.layer.choose(slot, side, float(qty), touch, self.clock())
            spec = order_spec(decision.tactic, side, touch, tick, self.layer.config.timeout_s)
        self.layer.sent(slot, spec)
        log.debug(
            "IEL slot %d %s %s: %s (%s)", slot, side, qty, decision.tactic.name, decision.source
        )
        name = TACTICS[decision.tactic]
        self.counts[name] = self.counts.get(name, 0) + 1
        return spec


def book_touch(book: OrderBook | None) -> Touch | None:
    """The touch of the live Rust book (None while it is invalid or one-sided)."""
    if book is None or not book.is_valid:
        return None
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return None
    return Touch(bid.price, bid.qty, ask.price, ask.qty)


@dataclass(slots=True)
class IelOnStart:
    """A `run_nexus` on_start hook: the engine's router sends orders with the IEL's tactics
    (policy from `manifest`, default: the shipped one); `then` runs another hook after."""

    manifest: Path | None = None
    config: ExecutionConfig = field(default_factory=ExecutionConfig)
    then: Callable[[Engine], None] | None = None

    def __call__(self, engine: Engine) -> None:
        layer = ExecutionLayer(IelPolicy.load(self.manifest), self.config)
        engine.router.tactics = RouterTactics(
            layer,
            touch=lambda: book_touch(engine.feed.book if engine.feed is not None else None),
            tick=lambda: engine.instrument.tick_size if engine.instrument is not None else None,
        )
        if self.then is not None:
            self.then(engine)
