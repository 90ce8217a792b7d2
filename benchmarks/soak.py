"""Soak: the engine (a child process) vs the simulator-backed local exchange with seeded faults
(no kills) for a fixed time. Every `--sample-s` it records the engine's RSS, the events it has
processed and the latency percentiles of that window (from its own /metrics histogram).

    RESULT soak_s=<s> rss_start_mb=<a> rss_end_mb=<b> memory_growth_pct=<g> events=<n>
           tick_to_order_p50_ms=<..> tick_to_order_p99_ms=<..> faults=<f>

Memory growth is measured from the first sample after a warm-up (20 % of the run) to the end.
The issue's figure is `--minutes 60`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from nexusforge.chaos.engine_proc import EngineProcess, write_engine_config
from nexusforge.chaos.inject import Injector
from nexusforge.chaos.schedule import build_schedule
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, RateLimits, Secret

KEY, SECRET = "soak-key", "soak-secret"
Buckets = dict[str, list[tuple[float, float]]]


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scrape(url: str) -> tuple[Buckets, float]:
    """Cumulative latency buckets by name, and the market-data messages processed so far."""
    text = httpx.get(url, timeout=10).text
    buckets: Buckets = {}
    events = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "nexus_latency_seconds_bucket":
                le = float("inf") if s.labels["le"] == "+Inf" else float(s.labels["le"])
                buckets.setdefault(s.labels["name"], []).append((le, s.value))
            elif s.name.startswith("nexus_venue_messages") and s.name.endswith("_total"):
                events += s.value
    return buckets, events


def quantile(now: list[tuple[float, float]], before: list[tuple[float, float]], q: float) -> float:
    """The q-quantile (upper bucket bound, ms) of what was added between two scrapes."""
    prev = dict(before)
    window = [(le, n - prev.get(le, 0.0)) for le, n in sorted(now)]
    total = window[-1][1] if window else 0.0
    if total <= 0:
        return float("nan")
    return next(le * 1000 for le, n in window if n >= q * total)


def dashboard_url(log: Path, timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"dashboard at (http://\S+?)/ ", log.read_text(errors="replace"))
        if found:
            return found.group(1) + "/metrics"
        time.sleep(0.5)
    raise SystemExit(f"the engine announced no dashboard; see {log}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--sample-s", type=float, default=15.0)
    ap.add_argument("--faults-per-s", type=float, default=0.5)
    ap.add_argument("--speed", type=float, default=1.0, help="simulator speed (1 = real time)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--latency", default="tick_to_order", help="histogram name to report")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nexusforge-soak-"))
    duration = args.minutes * 60
    ex_cfg = ExchangeConfig(mode="sim", keys=(ApiKey(KEY, Secret(SECRET)),), speed=args.speed,
                            rate_limits=RateLimits(order_write=100))  # fmt: skip
    schedule = build_schedule(args.seed, duration, args.faults_per_s, restarts=0)
    faults: Counter[str] = Counter()
    with LocalExchange(ex_cfg) as ex:
        cfg = write_engine_config(folder, ex.port, ex_cfg.sim_symbol, "0")
        engine = EngineProcess(cfg, folder / "engine.log", KEY, SECRET)
        url = dashboard_url(folder / "engine.log")
        injector, pending = Injector(ex), list(schedule.faults)
        t0 = time.monotonic()
        samples: list[tuple[float, float, float, Buckets]] = []
        next_sample = t0
        while (now := time.monotonic()) < t0 + duration and engine.alive():
            while pending and t0 + pending[0].at_s <= now:
                fault = pending.pop(0)
                injector.apply(fault)
                faults[fault.kind] += 1
            if now >= next_sample:
                buckets, events = scrape(url)
                samples.append((now - t0, rss_mb(engine.proc.pid), events, buckets))
                _print_sample(samples, args.latency)
                next_sample += args.sample_s
            time.sleep(0.05)
        alive = engine.alive()
        injector.settle()
        engine.stop()
    return _report(samples, sum(faults.values()), args.latency, alive, folder)


def _print_sample(samples: list[tuple[float, float, float, Buckets]], name: str) -> None:
    t, rss, events, buckets = samples[-1]
    before = samples[-2][3].get(name, []) if len(samples) > 1 else []
    now = buckets.get(name, [])
    p50, p99 = quantile(now, before, 0.5), quantile(now, before, 0.99)
    print(f"t={t:7.1f}s rss={rss:7.1f} MiB events={events:10.0f} {name} window p50<={p50:.3g} ms "
          f"p99<={p99:.3g} ms", flush=True)  # fmt: skip


def _report(
    samples: list[tuple[float, float, float, Buckets]],
    faults: int,
    name: str,
    alive: bool,
    folder: Path,
) -> int:
    if len(samples) < 3:
        print(f"too few samples; engine log in {folder}")
        return 1
    end_t = samples[-1][0]
    warm = next(s for s in samples if s[0] >= 0.2 * end_t)
    growth = (samples[-1][1] - warm[1]) / warm[1] * 100
    final = samples[-1][3].get(name, [])
    p50, p99 = quantile(final, [], 0.5), quantile(final, [], 0.99)
    print(f"engine log and journal: {folder}; engine alive to the end: {alive}")
    print(f"RESULT soak_s={end_t:.0f} rss_start_mb={warm[1]:.1f} rss_end_mb={samples[-1][1]:.1f} "
          f"memory_growth_pct={growth:.2f} events={samples[-1][2]:.0f} "
          f"{name}_p50_ms={p50:.3g} {name}_p99_ms={p99:.3g} faults={faults}")  # fmt: skip
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
