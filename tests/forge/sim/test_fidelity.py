"""The fidelity check: real-data statistics, the report's shape, and a short simulated check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.errors import DataError
from nexusforge.forge.sim import check, facts, real
from nexusforge.forge.sim.facts import MarketSample


@pytest.fixture(scope="module")
def real_market(shared_data: Path) -> MarketSample:
    return real.load_real_market(shared_data)


def test_real_sample_names_its_files_and_has_the_expected_sizes(
    real_market: MarketSample, shared_data: Path
) -> None:
    for source in set(real_market.sources.values()):
        assert (shared_data / source).is_file()
    assert len(real_market.returns_1m) == 73_138  # 73,139 one-minute perp candles
    assert len(real_market.ofi) == len(real_market.mid_change) > 300  # 345 s capture, 1 s bins
    assert set(np.unique(real_market.trade_sign)) == {-1.0, 1.0}
    # Taker orders merge prints: fewer signs than the 21,313 prints.
    assert len(real_market.trade_sign) < len(real_market.trade_qty) == 21_313
    assert np.all(real_market.spread_ticks >= 1)
    assert np.all(real_market.top_depth > 0)


def test_real_bybit_quotes_sit_on_the_half_dollar_tick(shared_data: Path) -> None:
    _, _, tick = real.top_of_book(shared_data / real.QUOTE_BARS_FILE)
    assert tick == 0.5  # Bybit BTCUSDT in December 2022


def test_real_facts_are_the_known_stylized_facts(real_market: MarketSample) -> None:
    values = check.real_facts(real_market)
    assert set(values) == set(check.FACT_NAMES)
    # Real BTC perpetual 1-min returns: fat tails, clustering, no linear predictability.
    assert 2.5 <= values["hill_tail_index"] <= 4.0
    assert values["excess_kurtosis"] > 5
    assert values["abs_return_acf_min"] > 0
    assert 0.1 <= values["abs_return_acf_exponent"] <= 0.5
    assert 0.3 <= values["sign_acf_exponent"] <= 0.8
    assert values["ofi_r2"] >= 0.4
    assert all(math.isnan(values[name]) for name in check.IMPACT_FACTS)


def test_reading_a_missing_or_unknown_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        real.minute_returns(tmp_path / "absent.csv.gz")
    odd = tmp_path / "notes.txt"
    odd.write_text("hello\n")
    with pytest.raises(DataError, match="no reader"):
        real.minute_returns(odd)


def test_report_json_has_exactly_the_issue_shape() -> None:
    rng = np.random.default_rng(1)
    per_seed = [{name: float(rng.uniform(0, 1)) for name in check.FACT_NAMES} for _ in range(5)]
    per_seed[0]["hill_tail_index"] = math.nan  # one thin seed: ignored, not fatal
    real_values = dict.fromkeys(check.FACT_NAMES, 0.5)
    real_values["impact_exponent"] = math.nan
    report = check.assemble_report(per_seed, real_values, range(5), {"x": "y"}, {})
    out = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert list(out) == ["facts"]
    assert list(out["facts"]) == list(check.FACT_NAMES)
    for name, entry in out["facts"].items():
        assert list(entry) == ["value", "interval", "range", "real", "pass"]
        assert isinstance(entry["pass"], bool)
        values = [p[name] for p in per_seed if math.isfinite(p[name])]
        assert entry["value"] == pytest.approx(float(np.median(values)))
        lo, hi = entry["interval"]
        assert min(values) <= lo <= entry["value"] <= hi <= max(values)
    assert out["facts"]["excess_kurtosis"]["range"] == [5.0, None]  # open end is null
    assert out["facts"]["impact_exponent"]["real"] is None
    kurt = report.facts["excess_kurtosis"]
    assert kurt.passed is False and kurt.value < 5


def test_pass_needs_a_finite_value_inside_the_range() -> None:
    spec = check.FactSpec("x", 0.4, 0.6, "")
    assert spec.passes(0.5) and spec.passes(0.4) and spec.passes(0.6)
    assert not spec.passes(0.61) and not spec.passes(math.nan)


def test_sample_facts_on_a_real_sample_against_itself(real_market: MarketSample) -> None:
    values = check.sample_facts(real_market, real_market)
    assert values["spread_ks"] == 0.0 and values["depth_ks"] == 0.0
    fit = facts.ofi_regression(real_market.ofi, real_market.mid_change)
    assert values["ofi_r2"] == fit.r2


# ---- calibration machinery (the search and the config writer) ----


def test_coordinate_search_finds_a_known_optimum_within_bounds_and_budget() -> None:
    from nexusforge.forge.sim import calibrate

    start = {"a": {"x": 1.0, "n": 10}, "b": 3.0}
    params = [calibrate.Param("a.x", 0.01, 100.0), calibrate.Param("a.n", 1, 50, integer=True)]

    def objective(cfg: dict[str, object]) -> float:
        x = float(calibrate.get_key(cfg, "a.x"))
        n = float(calibrate.get_key(cfg, "a.n"))
        return math.log(x / 7.0) ** 2 + math.log(n / 60.0) ** 2  # n's optimum lies past its bound

    log = calibrate.SearchLog()
    best, value = calibrate.coordinate_search(objective, start, params, seed=3, budget=80, log=log)
    assert calibrate.get_key(best, "a.x") == pytest.approx(7.0, rel=0.05)
    assert calibrate.get_key(best, "a.n") == 50  # clipped at the bound, an integer
    assert best["b"] == 3.0 and start["a"] == {"x": 1.0, "n": 10}  # others kept, start untouched
    assert len(log.evaluations) <= 80
    assert value == min(v for _, v in log.evaluations)
    again, _ = calibrate.coordinate_search(objective, start, params, seed=3, budget=80)
    assert again == best


def test_set_key_rejects_an_unknown_key() -> None:
    from nexusforge.errors import ConfigError
    from nexusforge.forge.sim import calibrate

    with pytest.raises(ConfigError, match="no key"):
        calibrate.set_key({"a": {"b": 1}}, "a.c", 2)


def test_toml_writer_round_trips_through_tomllib() -> None:
    import tomllib

    from nexusforge.forge.sim import calibrate

    config = {
        "duration_s": 60.0,
        "seed": 7,
        "market": {"tick_size": 0.5, "name": 'BTC "perp"'},
        "agents": {"noise": {"rate": 1e-9, "count": 1000, "on": True, "sizes": [1, 2]}},
    }
    text = calibrate.to_toml(config, {"agents.noise.rate": "arrivals per second"}, ["header"])
    assert tomllib.loads(text) == config
    assert "# arrivals per second\nrate = 1e-09" in text


# ---- slippage of a market order in the matching engine equals the cost model's book walk ----

TICK, LOT = 0.5, 0.001


@st.composite
def _ladders(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Resting orders (price ticks, lots): bids below 40,000 ticks, asks from 40,001 up."""

    def side(sign: int) -> list[tuple[int, int]]:
        gaps = draw(st.lists(st.integers(1, 4), min_size=1, max_size=12))
        prices = 40_000 + sign * (np.cumsum(gaps) - (1 if sign > 0 else 0))
        out = []
        for p in prices.tolist():
            for lots in draw(st.lists(st.integers(1, 400), min_size=1, max_size=3)):
                out.append((int(p), lots))
        return out

    return side(-1), side(1)


