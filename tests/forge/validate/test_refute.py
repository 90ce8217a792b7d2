"""DoWhy refutation on planted truths: a signal that drives the return holds against every
refuter; a noise signal and a signal that only rides a confounder named in the graph fail."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from validate_fixtures import BARS_PER_YEAR, planted_table

from nexusforge.forge.evolve.table import from_bars
from nexusforge.forge.validate.refute import Parent, RefuteConfig, causal_frame, refute
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
    assert good.common_causes == ("noise_a_lag0",)  # the signal's own input is not a confounder
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
