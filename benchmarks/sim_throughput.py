"""Benchmark: the HF-ABM end to end (an RMSC04-like population over a simulated trading day)
and the matching engine alone on a seeded random order stream.

End to end: the `rmsc04` scenario (2 market makers, 100 informed/value, 12 momentum and 1,000
noise agents, no HFTs, 6.5 simulated hours, seed `--sim-seed`, default 1) through `run_sim`'s
Rust call (`sim_run`: kernel, agents, matching, every event recorded and returned as numpy
columns), best of `--sim-runs`; messages = orders + cancels + trades the exchange processed.
Anchor, not run here: ABIDES (pure Python) runs RMSC04 at 25,000–37,000 messages/s on this
kind of machine (a day of ~530,000–680,000 messages in ~21 s), measured separately.

Data: synthetic, seeded (`--seed`, default 7): `--ops` requests (default 2,000,000) from 100
agents around a random-walk mid — 50 % limit orders near the touch (GTC, with some IOC, FOK and
PostOnly; a fifth of them marketable), 10 % market orders, 28 % cancels and 12 % amends of
recently submitted orders (some already filled or gone, as in real flow). Ours: the Rust engine
(`MatchingEngine.run_ops`, one Rust loop over the request arrays, events produced and dropped),
so no Python per request is measured. Baseline, same run: the same stream's first `--py-ops`
requests through a small pure-Python price-time book written here (dict of deques, bisect on
sorted prices, the same rules), checked to end in the same book with the same trade count.
Last line: `RESULT sim_msgs_per_s=<n> engine_ops_per_s=<m> ratio_vs_python=<r>`.
"""

from __future__ import annotations

import argparse
import bisect
import os
import platform
import sys
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import polars as pl

import nexusforge
from nexusforge._core import sim_run
from nexusforge.forge.sim import EngineConfig, MatchingEngine, OpBatch, SimConfig
from nexusforge.forge.sim.engine import OP_AMEND, OP_CANCEL, OP_LIMIT, OP_MARKET

CONFIG = EngineConfig(tick_size=0.1, lot_size=0.001, maker_fee=0.0002, taker_fee=0.00055)
AGENTS = 100
TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST = 0, 1, 2, 3


def order_stream(n: int, seed: int) -> OpBatch:
    """A seeded mix of limits near the touch, markets, cancels and amends."""
    rng = np.random.default_rng(seed)
    op = rng.choice(
        np.array([OP_LIMIT, OP_MARKET, OP_CANCEL, OP_AMEND], dtype=np.uint8),
        size=n,
        p=[0.50, 0.10, 0.28, 0.12],
    )
    side = rng.choice(np.array([1, -1], dtype=np.int8), size=n)
    mid = 600_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 1], size=n))
    # Passive offsets from the touch, a fifth marketable by 0-2 ticks.
    offset = rng.geometric(0.3, size=n) - 1
    aggressive = rng.random(n) < 0.2
    offset = np.where(aggressive, -rng.integers(0, 3, size=n), offset + 1)
    price = (mid - side.astype(np.int64) * offset).astype(np.int64)
    qty = rng.geometric(0.25, size=n).astype(np.int64)
    tif = rng.choice(
        np.array([TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST], dtype=np.uint8),
        size=n,
        p=[0.8, 0.08, 0.04, 0.08],
    )
    agent = rng.integers(0, AGENTS, size=n).astype(np.uint32)
    target = np.zeros(n, dtype=np.uint64)
    _aim_at_recent_orders(rng, op, agent, target, qty, price)
    ts = np.arange(n, dtype=np.int64) * 1_000
    return OpBatch(op, ts, agent, side, price, qty, tif, target)


def _aim_at_recent_orders(
    rng: np.random.Generator,
    op: np.ndarray,
    agent: np.ndarray,
    target: np.ndarray,
    qty: np.ndarray,
    price: np.ndarray,
) -> None:
    """Cancels and amends name one of the last 300 submitted ids, as its owner."""
    submit = (op == OP_LIMIT) | (op == OP_MARKET)
    ids_so_far = np.cumsum(submit)  # ids are issued 1, 2, ... one per submit
    owner = np.concatenate([[0], agent[submit]])
    act = ~submit & (ids_so_far > 0)
    back = rng.integers(0, 300, size=len(op))
    t = np.maximum(ids_so_far - back, 1)
    target[act] = t[act]
    agent[act] = owner[t[act]]
    amend = op == OP_AMEND
    keep_price = rng.random(len(op)) < 0.6
    price[amend & keep_price] = 0
    qty[amend & ~keep_price & (rng.random(len(op)) < 0.5)] = 0