@settings(max_examples=60)
@given(book=_ladders(), frac=st.floats(0.01, 1.0), buy=st.booleans())
def test_market_order_slippage_equals_the_book_walk(
    book: tuple[list[tuple[int, int]], list[tuple[int, int]]], frac: float, buy: bool
) -> None:
    from nexusforge.forge.sim.engine import EngineConfig, MatchingEngine
    from nexusforge.market.costs import CostModel

    config = EngineConfig(TICK, LOT, maker_fee=0.0002, taker_fee=0.00055)
    engine = MatchingEngine(config)
    bids, asks = book
    for price, lots in bids:
        engine.submit_limit(0, 1, "buy", price, lots)
    for price, lots in asks:
        engine.submit_limit(0, 2, "sell", price, lots)
    side = "buy" if buy else "sell"
    far = asks if buy else bids
    lots = max(1, int(frac * sum(q for _, q in far)))

    # What the one cost model says walking this book costs, at this moment.
    def levels(s: str) -> np.ndarray:
        d = engine.depth(s, 100)
        return np.column_stack([d["price"].to_numpy() * TICK, d["qty"].to_numpy() * LOT])

    depth = (levels("buy"), levels("sell"))
    bid, ask = depth[0][0, 0], depth[1][0, 0]
    model = CostModel(maker_fee=0.0002, taker_fee=0.00055, impact_eta=0.0, impact_gamma=0.0)
    cost = model.price_fill(side, lots * LOT, 0.5 * (bid + ask), bid, ask, depth=depth)

    engine.take_events()
    engine.submit_market(1, 3, side, lots)
    trades = engine.take_events().filter(pl.col("kind") == "trade")
    qty = trades["qty"].to_numpy() * LOT
    px = trades["price"].to_numpy() * TICK
    assert qty.sum() == pytest.approx(lots * LOT, rel=1e-12) and cost.book_short_qty < 1e-12
    avg = float((px * qty).sum() / qty.sum())
    touch = ask if buy else bid
    sign = 1.0 if buy else -1.0
    assert avg == pytest.approx(cost.price, rel=1e-12)
    assert sign * (avg - touch) * qty.sum() == pytest.approx(cost.slippage, rel=1e-9, abs=1e-9)
    assert trades["taker_fee"].sum() == pytest.approx(cost.fee, rel=1e-9)


