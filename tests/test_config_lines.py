"""Every config loader names the file and the line of a bad key (`FILE, line N: …`): forge,
gate, simulator and exchange configs (the engine's has its own tests), for a wrong type, an
unknown key, a missing value and an out-of-range value caught by the type's own check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.run import load_config as load_forge
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.validate.config import load_gate_config
from nexusforge.nexus.config_locate import key_line, message_key, msgspec_message
from nexusforge.nexus.venues.local.config import ExchangeConfig

LOADERS: dict[str, Callable[[Path], Any]] = {
    "forge": load_forge,
    "gate": load_gate_config,
    "simulator": SimConfig.from_toml,
    "exchange": ExchangeConfig.from_toml,
}
MARK = "# <- bad"  # the line each case expects the error to name

CASES = [
    ("forge", '# a forge run\nseed = 3\n[gp]\ngenerations = 2\npopulation = "many"  # <- bad\n',
     "gp.population: Expected `int`, got `str`"),
    ("forge", "[gp]\ngenerations = 2\npopsize = 3  # <- bad\n[fitness]\nfolds = 2\n",
     "gp.popsize: unknown field"),
    ("forge", "[data]\nsymbol = 'BTCUSDT'\nmax_rows = 10  # <- bad\n",
     "data: max_rows must be >= 1000"),
    ("forge", "seed = 1\n\nchallengers = 500  # <- bad\n", "challengers must be in 0..100"),
    ("forge", "[eval]\nbackend = 'local'\n[causal]\ntest = 'kendall'  # <- bad\n",
     "causal: test must be one of"),
    ("gate", "min_dsr = 0.9\nnulls = 0  # <- bad\n", "nulls must be in 1..10000"),
    ("gate", "nulls = 2\n[refute]\nrows = 500\nsimulations = 'two'  # <- bad\n",
     "refute.simulations: Expected `int`"),
    ("gate", "[refute]\nrows = 500\n[walk_forward]\nscheme = 'rolling'\nin_sample = 5  # <- bad\n",
     "walk_forward: in_sample must be >= 100 bars"),
    ("gate", "nulls = 2\nbogus = true  # <- bad\n[refute]\nrows = 500\n", "bogus: unknown field"),
    ("simulator", "duration_s = 60.0\n[agents.noise]\ncount = 2\nrate = 'x'  # <- bad\n",
     "agents.noise.rate must be a number"),
    ("simulator", "[agents.noise]\ncount = 2\nrat = 1.0  # <- bad\n",
     "unknown key 'agents.noise.rat'"),
    ("simulator", "seed = 4\nduration_s = -1.0  # <- bad\n", "duration_s must be > 0"),
    ("simulator", "[agents.noise]\ncount = 1\n[agents.nois]  # <- bad\ncount = 1\n",
     "unknown agent type 'nois'"),
    ("simulator", "scenario = 3  # <- bad\n", "scenario must be a scenario name"),
    ("exchange", '[exchange]\nmode = "replay"\nport = "abc"  # <- bad\n',
     "exchange.port: expected an integer, got 'abc'"),
    ("exchange", "[exchange]\nport = 70000  # <- bad\n", "exchange.port must be in [0, 65535]"),
    ("exchange", "[exchange]\nport = 0\n[replay]\nloop = true\nspeed = -1.0  # <- bad\n",
     "replay.speed must be finite and >= 0"),
    ("exchange", '[[keys]]\nkey = "a"\nsecret = "s"\n[[keys]]  # <- bad\nkey = "b"\n',
     "keys[1].secret: missing"),
    ("exchange", "[instruments.BTCUSDT]\nqty_step = 0.001\ntick_size = 'x'  # <- bad\n",
     "instruments.BTCUSDT: tick_size must be a number"),
    ("exchange", "[rate_limits]\norder_write = 10\nbogus = 1  # <- bad\n",
     "rate_limits.bogus: unknown key"),
    ("exchange", "[rate_limits]\norder_read = 0  # <- bad\n",
     "rate_limits.order_read must be an int >= 1"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "text", "message"), CASES)
def test_a_bad_key_is_named_with_its_line(
    tmp_path: Path, what: str, text: str, message: str
) -> None:
    path = tmp_path / f"{what}.toml"
    path.write_text(text)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if s.endswith(MARK))
    with pytest.raises(ConfigError) as err:
        LOADERS[what](path)
    assert str(err.value).startswith(f"{path}, line {line}: "), str(err.value)
    assert message in str(err.value)


def test_a_secret_never_appears_in_an_error(tmp_path: Path) -> None:
    path = tmp_path / "exchange.toml"
    path.write_text('[[keys]]\nkey = "k"\nsecret = "hunter2"\n[exchange]\nleverage = "x"\n')
    with pytest.raises(ConfigError, match=r"line 5: exchange.leverage: expected a number") as err:
        ExchangeConfig.from_toml(path)
    assert "hunter2" not in str(err.value)


def test_key_line_follows_dotted_tables_arrays_and_inline_tables() -> None:
    text = (
        "top = 1\n[agents.noise]\nrate = 2\nlatency = { order_us = 5 }\n[agents.hft]\n"
        "count = 1\n[[keys]]\nkey = 'a'\n[[keys]]\nkey = 'b'\n[gp]\nmax.depth = 3\n"
    )
    assert key_line(text, "agents.noise.rate") == 3
    assert key_line(text, "agents.noise.latency.order_us") == 4  # inside an inline table
    assert key_line(text, "agents.noise.size") == 2  # not written: its table's header
    assert key_line(text, "agents.hft") == 5
    assert key_line(text, "agents.momentum.count") is None  # neither the key nor its table
    assert key_line(text, "keys[1].key") == 10 and key_line(text, "keys[0]") == 7
    assert key_line(text, "gp.max.depth") == 12  # a dotted key inside a table
    assert key_line(text, "top") == 1


def test_messages_name_their_key() -> None:
    assert message_key("gp.population: Expected `int`") == "gp.population"
    assert message_key("unknown key 'agents.noise.rat'; known here: rate") == "agents.noise.rat"
    assert message_key("duration_s must be > 0 (got -1)") == "duration_s"
    assert message_key("unknown agent type 'nois'; known: hft") == "agents.nois"
    assert message_key("need 0 < keep <= 1") is None
    assert msgspec_message("Object contains unknown field `x` - at `$.gp`") == "gp.x: unknown field"
    assert msgspec_message("Object contains unknown field `x`") == "x: unknown field"
    assert msgspec_message("Expected `int`, got `str` - at `$.models[2].n`") == (
        "models[2].n: Expected `int`, got `str`"
    )
    assert msgspec_message("Object missing required field `a` - at `$.refute`") == (
        "refute.a: missing required field"
    )
    assert msgspec_message("whole document bad") == "whole document bad"
