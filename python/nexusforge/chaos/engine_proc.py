"""The engine as a real child process (`nexusforge nexus run`), so a fault can be `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

#: `nexusforge nexus run` exit codes of a clean stop: 0 reconciled, 3 the venue could not be
#: read at the stop (an outage; the next start reconciles). Anything else is a crash.
CLEAN_EXITS = (0, 3)
VENUE_UNREAD = 3

# Six strategies on short windows so they trade within seconds of a (re)start; two lean
# against each other so internal crosses happen too.
STRATEGIES: dict[str, dict[str, object]] = {
    "imb_fast": {"op": "clip", "args": [{"op": "mul", "args": [
        {"op": "ema", "args": [{"col": "imb_1"}], "k": 3}, {"const": 2.0}]}],
        "params": [-1.0, 1.0]},
    "imb_mid": {"op": "clip", "args": [{"op": "ema", "args": [{"col": "imb_5"}], "k": 5}],
                "params": [-1.0, 1.0]},
    "imb_deep": {"op": "clip", "args": [{"col": "imb_10"}], "params": [-1.0, 1.0]},
    "contra": {"op": "neg", "args": [{"op": "clip", "args": [{"col": "imb_1"}],
                                      "params": [-1.0, 1.0]}]},
    "micro": {"op": "tanh", "args": [{"op": "ema", "args": [{"col": "microprice_dev_bps"}],
                                      "k": 4}]},
    "flow": {"op": "tanh", "args": [{"col": "ofi_1s"}]},
}  # fmt: skip


def write_engine_config(folder: Path, port: int, symbol: str, kill_fraction: str) -> Path:
    """An engine TOML for the exchange on `port` with the six chaos models."""
    lines = ["[engine]", f'symbol = "{symbol}"', 'journal = "journal.sqlite"',
             "round_interval_s = 0.2", 'capital = "10000"', 'kill_file = "kill.now"',
             f'kill_fraction = "{kill_fraction}"', "check_interval_s = 0.5",
             "[venue]", 'kind = "custom"', f"port = {port}"]  # fmt: skip
    for name, expr in STRATEGIES.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"schema": 1, "expr": expr}))
        lines += ["[[models]]", f'name = "{name}"', f'strategy = "{path}"']
    cfg = folder / "engine.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


class EngineProcess:
    """One engine incarnation; its output appended to `log_path`."""

    def __init__(
        self, cfg: Path, log_path: Path, key: str, secret: str, log_level: str = "WARNING"
    ) -> None:
        env = os.environ | {"NEXUSFORGE_BYBIT_API_KEY": key, "NEXUSFORGE_BYBIT_API_SECRET": secret}
        # dashboard on any free port: runs side by side never fight over 8940
        cmd = [sys.executable, "-m", "nexusforge.cli", "nexus", "run", "--config", str(cfg),
               "--duration", "24h", "--log-level", log_level, "--dashboard-port", "0"]  # fmt: skip
        self._log: IO[bytes] = log_path.open("ab")
        # our own interpreter and arguments, no shell
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL: no cleanup, whatever was in flight stays in flight."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (a clean stop) and the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=30)
        self._log.close()
        return code
