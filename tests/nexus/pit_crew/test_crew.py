"""Pit Crew end to end on the real feature path: a challenger with a planted edge is admitted,
shadow-traded, and promoted into the worst champion's slot within the window; a worse one never
is. The champions' "venue" fills here are priced by the same cost model against the same book
(the local exchange is exercised by the engine tests); the swap keeps every fill and the
invariant Σ ledgers == Σ venue fills."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pitcrew_fixtures import (
    ANTI_EDGE,
    EDGE,
    FLAT,
    INSTRUMENT,
    SYMBOL,
    EdgeMarket,
    challenger_text,
    expr_of,
)

from nexusforge.market.costs import CostModel
from nexusforge.market.features import FeatureConfig
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.ledger import Book, slot_router
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.model import ModelState, TradingModel
from nexusforge.nexus.pit_crew import (
    DecisionLog,
    PitCrew,
    PitCrewConfig,
    Promotion,
    Shadow,
    challenger_views,
    market_view,
    promoted_strategies,
)
from nexusforge.strategy.stream import StreamEvaluator

CAPITAL = Decimal(10_000)
NAMES = {0: "champ_a", 1: "champ_b"}


@dataclass
class Run:
    crew: PitCrew
    models: list[TradingModel]
    book: Book
    journal: Journal
    venue: dict[int, Shadow]
    rows: list[dict[str, float]] = field(default_factory=list)
    promoted_at: list[float] = field(default_factory=list)


def setup(tmp_path: Path, champions: list[dict[str, Any]], challenger: dict[str, Any]) -> Run:
    folder = tmp_path / "challengers"
    folder.mkdir()
    (folder / "c.json").write_text(challenger_text(challenger))
    journal = Journal(tmp_path / "journal.sqlite")
    book = Book(SYMBOL, {n: CAPITAL for n in NAMES.values()}, slot_router(NAMES))
    models = [
        TradingModel(s, n, SYMBOL, expr_of(doc), book.ledger(n), ModelState.ACTIVE, Decimal("0.5"))
        for (s, n), doc in zip(NAMES.items(), champions, strict=True)
    ]
    cfg = PitCrewConfig(folder, poll_s=1, sample_s=1, min_time_s=120, min_trades=5,
                        max_time_s=400)  # fmt: skip
    crew = PitCrew(cfg, INSTRUMENT, CAPITAL, Decimal(1000), journal, DecisionLog(journal.path))
    venue = {
        m.slot: Shadow(f"venue-{m.slot}", "", m, 0.0, 0, CostModel(), Decimal(1000)) for m in models
    }
    return Run(crew, models, book, journal, venue)


def play(run: Run, steps: int, seed: int, t0: int = 0) -> None:
    market = EdgeMarket(seed=seed)
    feed = MarketFeed(INSTRUMENT, FeatureConfig(tick_size=0.1))
    for k in range(steps):
        row = feed.on_book(market.step())
        run.rows.append(dict(row))
        mid = feed.mid()
        assert mid is not None
        now = float(t0 + k)
        run.crew.market.add_volume(500.0)
        view = market_view(feed.book, mid, run.crew.market)
        for i, m in enumerate(run.models):  # the engine's round: the champions' venue fills
            run.venue[m.slot].model = m
            run.venue[m.slot].on_round(row, view, INSTRUMENT, 1_700_000_000_000 + k)
            assert run.models[i] is m
        promo = run.crew.on_round(row, feed.book, mid, run.models, now_s=now)
        if promo is not None:
            run.promoted_at.append(now)


def test_planted_edge_promoted_within_window_and_swap_keeps_every_fill(tmp_path: Path) -> None:
    run = setup(tmp_path, [FLAT, ANTI_EDGE], EDGE)
    play(run, 400, seed=11)
    assert len(run.crew.promotions) == 1
    p: Promotion = run.crew.promotions[0]
    assert run.promoted_at[0] <= 200  # admitted at ~1 s, judged from 120 s on
    assert p.slot == 1 and p.champion.name == "champ_b"  # the worst champion is replaced
    assert p.verdict.beats and p.verdict.p_value < 0.05
    new = run.models[1]
    assert new is p.challenger and new.state is ModelState.ACTIVE and new.name == "champ_b"
    assert p.champion.state is ModelState.SHADOW
    # handover: the slot's ledger is inherited, so every venue fill is in exactly one ledger
    assert new.ledger is run.book.ledger("champ_b") is p.champion.ledger
    assert p.virtual_ledger is not new.ledger and len(p.virtual_ledger.fills) >= 5
    for slot, wrapper in run.venue.items():
        assert len(run.book.ledger(NAMES[slot]).fills) == wrapper.stats.fills
    venue_position = sum(
        (f.signed_qty for w in run.venue.values() for f in w.model.ledger.fills), Decimal(0)
    )
    assert run.book.total_inventory() == venue_position
    # no dropped data: the promoted strategy saw every row, as a fresh evaluator over all rows
    fresh = StreamEvaluator(expr_of(EDGE))
    last = [fresh.update(r) for r in run.rows][-1]
    assert new.last_signal == max(-1.0, min(1.0, last))
    # journaled: decisions, state changes, and the strategy a restart would load
    kinds = [d.kind for d in run.crew.decisions.decisions()]
    assert kinds[:3] == ["admitted", "shadow_started", "evaluated"] and "promoted" in kinds
    assert run.journal.latest_states()[1] == "active"
    assert promoted_strategies(run.journal.path) == {1: expr_of(EDGE)}
    assert (
        p.champion_closed.model == "champ_b" and p.challenger_closed.model == p.virtual_ledger.model
    )
    assert 0 < p.champion_closed.fills < len(new.ledger.fills)  # the slot kept trading after
    assert run.crew.views() == ()  # nothing left in shadow


def test_worse_challenger_never_promoted_and_retired(tmp_path: Path) -> None:
    run = setup(tmp_path, [FLAT, EDGE], ANTI_EDGE)
    play(run, 420, seed=5)
    assert run.crew.promotions == []
    assert [s.key for s in run.crew.retired] and run.crew.shadows == {}
    assert [m.name for m in run.models] == ["champ_a", "champ_b"]
    assert all(m.state is ModelState.ACTIVE for m in run.models)
    kinds = [d.kind for d in run.crew.decisions.decisions()]
    assert "retired" in kinds and "promoted" not in kinds


def test_dashboard_views_while_shadowing(tmp_path: Path) -> None:
    run = setup(tmp_path, [FLAT, ANTI_EDGE], EDGE)
    play(run, 60, seed=3)
    (view,) = run.crew.views()
    assert view.name.startswith("challenger-") and view.champion in NAMES.values()
    assert len(view.equity_series) > 10
    assert view.score == view.score  # a number once samples exist


def test_bad_file_rejected_and_recorded_while_running(tmp_path: Path) -> None:
    run = setup(tmp_path, [FLAT, ANTI_EDGE], EDGE)
    (run.crew.config.folder / "bad.json").write_text('{"kind": "nexusforge.challenger"')
    play(run, 10, seed=3)
    rejected = [d for d in run.crew.decisions.decisions() if d.kind == "rejected"]
    assert rejected and rejected[0].challenger == "bad.json"
    assert len(run.crew.shadows) == 1  # the good one still runs


def test_restart_resumes_undecided_shadows_only(tmp_path: Path) -> None:
    run = setup(tmp_path, [FLAT, ANTI_EDGE], EDGE)
    play(run, 5, seed=3)
    (key,) = run.crew.shadows
    decided = run.crew.config.folder / "accepted" / "old.json"
    decided.write_text(challenger_text(ANTI_EDGE, tag="old"))
    old_sha = json.loads(decided.read_text())["sha256"]
    run.crew.decisions.record("retired", "old", None, {"sha256": old_sha})
    # a new process on the same journal and folder
    again = PitCrew(run.crew.config, INSTRUMENT, CAPITAL, Decimal(1000), run.journal,
                    DecisionLog(run.journal.path))  # fmt: skip
    feed = MarketFeed(INSTRUMENT, FeatureConfig(tick_size=0.1))
    market = EdgeMarket(seed=4)
    for k in range(3):
        row = feed.on_book(market.step())
        mid = feed.mid()
        assert mid is not None
        again.on_round(row, feed.book, mid, run.models, now_s=float(k))
    assert list(again.shadows) == [key]


def test_exports() -> None:
    import types

    import nexusforge.nexus.pit_crew as pc

    public = {n for n in dir(pc) if not n.startswith("_")}
    modules = {n for n in public if isinstance(getattr(pc, n), types.ModuleType)}
    assert set(pc.__all__) == public - modules


def test_journal_only_views_follow_the_decision_log(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    early = setup(tmp_path / "a", [FLAT, EDGE], ANTI_EDGE)
    play(early, 20, seed=5)
    (v,) = challenger_views(DecisionLog(early.journal.path).decisions())  # a second reader
    assert v.champion == "" and v.since_ms > 0 and v.name in early.crew.shadows
    play(early, 130, seed=6, t0=20)  # past the first evaluation: scores from the logged verdicts
    (v,) = challenger_views(DecisionLog(early.journal.path).decisions())
    assert v.champion in NAMES.values() and v.score < 0
    promoted = setup(tmp_path / "b", [FLAT, ANTI_EDGE], EDGE)
    play(promoted, 200, seed=11)
    assert promoted.crew.promotions
    assert challenger_views(DecisionLog(promoted.journal.path).decisions()) == ()


def test_a_failing_shadow_is_retired_and_the_round_goes_on(tmp_path: Path) -> None:
    run = setup(tmp_path, [FLAT, ANTI_EDGE], EDGE)
    play(run, 5, seed=3)
    broken_doc = {"op": "mul", "args": [{"col": "no_such_feature"}, {"const": 1.0}]}
    costs, cap = CostModel(), Decimal(10)
    expr = expr_of(broken_doc)
    broken = Shadow.start("cd" * 32, expr, SYMBOL, CAPITAL, Decimal("0.5"), now_s=5.0, now_ms=0,
                          costs=costs, max_position=cap)  # fmt: skip
    run.crew.shadows[broken.key] = broken
    play(run, 5, seed=4, t0=5)
    assert broken.key not in run.crew.shadows and broken in run.crew.retired
    assert len(run.crew.shadows) == 1  # the healthy one still trades
    (fault,) = [d for d in run.crew.decisions.decisions() if d.challenger == broken.key]
    assert fault.kind == "retired" and "no_such_feature" in fault.detail["reason"]