class PyBook:
    """Reference price-time book in plain Python: the same rules, STP cancel-taker."""

    def __init__(self) -> None:
        # Per side (0 bids, 1 asks): key -> deque of orders, keys sorted with best last.
        self.levels: tuple[dict[int, deque[list[int]]], ...] = ({}, {})
        self.keys: tuple[list[int], list[int]] = ([], [])
        self.orders: dict[int, list[int]] = {}  # id -> [id, agent, side, price, qty, leaves, tif]
        self.next_id = 1
        self.trades = 0

    @staticmethod
    def _key(s: int, price: int) -> int:
        return price if s == 0 else -price

    def _crosses(self, side: int, price: int) -> bool:
        opp = 1 if side > 0 else 0
        keys = self.keys[opp]
        if not keys:
            return False
        best = self._key(opp, keys[-1])
        return price >= best if side > 0 else price <= best

    def _fillable(self, agent: int, side: int, limit: int, want: int) -> int:
        opp = 1 if side > 0 else 0
        total = 0
        for k in reversed(self.keys[opp]):
            px = self._key(opp, k)
            if total >= want or (px > limit if side > 0 else px < limit):
                break
            for o in self.levels[opp][k]:
                if o[1] == agent:
                    return total
                total += o[5]
                if total >= want:
                    break
        return total

    def _match(
        self, oid: int, agent: int, side: int, limit: int | None, leaves: int
    ) -> tuple[int, bool]:
        opp = 1 if side > 0 else 0
        keys, levels = self.keys[opp], self.levels[opp]
        while leaves and keys:
            k = keys[-1]
            px = self._key(opp, k)
            if limit is not None and (px > limit if side > 0 else px < limit):
                break
            q = levels[k]
            while q and leaves:
                m = q[0]
                if m[1] == agent:
                    return leaves, True
                f = min(leaves, m[5])
                leaves -= f
                m[5] -= f
                self.trades += 1
                if m[5] == 0:
                    q.popleft()
                    del self.orders[m[0]]
            if not q:
                del levels[k]
                keys.pop()
        return leaves, False

    def _rest(self, o: list[int]) -> None:
        s = 0 if o[2] > 0 else 1
        k = self._key(s, o[3])
        level = self.levels[s].get(k)
        if level is None:
            level = self.levels[s][k] = deque()
            bisect.insort(self.keys[s], k)
        level.append(o)
        self.orders[o[0]] = o

    def _unlink(self, o: list[int]) -> None:
        s = 0 if o[2] > 0 else 1
        k = self._key(s, o[3])
        level = self.levels[s][k]
        level.remove(o)
        if not level:
            del self.levels[s][k]
            self.keys[s].pop(bisect.bisect_left(self.keys[s], k))
        del self.orders[o[0]]

    def submit(self, agent: int, side: int, price: int | None, qty: int, tif: int) -> None:
        oid = self.next_id
        self.next_id += 1
        if qty < 1 or (price is not None and price < 1):
            return
        if price is not None and tif == TIF_POST and self._crosses(side, price):
            return
        if price is not None and tif == TIF_FOK and self._fillable(agent, side, price, qty) < qty:
            return
        leaves, stp = self._match(oid, agent, side, price, qty)
        if leaves and not stp and price is not None and tif in (TIF_GTC, TIF_POST):
            self._rest([oid, agent, side, price, qty, leaves, tif])

    def cancel(self, agent: int, oid: int) -> None:
        o = self.orders.get(oid)
        if o is not None and o[1] == agent:
            self._unlink(o)

    def amend(self, agent: int, oid: int, qty: int, price: int) -> None:
        o = self.orders.get(oid)
        if o is None or o[1] != agent or (qty <= 0 and price <= 0):
            return
        filled = o[4] - o[5]
        new_qty = qty if qty > 0 else o[4]
        new_price = price if price > 0 else o[3]
        if new_qty <= filled:
            return
        if new_price != o[3] and o[6] == TIF_POST and self._crosses(o[2], new_price):
            return
        if new_price == o[3] and new_qty <= o[4]:
            o[4], o[5] = new_qty, new_qty - filled
            return
        self._unlink(o)
        leaves, stp = self._match(oid, agent, o[2], new_price, new_qty - filled)
        if leaves and not stp:
            self._rest([oid, agent, o[2], new_price, new_qty, leaves, o[6]])

    def run(self, b: OpBatch, n: int) -> None:
        op, agent, side, price = (
            getattr(b, f)[:n].tolist() for f in ("op", "agent", "side", "price")
        )
        qty, tif, target = (getattr(b, f)[:n].tolist() for f in ("qty", "tif", "target"))
        for i in range(n):
            o = op[i]
            if o == OP_LIMIT:
                self.submit(agent[i], side[i], price[i], qty[i], tif[i])
            elif o == OP_MARKET:
                self.submit(agent[i], side[i], None, qty[i], TIF_IOC)
            elif o == OP_CANCEL:
                self.cancel(agent[i], target[i])
            else:
                self.amend(agent[i], target[i], qty[i], price[i])

    def depth(self, s: int, n: int) -> list[tuple[int, int]]:
        keys = self.keys[s][::-1][:n]
        return [(self._key(s, k), sum(o[5] for o in self.levels[s][k])) for k in keys]