# ---- the check and the calibration on short simulator runs ----

SHORT_PLAN = dict(sizes=3, q_over_v_lo=1e-3, q_over_v_hi=1e-1)


@pytest.fixture(scope="module")
def short_report(shared_data: Path) -> check.FidelityReport:
    from nexusforge.forge.sim.config import SimConfig

    cfg = SimConfig.scenario(duration_s=7200.0)
    plan = check.ImpactPlan(**SHORT_PLAN)  # type: ignore[arg-type]
    return check.check_fidelity(cfg, seeds=2, data_dir=shared_data, impact=plan)


@pytest.mark.slow
def test_short_check_computes_every_fact_it_can(short_report: check.FidelityReport) -> None:
    out = json.loads(json.dumps(short_report.to_json(), allow_nan=False))
    assert list(out["facts"]) == list(check.FACT_NAMES)
    assert short_report.seeds == (1, 2)
    # 120 one-minute returns per seed: too few for lags 1-120 of |r|, enough for the rest.
    # (and |r| of 120 minutes has no ACF positive over 90 % of lags: no exponent is reported).
    too_short = {"abs_return_acf_min", "abs_return_acf_exponent"}
    for name, fact in short_report.facts.items():
        if name in too_short:
            continue
        assert len(fact.per_seed) == 2
        assert math.isfinite(fact.value), name
        lo, hi = fact.interval
        assert lo <= hi
    assert out["facts"]["impact_decades"]["value"] == pytest.approx(2.0, abs=0.01)
    pooled = short_report.pooled
    assert pooled is not None and len(pooled.impact_q_over_v) == 6  # 3 sizes x 2 seeds
    assert len(pooled.sim_returns) == 2 * 120  # mids at 0, 60, ..., 7200 s


@pytest.mark.slow
def test_same_seeds_give_the_same_report(
    short_report: check.FidelityReport, shared_data: Path
) -> None:
    from nexusforge.forge.sim.config import SimConfig

    cfg = SimConfig.scenario(duration_s=7200.0)
    again = check.check_fidelity(
        cfg, seeds=2, data_dir=shared_data, impact=check.ImpactPlan(sizes=0)
    )
    for name in ("hill_tail_index", "excess_kurtosis", "ofi_r2", "spread_ks"):
        assert again.facts[name].per_seed == short_report.facts[name].per_seed
    assert math.isnan(again.facts["impact_exponent"].value)  # no meta-orders: no impact


@pytest.mark.slow
def test_html_report_has_the_plots_and_every_fact(
    short_report: check.FidelityReport, tmp_path: Path
) -> None:
    from nexusforge.forge.sim import fidelity_report

    out = fidelity_report.write_html(short_report, tmp_path / "fidelity.html")
    text = out.read_text(encoding="utf-8")
    for name in check.FACT_NAMES:
        assert name in text
    assert "plotly" in text and "Meta-order impact" in text


@pytest.mark.slow
def test_cli_check_prints_exactly_the_json_shape(shared_data: Path) -> None:
    from typer.testing import CliRunner

    from nexusforge.cli import app

    args = ["sim", "check", "--seeds", "2", "--duration", "3600", "--impact-sizes", "0"]
    result = CliRunner().invoke(app, [*args, "--data", str(shared_data), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out) == ["facts"] and list(out["facts"]) == list(check.FACT_NAMES)
    for entry in out["facts"].values():
        assert set(entry) == {"value", "interval", "range", "real", "pass"}


def test_cli_check_rejects_a_bad_config(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nexusforge.cli import app

    bad = tmp_path / "bad.toml"
    bad.write_text("[agents.noise]\nrate = -1.0\n")
    result = CliRunner().invoke(app, ["sim", "check", "--config", str(bad), "--json"])
    assert result.exit_code == 2
    assert "rate" in result.output


@pytest.mark.slow
def test_cli_calibrate_writes_a_loadable_documented_config(
    shared_data: Path, tmp_path: Path
) -> None:
    import tomllib

    from typer.testing import CliRunner

    from nexusforge.cli import app
    from nexusforge.forge.sim import calibrate
    from nexusforge.forge.sim.config import SimConfig

    out = tmp_path / "sim.toml"
    args = ["sim", "calibrate", "--data", str(shared_data), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--budget", "3", "--duration", "600"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    cfg = SimConfig.from_toml(out)
    assert cfg.tick_size == 0.5  # the real Bybit BTCUSDT tick
    for param in calibrate.CALIBRATED:
        assert param.lo <= cfg.get(param.key) <= param.hi
        key = param.key.rsplit(".", 1)[1]
        assert f"# {calibrate.DESCRIPTIONS[param.key]}\n{key} = " in text
    assert data["scenario"] == "calm"
    for criterion in calibrate.CRITERIA:
        assert criterion.name in text and criterion.name in result.output
