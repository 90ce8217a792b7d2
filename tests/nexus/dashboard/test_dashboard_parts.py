"""Small parts: the bounded series, latency percentiles, the loopback rule, token loading, the
confirmation codes, and the CLI refusing to bind beyond loopback without a token."""

from __future__ import annotations

import math
import os
from decimal import Decimal
from pathlib import Path

import pytest
from dashboard_fixtures import new_session
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.errors import ConfigError
from nexusforge.nexus.dashboard import JournalSource, check_bind, dashboard_server
from nexusforge.nexus.dashboard.auth import Confirmations
from nexusforge.nexus.dashboard.latency import LatencyHistogram
from nexusforge.nexus.dashboard.series import SeriesRecorder
from nexusforge.nexus.dashboard.serve import TOKEN_ENV, is_loopback, load_token

TOKEN = "0123456789abcdef-token"


@given(st.lists(st.integers(0, 50_000), min_size=1, max_size=3000))
def test_series_stays_bounded_ordered_and_keeps_its_ends(steps: list[int]) -> None:
    s = SeriesRecorder(max_points=50, min_step_ms=100)
    t, first = 0, None
    for i, dt in enumerate(steps):
        t += dt
        s.add(t, Decimal(i))
        first = first or s.points[0]
    pts = s.points
    assert 1 <= len(pts) <= 50
    assert [p[0] for p in pts] == sorted(p[0] for p in pts)
    assert pts[0] == first and pts[-1] == (t, Decimal(len(steps) - 1))


@given(st.lists(st.floats(1e-6, 5.0), min_size=1, max_size=500), st.sampled_from([0.5, 0.9, 0.99]))
def test_percentile_lies_in_the_true_quantiles_bucket(xs: list[float], q: float) -> None:
    h = LatencyHistogram("x")
    for x in xs:
        h.observe(x)
    view = h.view()
    est = view.percentile(q)
    true = sorted(xs)[max(0, math.ceil(q * len(xs)) - 1)]  # the ceil(q·n)-th smallest
    bounds = (0.0, *view.bounds_s, float("inf"))
    i = next(k for k in range(1, len(bounds)) if true <= bounds[k])
    assert bounds[i - 1] <= est <= min(bounds[i], view.bounds_s[-1])
    assert view.count == len(xs) and abs(view.sum_s - sum(xs)) < 1e-9


def test_latency_bounds_checked() -> None:
    with pytest.raises(ConfigError):
        LatencyHistogram("x", (0.1, 0.05))
    assert math.isnan(LatencyHistogram("x").view().percentile(0.5))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.7", "10.0.0.1", "dash.example"])
def test_anything_else_needs_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="refusing to start without a token"):
        check_bind(host, None)
    check_bind(host, TOKEN)


def test_server_refuses_before_binding(tmp_path: Path) -> None:
    new_session(tmp_path / "j.sqlite").journal.close()
    source = JournalSource(tmp_path / "j.sqlite")
    with pytest.raises(ConfigError):
        dashboard_server(source, "0.0.0.0", 8940, None)
    with pytest.raises(ConfigError, match="at least 16"):
        dashboard_server(source, "0.0.0.0", 8940, "short")
    public = dashboard_server(source, "0.0.0.0", 0, TOKEN)
    assert public.sock is not None and public.sock.getsockname()[0] == "0.0.0.0"
    # a busy port is an ordinary OSError for the caller (never uvicorn's sys.exit)
    with pytest.raises(OSError):
        dashboard_server(source, "127.0.0.1", public.port, None)
    public.sock.close()


def test_token_from_a_private_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert load_token(None) is None
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert load_token(None) == TOKEN
    f = tmp_path / "token"
    f.write_text(TOKEN + "-file\n")
    os.chmod(f, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_token(f)
    os.chmod(f, 0o600)
    assert load_token(f) == TOKEN + "-file"
    monkeypatch.setenv(TOKEN_ENV, "tiny")
    with pytest.raises(ConfigError):
        load_token(None)


def test_codes_are_one_time_and_expire() -> None:
    now = [0.0]
    codes = Confirmations(ttl_s=30, clock=lambda: now[0])
    a, b = codes.arm(), codes.arm()
    assert a != b
    assert codes.confirm(a) and not codes.confirm(a)
    now[0] = 31.0
    assert not codes.confirm(b)
    assert not codes.confirm("")


def test_cli_refuses_a_public_bind_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    new_session(tmp_path / "j.sqlite").journal.close()
    args = ["nexus", "dashboard", "--journal", str(tmp_path / "j.sqlite"), "--host", "0.0.0.0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "refusing to start without a token" in result.output
    missing = ["nexus", "dashboard", "--journal", str(tmp_path / "none.sqlite")]
    result = CliRunner().invoke(app, missing)
    assert result.exit_code == 2 and "no journal" in result.output
