"""`nexusforge exchange serve` as a real process, and the TOML config it reads."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from localx import XRP

from nexusforge.errors import ConfigError
from nexusforge.nexus.venues.local import ExchangeConfig


def write_config(tmp_path: Path, shared_data: Path, extra: str = "") -> Path:
    path = tmp_path / "exchange.toml"
    path.write_text(
        f"""
[exchange]
initial_balance = "2500.5"
leverage = 5
fee_tier = "VIP1"

[[keys]]
key = "k1"
secret = "s1"

[rate_limits]
order_write = 3

[replay]
files = ["{shared_data / XRP}"]
speed = 0
start_paused = true

[instruments.XRPUSDT]
tick_size = "0.0001"
qty_step = "1"
min_notional = "1"
{extra}"""
    )
    return path


def test_toml_config(tmp_path: Path, shared_data: Path) -> None:
    cfg = ExchangeConfig.from_toml(write_config(tmp_path, shared_data))
    assert cfg.initial_balance == Decimal("2500.5") and cfg.leverage == Decimal(5)
    assert cfg.fee_rates == (Decimal("0.00018"), Decimal("0.0004"))
    assert cfg.rate_limits.order_write == 3 and cfg.speed == 0 and cfg.start_paused
    assert cfg.instruments["XRPUSDT"].min_notional == Decimal(1)
    assert cfg.secret_for("k1") is not None and "s1" not in repr(cfg)


@pytest.mark.parametrize(
    "bad",
    [
        {"exchange": {"mode": "paper"}},
        {"exchange": {"host": "0.0.0.0"}},
        {"exchange": {"leverage": "0"}},
        {"exchange": {"fee_tier": "VIP9"}},
        {"rate_limits": {"order_write": 0}},
        {"keys": [{"key": "a", "secret": "x"}, {"key": "a", "secret": "y"}]},
        {"keys": [{"key": "a"}]},
        {"instruments": {"XRPUSDT": {"tick_size": "0"}}},
        {"replay": {"speed": "fast"}},
    ],
)
def test_bad_config_is_a_config_error(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ExchangeConfig.from_dict(bad)


def test_serve_process_answers_then_stops(tmp_path: Path, shared_data: Path) -> None:
    cfg = write_config(tmp_path, shared_data)
    cmd = [sys.executable, "-m", "nexusforge.cli", "exchange", "serve", "--port", "0",
           "--config", str(cfg), "--duration", "2"]  # fmt: skip
    env = os.environ | {"NO_PROXY": "127.0.0.1"}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("REST"), first + (proc.stderr.read() if proc.stderr else "")
        url = first.split()[-1]
        reply = httpx.get(f"{url}/v5/market/instruments-info?category=linear").json()
        assert [i["symbol"] for i in reply["result"]["list"]] == ["XRPUSDT"]
        out = first + proc.stdout.read()  # until the process closes it on exit
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert "api keys: k1" in out and "served 1 REST requests" in out and "s1" not in out


def test_serve_sim_mode(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "nexusforge.cli", "exchange", "serve", "--mode", "sim",
           "--port", "0", "--duration", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "mode sim; symbols BTCUSDT" in done.stdout


def test_serve_refuses_an_unknown_mode() -> None:
    cmd = [sys.executable, "-m", "nexusforge.cli", "exchange", "serve", "--mode", "paper"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "replay or sim" in done.stderr
