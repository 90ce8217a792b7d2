"""One chaos run: local exchange in this process, the engine as a child, the seeded schedule
played against both, then a quiet end (market paused, engine stopped) and the checks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nexusforge.chaos.check import Verdict, check, venue_view
from nexusforge.chaos.engine_proc import (
    CLEAN_EXITS,
    VENUE_UNREAD,
    EngineProcess,
    write_engine_config,
)
from nexusforge.chaos.inject import Injector
from nexusforge.chaos.schedule import Fault, Schedule, build_schedule
from nexusforge.nexus.venues.bybit import BybitConfig, Credentials
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, RateLimits, Secret

KEY = "chaos-key"
FINAL_RESTARTS = 3  # starts on the quiet venue to settle an engine stopped in an outage
RECONCILE_S = 5.0  # time given to such a start (its start-up reconciliation) before the stop
LEGACY = "bybit/market/bybit_legacy_v2_linear_ws_20210417.txt"  # LTCUSDT book + trades, 2021


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """One run: seed, length, fault rate, kills, where to write, which data to replay."""

    seed: int
    duration_s: float
    folder: Path
    shared_data: Path
    faults_per_s: float = 2.0
    restarts: int = 2
    kill_fraction: str = "0.998"  # a model dies after losing 0.2 % (so deaths happen in runs)
    settle_s: float = 3.0
    symbol: str = "LTCUSDT"
    log_level: str = "WARNING"  # the engine's (DEBUG for the secret scan)
    secret: str = field(default="chaos-secret", repr=False)


@dataclass(frozen=True, slots=True)
class ChaosResult:
    """What was injected and what the checks found."""

    seed: int
    faults: dict[str, int]
    restarts: int
    crashes: int
    verdict: Verdict
    wall_s: float

    @property
    def fault_count(self) -> int:
        return sum(self.faults.values())

    @property
    def ok(self) -> bool:
        return self.verdict.ok and self.crashes == 0


def exchange_config(cfg: ChaosConfig) -> ExchangeConfig:
    """The recorded LTCUSDT day replayed as fast as possible, looping, one API key."""
    return ExchangeConfig(
        keys=(ApiKey(KEY, Secret(cfg.secret)),),
        replay_files=(cfg.shared_data / LEGACY,),
        speed=0.0,
        rate_limits=RateLimits(order_write=100),
    )


def run_chaos(cfg: ChaosConfig) -> ChaosResult:
    """Plays the seed's schedule and checks the books (blocks for about `duration_s`)."""
    cfg.folder.mkdir(parents=True, exist_ok=True)
    schedule = build_schedule(cfg.seed, cfg.duration_s, cfg.faults_per_s, cfg.restarts)
    start = time.monotonic()
    with LocalExchange(exchange_config(cfg)) as ex:
        engine_cfg = write_engine_config(cfg.folder, ex.port, cfg.symbol, cfg.kill_fraction)
        play = _Play(cfg, engine_cfg, Injector(ex))
        play.run(schedule)
        play.injector.settle()
        ex.pause_market()  # nothing fills from here on: the venue's books are final
        time.sleep(cfg.settle_s)
        play.finish()
        creds = Credentials(KEY, cfg.secret)
        venue = asyncio.run(venue_view(BybitConfig.custom(port=ex.port), creds, cfg.symbol))
    verdict = check(cfg.folder / "journal.sqlite", venue, cfg.symbol)
    return ChaosResult(cfg.seed, dict(play.faults), play.restarts, play.crashes, verdict,
                       time.monotonic() - start)  # fmt: skip


class _Play:
    """The engine incarnations and the injections of one run."""

    def __init__(self, cfg: ChaosConfig, engine_cfg: Path, injector: Injector) -> None:
        self.cfg, self.engine_cfg, self.injector = cfg, engine_cfg, injector
        self.faults: Counter[str] = Counter()
        self.restarts = self.crashes = 0
        self.engine = self._spawn()

    def _spawn(self) -> EngineProcess:
        log = self.cfg.folder / "engine.log"
        return EngineProcess(self.engine_cfg, log, KEY, self.cfg.secret, self.cfg.log_level)

    def run(self, schedule: Schedule) -> None:
        timeline: list[tuple[float, Fault | None]] = [(f.at_s, f) for f in schedule.faults]
        timeline += [(t, None) for t in schedule.kills_s]
        t0 = time.monotonic()
        for at_s, fault in sorted(timeline, key=lambda x: x[0]):
            self._wait_until(t0 + at_s)
            if fault is None:
                self.engine.kill9()
                self.restarts += 1
                self.engine = self._spawn()
            else:
                self.injector.apply(fault)
                self.faults[fault.kind] += 1
        self._wait_until(t0 + schedule.duration_s)

    def _wait_until(self, deadline: float) -> None:
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))
            if not self.engine.alive():  # a crash under faults is a failure; carry on
                self.crashes += 1
                self.engine.stop()
                self.engine = self._spawn()

    def finish(self) -> None:
        """Stops the engine. One stopped inside a venue back-off exits VENUE_UNREAD ("the next
        start reconciles"): that claim is checked by starting it again on the quiet venue."""
        code = self.engine.stop()
        for _ in range(FINAL_RESTARTS):
            if code != VENUE_UNREAD:
                break
            self.engine = self._spawn()
            time.sleep(self.cfg.settle_s + RECONCILE_S)
            code = self.engine.stop()
        if code not in CLEAN_EXITS:
            self.crashes += 1
