"""The Pit Crew: intake → shadow trading → comparison → promotion, driven by the engine's rounds.

The engine calls three things, all on its event loop:
    crew.on_row(row)                        every feature row between rounds (shadows stay warm)
    crew.on_trades(batch)                   public trades (volume for the impact model)
    crew.on_round(row, book, mid, models)   once per decision round, after the champions'
                                            targets; may hot-swap one model in `models`
Every `sample_s` the equity of each active champion (its venue ledger) and of each shadow (its
virtual ledger) is sampled at the same mid; those samples are the common window of the
comparison (`compare.py`). A shadow is judged once it has run `min_time_s` and made
`min_trades` virtual fills; it is promoted over the champion it beats (at most one swap per
round), or retired after `max_time_s` without beating any. On start, challengers already in
`accepted/` without a final decision resume shadow trading (their evaluation starts again): the
engine resumes them before it seeds its bars (`resume`), so they read the seed as the champions
do; otherwise the first round resumes them after its shadows traded, so a resumed bar-clocked
shadow reads the feed's recent bars (`MarketFeed.warm_up`) before any row of its own.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from nexusforge.errors import ArtifactError, NexusForgeError
from nexusforge.market.book import OrderBook
from nexusforge.market.costs import CostModel
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.config import EngineConfig
from nexusforge.nexus.dashboard.snapshot import ChallengerView
from nexusforge.nexus.journal import Journal, now_ms
from nexusforge.nexus.live_head import live_head
from nexusforge.nexus.model import ModelState, TradingModel
from nexusforge.nexus.pit_crew.compare import CompareConfig, Verdict, best_target, compare
from nexusforge.nexus.pit_crew.intake import ACCEPTED, Admitted, Intake
from nexusforge.nexus.pit_crew.promotion import Promotion, hot_swap, statement
from nexusforge.nexus.pit_crew.record import DecisionLog
from nexusforge.nexus.pit_crew.shadow import MarketStats, Shadow, market_view
from nexusforge.nexus.venues.bybit import TradeBatch
from nexusforge.strategy import artifact

log = logging.getLogger(__name__)
EVAL_LOG_S = 60.0


@dataclass(frozen=True, slots=True)
class PitCrewConfig:
    """Pit Crew settings (the evaluation window and the rule's thresholds)."""

    folder: Path
    poll_s: float = 2.0
    sample_s: float = 5.0
    min_time_s: float = 900.0
    min_trades: int = 10
    max_time_s: float = 4 * 3600.0
    max_shadows: int = 4
    require_gate: bool = True
    rule: CompareConfig = field(default_factory=CompareConfig)
    costs: CostModel = field(default_factory=CostModel)
    bar_turnover: str | None = None  # the engine's `bar_turnover` (None: not checked)


@dataclass
class _Series:
    """Equity samples of one participant: sample index → (equity, exposure)."""

    points: deque[tuple[int, Decimal, Decimal]]

    def returns_at(self, idx: Sequence[int]) -> dict[int, float]:
        """Return over each interval (i−1, i] for i in idx where both ends were sampled."""
        by = {i: (e, x) for i, e, x in self.points}
        out = {}
        for i in idx:
            a, b = by.get(i - 1), by.get(i)
            if a is not None and b is not None and a[1] > 0:
                out[i] = float((b[0] - a[0]) / a[1])
        return out


@dataclass
class PitCrew:
    """Shadow challengers beside the engine's champions."""

    config: PitCrewConfig
    instrument: Instrument
    capital: Decimal
    max_position: Decimal
    journal: Journal | None = None
    decisions: DecisionLog = field(default_factory=lambda: DecisionLog(None))
    clock_s: Callable[[], float] = time.monotonic
    shadows: dict[str, Shadow] = field(default_factory=dict)
    promotions: list[Promotion] = field(default_factory=list)
    retired: list[Shadow] = field(default_factory=list)
    market: MarketStats = field(default_factory=MarketStats)
    _intake: Intake = field(init=False)
    _series: dict[str, _Series] = field(default_factory=dict, init=False)
    _sample_idx: int = field(default=0, init=False)
    _last_sample_s: float = field(default=-math.inf, init=False)
    _last_poll_s: float = field(default=-math.inf, init=False)
    _last_eval_log: dict[str, float] = field(default_factory=dict, init=False)
    _verdicts: dict[str, list[Verdict]] = field(default_factory=dict, init=False)
    _resumed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._intake = Intake(self.config.folder, self.config.require_gate,
                              symbol=self.instrument.symbol,
                              turnover=self.config.bar_turnover)  # fmt: skip

    @classmethod
    def for_engine(
        cls, config: EngineConfig, instrument: Instrument, journal: Journal
    ) -> PitCrew | None:
        """The engine's Pit Crew on `config.challenger_dir` (None when no folder is set)."""
        if not config.challenger_dir:
            return None
        folder = Path(config.challenger_dir)
        folder.mkdir(parents=True, exist_ok=True)
        crew = PitCrewConfig(folder, bar_turnover=config.bar_turnover)
        return cls(crew, instrument, config.capital, config.max_position, journal,
                   DecisionLog(journal.path))  # fmt: skip

    @property
    def intake(self) -> Intake:
        """The folder watcher (its rejections are visible here)."""
        return self._intake

    # ---- engine hooks ----

    def on_row(self, row: Mapping[str, float]) -> None:
        """A feature row between rounds."""
        for s in list(self.shadows.values()):
            try:
                s.signal(row)
            except NexusForgeError as exc:
                self._fault(s, exc)

    def on_trades(self, batch: TradeBatch) -> None:
        """Public trades: their volume feeds the impact model."""
        for t in batch.trades:
            self.market.add_volume(float(t.v))

    def on_round(
        self,
        row: Mapping[str, float],
        book: OrderBook,
        mid: Decimal,
        models: list[TradingModel],
        now_s: float | None = None,
    ) -> Promotion | None:
        """Shadows trade this round; intake, sampling and judging when due. A swap, or None."""
        now = now_s if now_s is not None else self._now()
        stamp = now_ms()
        self.market.on_round(float(mid))
        view = market_view(book, mid, self.market)
        for s in list(self.shadows.values()):
            try:
                s.on_round(row, view, self.instrument, stamp)
            except NexusForgeError as exc:
                self._fault(s, exc)
        if self._intake.columns is None and row:
            self._intake.columns = frozenset(row)
            # after the round: a resumed shadow's first row must not be this one (it carries
            # the newest bar, which would end its warm-up before it read the bars before)
            self._resume(now, stamp, len(models))
        if now - self._last_poll_s >= self.config.poll_s:
            self._last_poll_s = now
            self._admit(now, stamp, len(models))
        if now - self._last_sample_s < self.config.sample_s:
            return None
        self._last_sample_s = now
        self._sample(mid, models, stamp)
        return self._judge(now, mid, models)

    # ---- intake ----

    def _admit(self, now: float, stamp: int, n_models: int) -> None:
        if len(self.shadows) >= self.config.max_shadows:
            return  # files wait in the folder until a shadow slot frees
        for a in self._intake.poll():
            self.decisions.record("admitted", _key(a.sha256), None, {"sha256": a.sha256,
                                  "file": a.path.name})  # fmt: skip
            self._start(a, now, stamp, n_models)
        for r in self._intake.rejections:
            self.decisions.record("rejected", r.path.name, None, {"reason": r.reason,
                                  "file": str(r.path)})  # fmt: skip
        self._intake.rejections.clear()

    def _start(self, a: Admitted, now: float, stamp: int, n_models: int) -> None:
        weight = Decimal(1) / max(n_models, 1)
        try:  # intake checked it; an accepted file read again on restart may not hold up
            head = live_head(a.challenger)
        except ValueError as exc:
            self.decisions.record("retired", _key(a.sha256), None, {"sha256": a.sha256,
                                  "reason": f"bad head: {exc}"})  # fmt: skip
            return
        s = Shadow.start(
            a.sha256, a.challenger.expr, self.instrument.symbol, self.capital, weight,
            now_s=now, now_ms=stamp, costs=self.config.costs, max_position=self.max_position,
            head=head,
        )  # fmt: skip
        self.decisions.record("shadow_started", s.key, None, {"sha256": a.sha256,
                              "weight": str(weight), "capital": str(self.capital)})  # fmt: skip
        self.shadows[s.key] = s
        log.info("shadow trading %s", s.key)

    def resume(self, n_models: int) -> list[TradingModel]:
        """On start, before any row: shadows for accepted files without a final decision (once;
        the first round does it otherwise). Their models, e.g. for the feed's depth."""
        self._resume(self._now(), now_ms(), n_models)
        return [s.model for s in self.shadows.values()]

    def _resume(self, now: float, stamp: int, n_models: int) -> None:
        """Restarts shadows for accepted files that have no final decision yet."""
        if self._resumed:
            return
        self._resumed = True
        final = self.decisions.final_hashes()
        folder = self.config.folder / ACCEPTED
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            if len(self.shadows) >= self.config.max_shadows:
                break
            try:
                raw = path.read_bytes()
                ch, digest = artifact.loads(raw), artifact.sha256_of(raw)
            except (OSError, ArtifactError) as exc:
                log.warning("accepted challenger %s no longer readable: %s", path.name, exc)
                continue
            if digest in final or _key(digest) in self.shadows:
                self._intake.seen_hashes.add(digest)
                continue
            self._intake.seen_hashes.add(digest)
            self._start(Admitted(path, digest, ch), now, stamp, n_models)

    # ---- sampling and judging ----

    def _sample(self, mid: Decimal, models: Sequence[TradingModel], stamp: int) -> None:
        self._sample_idx += 1
        keep = int(self.config.max_time_s / self.config.sample_s) + 4
        for m in models:
            if m.state is ModelState.ACTIVE and m.weight > 0:
                self._point(f"slot:{m.slot}", m.ledger.equity(mid), m.ledger.capital * m.weight,
                            keep)  # fmt: skip
        for s in self.shadows.values():
            eq = s.mark(mid, stamp)
            self._point(s.key, eq, s.model.ledger.capital * s.model.weight, keep)

    def _point(self, key: str, equity: Decimal, exposure: Decimal, keep: int) -> None:
        series = self._series.setdefault(key, _Series(deque(maxlen=keep)))
        series.points.append((self._sample_idx, equity, exposure))

    def _verdicts_of(self, s: Shadow, models: Sequence[TradingModel]) -> list[Verdict]:
        mine = self._series.get(s.key)
        if mine is None:
            return []
        idx = [i for i, _, _ in mine.points]
        rc = mine.returns_at(idx)
        out = []
        for m in models:
            theirs = self._series.get(f"slot:{m.slot}")
            if m.state is not ModelState.ACTIVE or theirs is None:
                continue
            rk = theirs.returns_at(idx)
            common = sorted(set(rc) & set(rk))
            a = np.array([rc[i] for i in common], dtype=np.float64)
            b = np.array([rk[i] for i in common], dtype=np.float64)
            out.append(compare(a, b, m.name, m.slot, self.config.rule))
        return out

    def _judge(self, now: float, mid: Decimal, models: list[TradingModel]) -> Promotion | None:
        cfg = self.config
        for key, s in list(self.shadows.items()):
            verdicts = self._verdicts_of(s, models)
            self._verdicts[key] = verdicts
            ready = now - s.since_s >= cfg.min_time_s and s.stats.fills >= cfg.min_trades
            if not ready:
                continue
            self._log_evaluation(s, verdicts, now)
            target = best_target(verdicts)
            if target is not None:
                return self._promote(s, target, mid, models)
            if now - s.since_s >= cfg.max_time_s:
                self._retire(s, verdicts, mid)
        return None

    def _log_evaluation(self, s: Shadow, verdicts: list[Verdict], now: float) -> None:
        if now - self._last_eval_log.get(s.key, -math.inf) < EVAL_LOG_S:
            return
        self._last_eval_log[s.key] = now
        self.decisions.record("evaluated", s.key, None, {"sha256": s.sha256,
                              "fills": s.stats.fills,
                              "verdicts": [v.to_json() for v in verdicts]})  # fmt: skip

    def _promote(
        self, s: Shadow, target: Verdict, mid: Decimal, models: list[TradingModel]
    ) -> Promotion:
        p = hot_swap(models, s, target, mid, self.journal, self.decisions)
        del self.shadows[s.key]
        self._series.pop(s.key, None)
        self.promotions.append(p)
        log.warning("PROMOTED %s into slot %d over %s: %s", s.key, p.slot, target.champion,
                    target.reason)  # fmt: skip
        return p

    def _retire(self, s: Shadow, verdicts: list[Verdict], mid: Decimal) -> None:
        closed = statement(s.model.ledger, mid)
        self.decisions.record("retired", s.key, None, {"sha256": s.sha256,
                              "reason": "beat no champion within max_time_s",
                              "closed": closed.to_json(),
                              "verdicts": [v.to_json() for v in verdicts]})  # fmt: skip
        del self.shadows[s.key]
        self._series.pop(s.key, None)
        self.retired.append(s)
        log.info("retired %s: beat no champion", s.key)

    def _fault(self, s: Shadow, exc: Exception) -> None:
        """A shadow that fails (bad data it cannot price, a strategy error) is retired at once:
        logged with the reason, never allowed to stop the engine's round."""
        self.decisions.record("retired", s.key, None, {"sha256": s.sha256,
                              "reason": f"fault: {exc}"})  # fmt: skip
        self.shadows.pop(s.key, None)
        self._series.pop(s.key, None)
        self.retired.append(s)
        log.error("shadow %s retired after a fault: %s", s.key, exc)

    # ---- dashboard ----

    def views(self) -> tuple[ChallengerView, ...]:
        """Each shadow against the champion it is closest to replacing."""
        out = []
        for key, s in self.shadows.items():
            vs = self._verdicts.get(key, [])
            best = min(vs, key=lambda v: (not v.beats, v.champion_sharpe), default=None)
            series = tuple(s.equity_series)
            if best is None:
                out.append(ChallengerView(key, "", s.since_ms, math.nan, math.nan, series))
            else:
                out.append(ChallengerView(key, best.champion, s.since_ms, best.challenger_sharpe,
                                          best.champion_sharpe, series))  # fmt: skip
        return tuple(out)

    def _now(self) -> float:
        return float(self.clock_s())


def _key(sha256: str) -> str:
    return f"challenger-{sha256[:16]}"
