"""Engine config: defaults (six champions), TOML overrides, the bad key named; durations."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import pytest

from nexusforge.errors import ConfigError
from nexusforge.nexus.config import EngineConfig, from_dict, load_config
from nexusforge.nexus.engine import load_model_strategy
from nexusforge.nexus.model import champion_names
from nexusforge.nexus.run import parse_duration


def test_defaults_trade_the_six_champions_on_the_local_exchange() -> None:
    cfg = load_config(None)
    assert [m.name for m in cfg.models] == champion_names() and len(cfg.models) == 6
    assert cfg.venue.kind == "local" and cfg.journal_synchronous == "FULL"
    for spec in cfg.models:
        load_model_strategy(spec)  # every bundled champion loads through the codec


def test_toml_overrides_and_paths_resolve_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").write_text(
        '[engine]\nsymbol = "ETHUSDT"\ncapital = "2500.5"\njournal = "j.sqlite"\n'
        'kill_file = "stop"\n[venue]\nkind = "custom"\nport = 9000\n'
        '[[models]]\nname = "a"\nstrategy = "champion:ofi_momentum"\n'
    )
    cfg = load_config(tmp_path / "cfg.toml")
    assert cfg.symbol == "ETHUSDT" and cfg.capital == Decimal("2500.5")
    assert cfg.journal == tmp_path / "j.sqlite" and cfg.kill_file == str(tmp_path / "stop")
    assert cfg.venue.port == 9000 and [m.name for m in cfg.models] == ["a"]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"engine": {"symbl": "X"}}, "engine.symbl"),
        ({"engin": {}}, "engin"),
        ({"engine": {"capital": "abc"}}, "engine.capital"),
        ({"engine": {"capital": -1}}, "engine.capital"),
        ({"engine": {"round_interval_s": "1"}}, "engine.round_interval_s"),
        ({"engine": {"orderbook_depth": 7}}, "engine.orderbook_depth"),
        ({"engine": {"journal_synchronous": "OFF"}}, "engine.journal_synchronous"),
        ({"venue": {"kind": "binance"}}, "venue.kind"),
        ({"venue": {"port": "80"}}, "venue.port"),
        ({"local": {"replay_files": "x"}}, "local.replay_files"),
        ({"models": [{"name": "a", "strat": "x"}]}, "models[0].strat"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "models.name"),
        ({"models": []}, "models"),
    ],
)
def test_bad_values_name_their_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        from_dict(raw)


def test_bad_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[engine\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_durations() -> None:
    assert parse_duration("90") == 90 and parse_duration("90s") == 90
    assert parse_duration("10m") == 600 and parse_duration("2h") == 7200
    for bad in ("", "m", "-5s", "0", "ten", "infh"):
        with pytest.raises(ConfigError):
            parse_duration(bad)


def test_config_is_frozen_and_validated_on_construction() -> None:
    with pytest.raises(ConfigError, match=r"engine\.max_position"):
        EngineConfig(max_position=Decimal(0))


def test_local_venue_sets_an_old_journal_aside(tmp_path: Path) -> None:
    from nexusforge.nexus.run import set_aside_journal

    journal = tmp_path / "j.sqlite"
    assert set_aside_journal(journal) is None
    journal.write_bytes(b"old")
    (tmp_path / "j.sqlite-wal").write_bytes(b"wal")
    moved = set_aside_journal(journal)
    assert moved is not None and moved.read_bytes() == b"old"
    assert Path(f"{moved}-wal").read_bytes() == b"wal"
    assert not journal.exists() and not (tmp_path / "j.sqlite-wal").exists()


def test_example_file_lists_every_key_with_its_default() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "nexus.toml"
    cfg = load_config(example)
    here = example.parent
    want = dataclasses.replace(
        EngineConfig(),
        journal=here / EngineConfig().journal,
        kill_file=str(here / EngineConfig().kill_file),
    )
    assert cfg == want
