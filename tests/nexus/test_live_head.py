"""The challenger's MAML head in Nexus: a head meta-trained by Forge and written into a
challenger file by Forge's writer is loaded without torch, stepped on a bar clock, adapted live
and gives exactly Forge's walk-forward positions; the model and the Pit Crew use it; bad heads
and missing regime features are refused at intake."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.live_head import LiveHead, bar_seconds, live_head
from nexusforge.nexus.model import ModelEvent, TradingModel
from nexusforge.nexus.pit_crew.intake import Intake
from nexusforge.strategy import Call, Col, artifact, evaluate
from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.head import Window

torch = pytest.importorskip("torch")  # Forge side only: training the head that Nexus loads

BAR_NS = 300 * 10**9
SUPPORT, QUERY, ROWS = 48, 12, 400
EXPR = Call("tanh", (Col("x"),))
GATE = {"status": "validated", "gate": {"passed": True, "failed": []}}
INST = Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                  Decimal(100), Decimal(100), Decimal(5))  # fmt: skip


def regime_data(seed: int = 3) -> pl.DataFrame:
    """Returns follow the signal in one regime and fade it in the other (switching every 60
    bars); `vol` is a regime feature; the close is rebuilt from the returns."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(ROWS)
    regime = np.where((np.arange(ROWS) // 60) % 2 == 0, 1.0, -1.0)
    ret = np.zeros(ROWS)
    ret[1:] = 0.002 * regime[:-1] * np.tanh(x[:-1]) + 0.001 * rng.standard_normal(ROWS - 1)
    vol = np.abs(rng.standard_normal(ROWS)) * 0.01 + 0.002 * (regime > 0)
    return pl.DataFrame({"x": x, "vol": vol, "close": 100.0 * np.exp(np.cumsum(ret))})


@pytest.fixture(scope="module")
def challenger_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real challenger: Forge's MAML trainer, Forge's challenger writer."""
    from nexusforge.forge.evolve.challenger import write_challengers
    from nexusforge.forge.evolve.meta import meta_train
    from nexusforge.forge.evolve.meta_config import MetaConfig
    from nexusforge.forge.evolve.meta_head import to_json

    torch.set_num_threads(1)
    df = regime_data()
    sig = np.asarray(evaluate(EXPR, df.select("x")), np.float64)
    ret = np.append(np.diff(np.log(df["close"].to_numpy())), np.nan)
    cfg = MetaConfig(enabled=True, features=("vol",), hidden=3, support=SUPPORT, query=QUERY,
                     iterations=15, meta_batch=4)  # fmt: skip
    head = meta_train(sig[:200], df[:200].select("vol").to_numpy(), ret[:200], cfg, 7, ("vol",))
    folder = tmp_path_factory.mktemp("challengers")
    (path,) = write_challengers(
        [EXPR], [1.0], np.full((1, 1, 3, 6), np.nan), folder,
        data={"series": "bybit_linear:BTCUSDT:300s", "fingerprint": "test"},
        origin={"run": "test"}, heads=[(to_json(head), {})],
    )  # fmt: skip
    return path


def test_live_positions_equal_forge_walk_forward(challenger_file: Path) -> None:
    from nexusforge.forge.evolve.meta_tasks import walk_forward

    ch = artifact.read(challenger_file)
    lh = live_head(ch)
    assert lh is not None and lh.features == ("vol",) and lh.bar_ns == BAR_NS
    df = regime_data()
    sig = np.asarray(evaluate(EXPR, df.select("x")), np.float64)
    vol, close = df["vol"].to_numpy(), df["close"].to_numpy()
    live = np.full(ROWS, np.nan)
    for t in range(ROWS):
        start = t * BAR_NS
        # Earlier rounds in the bar carry other values: only the bar's last round is its close.
        lh.step(start + 1, 9.0, {"vol": 1.0}, close[t] * 1.5)
        lh.step(start + BAR_NS - 1, sig[t], {"vol": vol[t]}, close[t])
        if t:
            assert math.isclose(lh.position, live[t - 1]) or math.isnan(live[t - 1])
        live[t] = lh.step((t + 1) * BAR_NS, 0.0, {"vol": 0.0}, 1.0)  # next bar's first round
        assert lh.position == live[t]
    ret = np.append(np.diff(np.log(close)), np.nan)
    forge = walk_forward(lh.head, Window(sig, vol[:, None], ret), SUPPORT, QUERY)
    np.testing.assert_allclose(live[SUPPORT:], forge[SUPPORT:], rtol=0, atol=1e-12)
    assert lh.adaptations == len(range(SUPPORT, ROWS, QUERY))
    assert np.all(np.abs(live) <= 1.0) and np.any(np.abs(live[SUPPORT:]) > 1e-3)


def test_a_bar_without_rounds_restarts_the_history(challenger_file: Path) -> None:
    lh = live_head(artifact.read(challenger_file))
    assert lh is not None
    for t in range(SUPPORT + 2):  # the round in bar t + 1 closes row t
        lh.step(t * BAR_NS, 0.5, {"vol": 0.01}, 100.0 + t)
    assert lh.adaptations == 1  # row SUPPORT adapted on the SUPPORT rows before it
    lh.step((SUPPORT + 3) * BAR_NS, 0.5, {"vol": 0.01}, 150.0)  # bar SUPPORT + 2 missed
    for t in range(SUPPORT + 4, 2 * SUPPORT + 3):
        lh.step(t * BAR_NS, 0.5, {"vol": 0.01}, 150.0 + t)
    assert lh.adaptations == 1  # not yet a full support window since the gap
    lh.step((2 * SUPPORT + 3) * BAR_NS, 0.5, {"vol": 0.01}, 150.0)
    assert lh.adaptations == 2
    with pytest.raises(ValueError, match="earlier bar"):
        lh.step(0, 0.5, {"vol": 0.01}, 100.0)


def test_model_with_head_sizes_by_the_head(challenger_file: Path) -> None:
    ch = artifact.read(challenger_file)
    clock = [0]
    lh = live_head(ch, clock_ns=lambda: clock[0])
    assert lh is not None
    ledger = Ledger("m", "BTCUSDT", Decimal(10_000))
    model = TradingModel(0, "m", "BTCUSDT", ch.expr, ledger, head=lh)
    assert set(model.columns) == {"x", "vol"}
    price = Decimal(100)
    assert model.target_position({"x": 0.3, "vol": 0.01}, price, INST) == 0  # NaN: hold (flat)
    clock[0] = BAR_NS + 5  # the next bar: the first bar's row closes, the head decides
    got = model.target_position({"x": -2.0, "vol": 0.02}, price, INST)
    pos = lh.position
    assert math.isfinite(pos) and pos != 0.0
    assert model.last_signal == pytest.approx(math.tanh(-2.0))  # the expression still reports
    want = INST.round_qty(abs(Decimal(repr(pos)) * Decimal(10_000) / price), Rounding.DOWN)
    assert abs(got) == want and (got > 0) == (pos > 0)


def _dropped(folder: Path, ch: Challenger, name: str) -> None:
    (folder / name).write_text(artifact.dumps(ch))


def test_intake_checks_the_head(challenger_file: Path, tmp_path: Path) -> None:
    ch = artifact.read(challenger_file)
    good = Challenger(ch.expr, ch.scores, ch.data, ch.origin, GATE, ch.head)
    assert ch.head is not None
    broken = dict(ch.head, params={**ch.head["params"], "u": [1.0]})  # wrong shape
    bad = Challenger(ch.expr, ch.scores, ch.data, {"tag": "bad"}, GATE, broken)
    no_bar = Challenger(ch.expr, ch.scores, {"series": "?"}, {"tag": "bar"}, GATE, ch.head)
    for c, name in ((good, "a.json"), (bad, "b.json"), (no_bar, "c.json")):
        _dropped(tmp_path, c, name)
    intake = Intake(tmp_path, columns=frozenset({"x", "vol"}))
    admitted = intake.poll() + intake.poll()
    assert [a.path.name for a in admitted] == ["a.json"]
    reasons = {r.path.name: r.reason for r in intake.rejections}
    assert "bad head" in reasons["b.json"] and "u" in reasons["b.json"]
    assert "bad head" in reasons["c.json"] and "series" in reasons["c.json"]
    # The engine lacks the head's regime feature: refused, naming it.
    again = tmp_path / "again"
    again.mkdir()
    _dropped(again, Challenger(ch.expr, ch.scores, ch.data, {"tag": "2"}, GATE, ch.head), "d.json")
    strict = Intake(again, columns=frozenset({"x"}))
    assert strict.poll() + strict.poll() == []
    assert "['vol']" in strict.rejections[0].reason


def test_bar_length_comes_from_the_series(challenger_file: Path) -> None:
    assert bar_seconds({"series": "bybit_linear:ETHUSDT:60s"}) == 60
    for bad in ({}, {"series": "bybit_linear:ETHUSDT"}, {"series": "a:b:0s"}):
        with pytest.raises(ValueError, match="series"):
            bar_seconds(bad)
    lh = live_head(artifact.read(challenger_file))
    assert lh is not None
    with pytest.raises(ValueError, match="bar length"):
        LiveHead(lh.head, 0)
    plain = artifact.read(challenger_file)
    assert live_head(Challenger(plain.expr, plain.scores, plain.data, plain.origin)) is None


def test_live_head_path_loads_neither_torch_nor_forge() -> None:
    code = (
        "import sys; import nexusforge.nexus.live_head, nexusforge.nexus.model, "
        "nexusforge.nexus.pit_crew; "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('nexusforge.forge')]; "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_promoted_head_survives_a_restart(challenger_file: Path, tmp_path: Path) -> None:
    from nexusforge.market.costs import CostModel
    from nexusforge.nexus.pit_crew import (
        DecisionLog,
        Shadow,
        Verdict,
        hot_swap,
        promoted_heads,
        promoted_strategies,
    )

    ch = artifact.read(challenger_file)
    lh = live_head(ch)
    assert lh is not None
    champ = TradingModel(0, "a", "BTCUSDT", Call("sign", (Col("x"),)),
                         Ledger("a", "BTCUSDT", Decimal(10_000)))  # fmt: skip
    champ.apply_event(ModelEvent.PROMOTE)

    def start(sha: str, head: LiveHead | None) -> Shadow:
        return Shadow.start(
            sha,
            ch.expr,
            "BTCUSDT",
            Decimal(10_000),
            Decimal(1),
            now_s=0.0,
            now_ms=0,
            costs=CostModel(),
            max_position=Decimal(1),
            head=head,
        )

    shadow = start("cd" * 32, lh)
    journal = tmp_path / "j.sqlite"
    verdict = Verdict("a", 0, 30, 1.0, 0.2, 4.0, 1e-4, 4.0, True, "test")
    models = [champ]
    hot_swap(models, shadow, verdict, Decimal(100), None, DecisionLog(journal))
    assert models[0].head is lh
    heads = promoted_heads(journal)
    assert set(heads) == {0} == set(promoted_strategies(journal))
    again = heads[0]
    assert again is not None and again.bar_ns == BAR_NS and again.features == lh.features
    for k, v in lh.head.params.items():
        np.testing.assert_array_equal(again.head.params[k], v)
    # A later promotion without a head leaves the slot headless; a mangled saved head is skipped.
    plain = start("ef" * 32, None)
    hot_swap(models, plain, verdict, Decimal(100), None, DecisionLog(journal))
    assert promoted_heads(journal) == {0: None}
    db = sqlite3.connect(journal)
    db.execute("UPDATE pit_crew_decisions SET detail = json_set(detail, '$.head', "
               "json('{\"head\": {}, \"bar_s\": 300}'))")  # fmt: skip
    db.commit()
    db.close()
    assert promoted_heads(journal) == {0: None}


def test_pit_crew_shadows_a_challenger_with_its_head(challenger_file: Path, tmp_path: Path) -> None:
    from nexusforge.market.book import OrderBook
    from nexusforge.nexus.pit_crew import PitCrew, PitCrewConfig

    ch = artifact.read(challenger_file)
    folder = tmp_path / "pit"
    (folder / "accepted").mkdir(parents=True)
    _dropped(folder, Challenger(ch.expr, ch.scores, ch.data, ch.origin, GATE, ch.head), "a.json")
    assert ch.head is not None
    # Accepted before a restart, then damaged: the shadow is not started, and the reason logged.
    broken = dict(ch.head, steps=-1)
    _dropped(folder / "accepted", Challenger(ch.expr, ch.scores, ch.data, {"tag": "old"}, GATE,
                                             broken), "old.json")  # fmt: skip
    crew = PitCrew(PitCrewConfig(folder, poll_s=0.0), INST, Decimal(10_000), Decimal(1),
                   clock_s=lambda: 0.0)  # fmt: skip
    book = OrderBook(0.1)  # empty: no fills, the shadows only follow the rows
    for _ in range(3):
        crew.on_round({"x": 0.2, "vol": 0.01}, book, Decimal(100), [])
    (shadow,) = crew.shadows.values()
    assert shadow.model.head is not None and shadow.model.head.features == ("vol",)
    retired = [d for d in crew.decisions.decisions() if d.kind == "retired"]
    assert len(retired) == 1 and "bad head" in retired[0].detail["reason"]