def prefix(b: OpBatch, n: int) -> OpBatch:
    return OpBatch(*(getattr(b, f)[:n] for f in OpBatch.__slots__))


def best_of(runs: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Best wall time and best process CPU time of `runs` calls (the CPU time is what one
    core spent, which matters when the machine is shared)."""
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def rust_engine_rate(b: OpBatch, runs: int) -> tuple[float, float, int]:
    """Requests per second (wall, CPU) over the whole stream, fresh engine per run."""
    trades = 0

    def once() -> None:
        nonlocal trades
        trades = MatchingEngine(CONFIG).run_ops(b).trades

    wall, cpu = best_of(runs, once)
    return len(b.op) / wall, len(b.op) / cpu, trades


def check_same_book(b: OpBatch, n: int) -> int:
    """Run the first `n` requests through both books; they must agree. Returns trades."""
    e = MatchingEngine(CONFIG)
    counts = e.run_ops(prefix(b, n))
    py = PyBook()
    py.run(b, n)
    for s, name in ((0, "buy"), (1, "sell")):
        ours = e.depth(name, 20).rows()  # type: ignore[arg-type]
        if ours != py.depth(s, 20):
            sys.exit(f"baseline disagrees on {name} depth: {ours[:3]} vs {py.depth(s, 20)[:3]}")
    if counts.trades != py.trades or e.order_count != len(py.orders):
        sys.exit(f"baseline disagrees: trades {counts.trades} vs {py.trades}")
    return counts.trades


ABIDES_ANCHOR = (25_000, 37_000)


def sim_rate(seed: int, runs: int) -> tuple[float, float, dict[str, int]]:
    """Messages per second (wall, CPU) of an RMSC04-like trading day, best of `runs`."""
    cfg = SimConfig.scenario("rmsc04").with_overrides({"seed": seed})
    stats: dict[str, int] = {}

    def once() -> None:
        nonlocal stats
        stats = sim_run(cfg.json)["stats"]

    wall, cpu = best_of(runs, once)
    return stats["messages"] / wall, stats["messages"] / cpu, stats


def _load() -> str:
    """The machine's load averages: wall-clock rates on a shared machine depend on them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=2_000_000)
    ap.add_argument("--py-ops", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sim-seed", type=int, default=1)
    ap.add_argument("--sim-runs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.platform()} {platform.machine()} cpus={os.cpu_count()}")
    print(
        f"python {platform.python_version()} nexusforge {nexusforge.__version__} "
        f"polars {pl.__version__}"
    )
    print(f"seed={args.seed} ops={args.ops} py_ops={args.py_ops} runs={args.runs}")
    print(f"load average at start (1, 5, 15 min): {_load()}")
    sim, sim_cpu, st = sim_rate(args.sim_seed, args.sim_runs)
    print(
        f"simulator, rmsc04 day (seed {args.sim_seed}): {st['messages']:,} messages "
        f"({st['orders']:,} orders, {st['cancels']:,} cancels, {st['trades']:,} trades), "
        f"{st['wakeups']:,} wake-ups, {st['md_deliveries']:,} market-data deliveries"
    )
    print(f"  {sim:,.0f} messages/s wall, {sim_cpu:,.0f} per CPU-second (one core)")
    lo, hi = ABIDES_ANCHOR
    print(f"  vs the ABIDES anchor {lo:,}-{hi:,}/s (not run here): {sim / hi:.0f}x-{sim / lo:.0f}x")
    b = order_stream(max(args.ops, args.py_ops), args.seed)
    kinds = np.bincount(b.op, minlength=4)
    print(f"mix: limit={kinds[0]} market={kinds[1]} cancel={kinds[2]} amend={kinds[3]}")
    trades = check_same_book(b, args.py_ops)
    print(f"baseline agrees on the first {args.py_ops} requests ({trades} trades, same book)")
    rate, cpu_rate, all_trades = rust_engine_rate(prefix(b, args.ops), args.runs)
    print(f"rust engine: {rate:,.0f} requests/s wall, {cpu_rate:,.0f} per CPU-second")
    print(f"  ({all_trades} trades over {args.ops} requests)")
    py_wall, py_cpu = best_of(1, lambda: PyBook().run(b, args.py_ops))
    py_rate = args.py_ops / py_wall
    py_cpu_rate = args.py_ops / py_cpu
    print(f"python price-time book: {py_rate:,.0f} requests/s wall, {py_cpu_rate:,.0f} per CPU-s")
    print(f"load average at end (1, 5, 15 min): {_load()}")
    print(
        f"RESULT sim_msgs_per_s={sim:.0f} engine_ops_per_s={rate:.0f} "
        f"ratio_vs_python={rate / py_rate:.1f}"
    )


if __name__ == "__main__":
    main()
