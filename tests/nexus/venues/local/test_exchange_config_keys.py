"""The local exchange config refuses keys it does not know: a misspelt one would silently keep
its default (a replay that does not loop, a port that is not the one asked for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusforge.errors import ConfigError
from nexusforge.nexus.venues.local import ExchangeConfig


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"exchnage": {}}, "exchnage"),
        ({"exchange": {"prot": 1}}, "exchange.prot"),
        ({"replay": {"sped": 2.0}}, "replay.sped"),
        ({"keys": [{"key": "k", "secret": "s3cr3t-value", "label": "x"}]}, "keys[0].label"),
        ({"instruments": {"BTCUSDT": {"tick_size": 0.1, "qty_step": 0.001, "tik": 1}}},
         "instruments.BTCUSDT.tik"),
        ({"rate_limits": {"order_writes": 5}}, "rate_limits.order_writes"),
        ({"replay": {"loop": "no"}}, "replay.loop"),
        ({"replay": 3}, "replay"),
    ],
)  # fmt: skip
def test_unknown_or_mistyped_keys_are_named(raw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        ExchangeConfig.from_dict(raw, Path("."))
    assert str(err.value).startswith(named), str(err.value)
    assert "s3cr3t-value" not in str(err.value)


def test_known_keys_load() -> None:
    cfg = ExchangeConfig.from_dict(
        {
            "exchange": {"port": 0, "fee_tier": "VIP0"},
            "replay": {"speed": 0.0, "loop": False, "start_paused": True},
            "keys": [{"key": "k", "secret": "s"}],
        },
        Path("."),
    )
    assert (cfg.loop, cfg.start_paused, cfg.speed) == (False, True, 0.0)
