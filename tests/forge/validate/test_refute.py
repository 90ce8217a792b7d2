"""DoWhy refutation on planted truths: a signal that drives the return holds against every
refuter; a noise signal and a signal that only rides a confounder named in the graph fail."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from validate_fixtures import BARS_PER_YEAR, planted_table

from nexusforge.forge.evolve.table import from_bars
from nexusforge.forge.validate.refute import (
    Parent,
    RefuteConfig,
    causal_frame,
    outcome_p_value,
    refute,
    screen,
)
from nexusforge.strategy import codec

CFG = RefuteConfig(rows=2000, simulations=10)


def expr(node: str):  # type: ignore[no-untyped-def]
    return codec.loads('{"schema": 1, "expr": ' + node + "}")


@pytest.mark.slow
def test_planted_driver_holds_and_noise_fails() -> None:
    t = planted_table(rows=4000)
    rows = [slice(2000, 4000)]
    good = refute(expr('{"op": "lag", "args": [{"col": "driver"}], "k": 1}'), t, rows,
                  [Parent("driver", 1), Parent("noise_a", 0)], CFG)  # fmt: skip
    assert good.passed, good.figures()
    assert good.effect > 0 and good.p_value < 1e-6
    # The signal's own input is never a confounder; independent noise is screened out.
    assert good.common_causes == () and dict(good.screened_out).keys() == {"noise_a_lag0"}
    assert {r.name for r in good.refutations} == {
        "placebo_treatment",
        "random_common_cause",
        "data_subset",
        "unobserved_common_cause",
    }
    bad = refute(expr('{"col": "noise_a"}'), t, rows, [Parent("driver", 1)], CFG)
    assert not bad.passed and not bad.estimate_passed


@pytest.mark.slow
def test_signal_riding_a_named_confounder_fails() -> None:
    # z drives the return; the signal is z plus noise, so it predicts the return only through
    # z. With z (from the graph) as a common cause, the backdoor effect of the signal is ~0.
    rng = np.random.default_rng(4)
    n = 3000
    z = rng.standard_normal(n)
    x = z + 0.5 * rng.standard_normal(n)
    ret = np.zeros(n)
    ret[1:] = 0.001 * z[:-1] + 0.002 * rng.standard_normal(n - 1)
    close = 100 * np.exp(np.cumsum(ret))
    t = from_bars(np.arange(n) * 300_000_000_000, close, pl.DataFrame({"z": z, "x": x}),
                  bars_per_year=BARS_PER_YEAR)  # fmt: skip
    sig = expr('{"col": "x"}')
    res = refute(sig, t, [slice(0, n)], [Parent("z", 0)], CFG)
    assert not res.estimate_passed and not res.passed
    # Without the graph's confounder the same signal looks causal: the graph matters.
    naive = refute(sig, t, [slice(0, n)], [], CFG)
    assert naive.effect > 0 and naive.estimate_passed


def test_causal_frame_lags_confounders_and_keeps_only_the_windows() -> None:
    t = planted_table(rows=1000)
    f = causal_frame(expr('{"col": "driver"}'), t, [slice(100, 200), slice(500, 550)],
                     [Parent("noise_a", 2)], 10_000)  # fmt: skip
    assert f.height == 150
    assert f["noise_a_lag2"][0] == t.frame["noise_a"][98]
    assert f["signal"][0] == pytest.approx(np.clip(t.frame["driver"][100], -1, 1))
    constant = refute(expr('{"const": 0.5}'), t, [slice(0, 1000)], [], CFG)
    assert not constant.passed and constant.note == "the signal is constant"


def test_screening_drops_a_proxy_of_the_signals_cause_and_keeps_a_real_confounder() -> None:
    # decoy_a = driver + noise never moves the price: given the signal's input (driver at
    # lags 0..2) it says nothing more about the return, so it is no confounder.
    t = planted_table(rows=6000, seed=3)
    sig = expr('{"op": "lag", "args": [{"col": "driver"}], "k": 1}')
    parents = [Parent("decoy_a", 0), Parent("decoy_a", 1), Parent("decoy_a", 2)]
    f = causal_frame(sig, t, [slice(1000, 6000)], parents, 10_000)
    assert {c for c in f.columns if c.startswith("input:")} == {
        "input:driver_lag0", "input:driver_lag1", "input:driver_lag2"}  # fmt: skip
    kept, dropped = screen(f, ["decoy_a_lag0", "decoy_a_lag1", "decoy_a_lag2"], 0.05)
    assert kept == () and all(p > 0.05 for _, p in dropped)
    assert screen(f, ["decoy_a_lag1"], 1.0) == (("decoy_a_lag1",), ())  # 1.0: no screening
    # A real cause of the return that the signal does not read is kept.
    rng = np.random.default_rng(9)
    n = 4000
    z, x = rng.standard_normal(n), rng.standard_normal(n)
    ret = np.zeros(n)
    ret[1:] = 0.001 * z[:-1] + 0.0005 * x[:-1] + 0.002 * rng.standard_normal(n - 1)
    tz = from_bars(np.arange(n) * 300_000_000_000, 100 * np.exp(np.cumsum(ret)),
                   pl.DataFrame({"z": z, "x": x}), bars_per_year=BARS_PER_YEAR)  # fmt: skip
    fz = causal_frame(expr('{"col": "x"}'), tz, [slice(0, n)], [Parent("z", 0)], 10_000)
    assert outcome_p_value(fz, "z_lag0") < 1e-6
    assert screen(fz, ["z_lag0"], 0.05)[0] == ("z_lag0",)


@pytest.mark.slow
def test_planted_signal_holds_beside_a_listed_proxy_only_with_screening() -> None:
    # A loose discovery lists the decoy (a noisy copy of the driver) as parents; adjusting
    # for it takes the true signal's effect away, screening it out keeps the estimate.
    t = planted_table(rows=6000, seed=1001)
    sig = expr('{"op": "lag", "args": [{"col": "driver"}], "k": 1}')
    parents = [Parent("decoy_a", 0), Parent("decoy_a", 1), Parent("decoy_a", 2)]
    rows = [slice(3000, 6000)]
    screened = refute(sig, t, rows, parents, CFG)
    assert screened.passed and screened.common_causes == ()
    naive = refute(sig, t, rows, parents, RefuteConfig(rows=2000, simulations=10,
                                                       screen_alpha=1.0))  # fmt: skip
    assert len(naive.common_causes) == 3 and naive.effect < 0.6 * screened.effect
