"""The live execution layer: the shipped ONNX policy loads and decides; a missing or corrupt
file, a wrong hash or a bad state gives the documented default tactic with a warning; tactics
become the right venue orders and follow-ups."""

from __future__ import annotations

import json
import logging
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from nexusforge.nexus.execution import (
    DEFAULT_TACTIC,
    FEATURES,
    TACTICS,
    ExecutionConfig,
    ExecutionLayer,
    IelPolicy,
    Tactic,
    Touch,
    default_manifest,
    order_spec,
    state_vector,
)

GOOD_STATE = [1.0, 0.8, 1.5, 0.1, 0.2, 0.4]
TOUCH = Touch(bid=100.0, bid_qty=2.0, ask=100.5, ask_qty=3.0)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A copy of the shipped policy files, free to damage."""
    src = default_manifest().parent
    for name in ("iel.json", "iel.onnx"):
        shutil.copy(src / name, tmp_path / name)
    return tmp_path


def _assert_default(policy: IelPolicy, caplog: pytest.LogCaptureFixture) -> None:
    decision = policy.decide(GOOD_STATE)
    assert decision.tactic is DEFAULT_TACTIC is Tactic.MARKET
    assert decision.source.startswith("default")
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_shipped_policy_loads_and_decides() -> None:
    policy = IelPolicy.load()
    assert policy.loaded, policy.reason
    decision = policy.decide(GOOD_STATE)
    assert decision.source == "policy" and isinstance(decision.tactic, Tactic)
    assert policy.meta["features"] == list(FEATURES)
    assert policy.meta["actions"] == list(TACTICS)


def test_missing_file_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        policy = IelPolicy.load(tmp_path / "iel.json")
    assert not policy.loaded
    _assert_default(policy, caplog)


def test_missing_onnx_falls_back(policy_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (policy_dir / "iel.onnx").unlink()
    with caplog.at_level(logging.WARNING):
        _assert_default(IelPolicy.load(policy_dir / "iel.json"), caplog)


def test_wrong_hash_falls_back(policy_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    meta = json.loads((policy_dir / "iel.json").read_text())
    meta["sha256"] = "0" * 64
    (policy_dir / "iel.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        policy = IelPolicy.load(policy_dir / "iel.json")
    assert "sha256" in policy.reason
    _assert_default(policy, caplog)


def test_truncated_onnx_falls_back(policy_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    onnx = policy_dir / "iel.onnx"
    onnx.write_bytes(onnx.read_bytes()[: onnx.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        policy = IelPolicy.load(policy_dir / "iel.json")
    assert "sha256" in policy.reason  # the manifest no longer vouches for it
    _assert_default(policy, caplog)


def test_truncated_onnx_with_matching_hash_falls_back(
    policy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a manifest that vouches for a truncated file cannot make onnxruntime load it."""
    import hashlib

    onnx = policy_dir / "iel.onnx"
    onnx.write_bytes(onnx.read_bytes()[:300])
    meta = json.loads((policy_dir / "iel.json").read_text())
    meta["sha256"] = hashlib.sha256(onnx.read_bytes()).hexdigest()
    (policy_dir / "iel.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        policy = IelPolicy.load(policy_dir / "iel.json")
    assert not policy.loaded
    _assert_default(policy, caplog)


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: "{not json",
        lambda m: json.dumps([1, 2]),
        lambda m: json.dumps({**m, "features": list(reversed(m["features"]))}),
        lambda m: json.dumps({**m, "actions": m["actions"][:-1]}),
        lambda m: json.dumps({**m, "onnx_file": "../iel.onnx"}),
        lambda m: json.dumps({**m, "format_version": 99}),
    ],
)
def test_bad_manifest_falls_back(
    policy_dir: Path, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    path = policy_dir / "iel.json"
    path.write_text(damage(json.loads(path.read_text())))  # type: ignore[operator]
    with caplog.at_level(logging.WARNING):
        _assert_default(IelPolicy.load(path), caplog)


@pytest.mark.parametrize(
    "state",
    [
        [np.nan, 0.5, 1.0, 0.0, 0.1, 0.2],
        [1.0, 0.5, np.inf, 0.0, 0.1, 0.2],
        [1.0, 0.5, 1.0],
        np.zeros((2, 6)),
    ],
)
def test_bad_state_falls_back_and_the_policy_keeps_working(
    state: object, caplog: pytest.LogCaptureFixture
) -> None:
    policy = IelPolicy.load()
    with caplog.at_level(logging.WARNING):
        bad = policy.decide(state)  # type: ignore[arg-type]
    assert bad.tactic is DEFAULT_TACTIC and bad.source.startswith("default")
    assert any("default tactic" in r.getMessage() for r in caplog.records)
    assert policy.fallbacks == 1
    assert policy.decide(GOOD_STATE).source == "policy"


def test_order_specs_per_tactic() -> None:
    tick = Decimal("0.5")
    assert order_spec(Tactic.MARKET, 1, TOUCH, tick, 5.0).order_type == "Market"  # type: ignore[union-attr]
    assert order_spec(Tactic.WAIT, 1, TOUCH, tick, 5.0) is None
    passive = order_spec(Tactic.PASSIVE, 1, TOUCH, tick, 5.0)
    assert passive is not None
    assert (passive.order_type, passive.price, passive.time_in_force) == (
        "Limit",
        Decimal("100.0"),
        "GTC",
    )
    assert passive.timeout_s == 5.0 and not passive.cross_after
    sell = order_spec(Tactic.PASSIVE, -1, TOUCH, tick, 5.0)
    assert sell is not None and sell.price == Decimal("100.5")
    post = order_spec(Tactic.POST_THEN_CROSS, -1, TOUCH, tick, 3.0)
    assert post is not None
    assert (post.price, post.time_in_force, post.cross_after) == (
        Decimal("100.5"),
        "PostOnly",
        True,
    )
    # One tick spread: inside has no room and joins the best; wider: one tick better.
    one = order_spec(Tactic.INSIDE, 1, TOUCH, tick, 5.0)
    assert one is not None and one.price == Decimal("100.0")
    wide = Touch(100.0, 1.0, 102.0, 1.0)
    assert order_spec(Tactic.INSIDE, 1, wide, tick, 5.0).price == Decimal("100.5")  # type: ignore[union-attr]
    assert order_spec(Tactic.INSIDE, -1, wide, tick, 5.0).price == Decimal("101.5")  # type: ignore[union-attr]
    # No two-sided book: nothing to price a limit from, so cross.
    empty = Touch(float("nan"), 0.0, 100.0, 1.0)
    assert order_spec(Tactic.PASSIVE, 1, empty, tick, 5.0).order_type == "Market"  # type: ignore[union-attr]


class _Fixed(IelPolicy):
    """A policy that always answers one tactic (through the real fallback machinery)."""

    def __init__(self, tactic: Tactic) -> None:
        super().__init__(None, "fixed", {})
        self.tactic = tactic
        self.states: list[np.ndarray] = []

    def decide(self, state):  # type: ignore[no-untyped-def]
        self.states.append(np.asarray(state))
        from nexusforge.nexus.execution import Decision

        return Decision(self.tactic, "policy")


def test_layer_tracks_the_need_and_forces_market_at_the_horizon() -> None:
    fixed = _Fixed(Tactic.PASSIVE)
    layer = ExecutionLayer(fixed, ExecutionConfig(horizon_s=10.0, timeout_s=5.0))
    assert layer.choose(1, 1, 4.0, TOUCH, now_s=0.0).tactic is Tactic.PASSIVE
    assert layer.choose(1, 1, 2.0, TOUCH, now_s=5.0).tactic is Tactic.PASSIVE
    second = fixed.states[-1]
    assert second[0] == pytest.approx(0.5) and second[1] == pytest.approx(0.5)
    assert layer.choose(1, 1, 2.0, TOUCH, now_s=10.0).tactic is Tactic.MARKET
    # A new need (other side) starts afresh.
    assert layer.choose(1, -1, 1.0, TOUCH, now_s=11.0).tactic is Tactic.PASSIVE
    assert fixed.states[-1][0] == 1.0 and fixed.states[-1][1] == 1.0


def test_post_then_cross_makes_the_next_decision_market() -> None:
    layer = ExecutionLayer(_Fixed(Tactic.POST_THEN_CROSS))
    d = layer.choose(2, 1, 1.0, TOUCH, now_s=0.0)
    layer.sent(2, order_spec(d.tactic, 1, TOUCH, Decimal("0.5"), 5.0))
    follow = layer.choose(2, 1, 0.6, TOUCH, now_s=5.0)
    assert follow.tactic is Tactic.MARKET and follow.source == "cross after timeout"


def test_state_vector_features() -> None:
    x = state_vector(-1, 0.5, 0.25, TOUCH, 1.2, 6.0, 2.0)
    assert x.dtype == np.float32 and x.shape == (len(FEATURES),)
    np.testing.assert_allclose(
        x, [0.5, 0.25, 0.5 / 100.25 * 1e4, -(2.0 - 3.0) / 5.0, 1.2, np.log1p(3.0)], rtol=1e-6
    )


# ---- the router hook, against the real local exchange (XRPUSDT replay, paused) ----

KEY, SECRET = "iel-test-key", "iel-test-secret"
XRP = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"


def test_router_sends_the_chosen_tactic_and_cancels_it_after_the_timeout(
    shared_data: Path, tmp_path: Path
) -> None:
    import asyncio

    from nexusforge.nexus.execution import RouterTactics
    from nexusforge.nexus.intents import OrderIntent
    from nexusforge.nexus.journal import Journal
    from nexusforge.nexus.order_router import OrderRouter
    from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials
    from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, Secret

    cfg = ExchangeConfig(
        keys=(ApiKey(KEY, Secret(SECRET)),),
        replay_files=(shared_data / XRP,),
        start_paused=True,
    )

    async def scenario(port: int) -> tuple[list[str], str, str]:
        journal = Journal(tmp_path / "journal.sqlite")
        links = journal.allocator()
        async with BybitRestClient(BybitConfig.custom(port=port), Credentials(KEY, SECRET)) as rest:
            book = await rest.orderbook("XRPUSDT", 1)
            inst = (await rest.instruments("XRPUSDT"))["XRPUSDT"]
            (bid, bid_qty), (ask, ask_qty) = book.b[0], book.a[0]
            touch = Touch(float(bid), float(bid_qty), float(ask), float(ask_qty))
            router = OrderRouter(rest, journal, "XRPUSDT")
            layer = ExecutionLayer(_Fixed(Tactic.POST_THEN_CROSS), ExecutionConfig(timeout_s=0.3))
            router.tactics = RouterTactics(layer, lambda: touch, lambda: inst.tick_size)
            buy = OrderIntent(links.next(1), 1, "XRPUSDT", 1, inst.min_qty * 10, False)
            flat = OrderIntent(links.next(2), 2, "XRPUSDT", -1, inst.min_qty * 10, False, "flatten")
            router.submit([buy, flat])
            await router.drain()
            resting = await rest.find_order("XRPUSDT", buy.order_link_id)
            assert resting is not None
            seen = [resting.orderType, str(resting.price), resting.timeInForce, resting.orderStatus]
            await asyncio.sleep(0.6)  # past the timeout: the router cancels it
            await router.drain()
            after = await rest.find_order("XRPUSDT", buy.order_link_id)
            flat_order = await rest.find_order("XRPUSDT", flat.order_link_id)
            assert after is not None and flat_order is not None, (router.stats, flat)
            assert Decimal(str(seen[1])) == Decimal(str(bid))
            # The slot's next decision crosses (post-only, then cross).
            nxt = router.tactics.spec_for(1, 1, inst.min_qty * 5, "target")
            assert nxt is not None and nxt.order_type == "Market"
            return seen, after.orderStatus, flat_order.orderType

    with LocalExchange(cfg) as ex:
        ex.step_market(1)
        seen, status_after, flat_type = asyncio.run(scenario(ex.port))
    assert seen[0] == "Limit" and seen[2] == "PostOnly" and seen[3] == "New"
    assert status_after == "Cancelled"
    assert flat_type == "Market"  # flattening never goes through the policy


@pytest.mark.slow
def test_nexus_run_sends_orders_with_the_policys_tactics(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `make run` path: the in-process local exchange, the six champions, the shipped
    policy; limit orders go out, and the ledgers still agree with the venue at the end."""
    import asyncio
    import sqlite3

    from nexusforge.nexus.config import load_config
    from nexusforge.nexus.execution import IelOnStart
    from nexusforge.nexus.run import run_nexus

    monkeypatch.setenv("NEXUSFORGE_SHARED", str(shared_data.parent))
    cfg_path = tmp_path / "engine.toml"
    cfg_path.write_text(
        '[engine]\njournal = "j.sqlite"\nkill_file = ""\n[venue]\nkind = "local"\nport = 0\n'
    )
    hook = IelOnStart()
    summary = asyncio.run(run_nexus(load_config(cfg_path), 10.0, hook))
    assert summary.reconciled and summary.alert is None
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        kinds = dict(db.execute("SELECT order_type, count(*) FROM order_intents GROUP BY 1"))
    assert kinds.get("Limit", 0) >= 1, kinds
    assert set(kinds) <= {"Limit", "Market"}
