"""Challenger intake: poll a folder, admit only complete, sealed, validated challenger files.

A file is read only when its (size, mtime) was the same on two polls in a row, and it is
re-checked after reading: a file still being written (or rewritten while read) waits for a
later poll. Each file is then parsed as data (`strategy.artifact.loads`: exact keys, sha256,
codec limits, primitive registry — contract 5) and must carry a validation gate's pass
(`validation.status == "validated"`, `validation.gate.passed is true`). An admitted file moves
to `accepted/`; a bad one moves to `rejected/` beside a `<name>.reason.json` saying why. With the
engine's columns known, a file must read only those; it may not mix bar features (one row per
bar, as Forge's research table) with tick features, and one evolved on another bar length
(`data.series` `...:300s`) than the engine builds is refused: its windows would count other
bars. With the engine's symbol known, one evolved on another symbol (`data.series`
`venue:ETHUSDT:300s` in a BTCUSDT engine) is refused too: its edge and its validation are
another market's (the venue may differ: Binance spot BTCUSDT research runs on Bybit BTCUSDT).
One reading VWAP features built on another turnover than the engine's (`data.turnover`:
estimated from volume x typical price, or recorded) is refused: its VWAP is another number.
Nothing here raises on bad input: every problem is a rejection, counted and logged.
Hidden files and `*.tmp` (atomic writers' temporaries) are never read.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nexusforge.errors import ArtifactError
from nexusforge.nexus.bar_feed import CLOCK_KEYS, is_bar_column, mixes_clocks
from nexusforge.nexus.live_head import live_head
from nexusforge.strategy import artifact
from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.expr import columns as expr_columns

log = logging.getLogger(__name__)
ACCEPTED = "accepted"
REJECTED = "rejected"
_SERIES_INTERVAL = re.compile(r":(\d+)s$")  # Forge's `data.series`: venue:symbol:300s
VWAP_SUFFIX = "vwap_dev_bps"  # the bar features built on turnover (`market/mtfa.py`)
_SERIES_SYMBOL = re.compile(r"^[^:]+:([^:]+):\d+s$")
_BASE_RET = re.compile(r"^([smhd])(\d+)_ret$")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


@dataclass(frozen=True, slots=True)
class Admitted:
    """A challenger that passed intake: its file (now under accepted/), hash and content."""

    path: Path
    sha256: str
    challenger: Challenger


@dataclass(frozen=True, slots=True)
class Rejection:
    """A file moved aside, and why."""

    path: Path
    reason: str


@dataclass
class Intake:
    """Polls `folder` for challenger files (call `poll` every second or so)."""

    folder: Path
    require_gate: bool = True
    columns: frozenset[str] | None = None  # feature columns the engine has (None: not checked)
    symbol: str | None = None  # the symbol the engine trades (None: not checked)
    turnover: str | None = None  # how the engine's VWAP turnover is had (None: not checked)
    seen_hashes: set[str] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    _pending: dict[Path, tuple[int, int]] = field(default_factory=dict, init=False)

    def poll(self) -> list[Admitted]:
        """One pass over the folder: files that became stable are judged; admitted ones back."""
        if not self.folder.is_dir():
            return []
        out = []
        present = set()
        for path in _candidates(self.folder):
            present.add(path)
            admitted = self._consider(path)
            if admitted is not None:
                out.append(admitted)
        for gone in set(self._pending) - present:
            del self._pending[gone]
        return out

    def _consider(self, path: Path) -> Admitted | None:
        stamp = _stamp(path)
        if stamp is None:
            return None
        if self._pending.get(path) != stamp:
            self._pending[path] = stamp  # first sight or still changing: look again next poll
            return None
        if stamp[0] > artifact.MAX_BYTES:
            self._reject(path, f"file larger than {artifact.MAX_BYTES} bytes")
            return None
        try:
            raw = path.read_bytes()
        except OSError as exc:
            log.warning("challenger %s unreadable now: %s", path.name, exc.strerror)
            return None
        if _stamp(path) != stamp or len(raw) != stamp[0]:
            self._pending[path] = _stamp(path) or stamp  # written while read: wait until quiet
            return None
        del self._pending[path]
        return self._judge(path, raw)

    def _judge(self, path: Path, raw: bytes) -> Admitted | None:
        try:
            ch = artifact.loads(raw)
            digest = artifact.sha256_of(raw)
        except ArtifactError as exc:
            self._reject(path, str(exc))
            return None
        except RecursionError:  # nesting deep enough to defeat the parser's own guard
            self._reject(path, "challenger nested too deeply to parse")
            return None
        problem = self._problem(ch, digest)
        if problem is not None:
            self._reject(path, problem)
            return None
        self.seen_hashes.add(digest)
        dest = _move(path, self.folder / ACCEPTED)
        log.info("challenger %s admitted (%s)", path.name, digest[:16])
        return Admitted(dest, digest, ch)

    def _problem(self, ch: Challenger, digest: str) -> str | None:
        if digest in self.seen_hashes:
            return f"duplicate of a challenger already admitted ({digest[:16]})"
        if self.require_gate:
            v = ch.validation
            gate = v.get("gate")
            if v.get("status") != "validated" or not isinstance(gate, dict):
                return f"not validated by the gate (status {v.get('status')!r})"
            if gate.get("passed") is not True:
                return f"the validation gate did not pass it (failed: {gate.get('failed')!r})"
        series = ch.data.get("series", "")
        if self.symbol is not None and (problem := _symbol_problem(series, self.symbol)):
            return problem
        try:  # a MAML head must parse, and its regime features count as columns read
            head = live_head(ch)
        except ValueError as exc:
            return f"bad head: {exc}"
        reads = set(expr_columns(ch.expr)) | set(head.features if head is not None else ())
        if self.turnover is not None and (
            problem := _turnover_problem(reads, ch.data.get("turnover"), self.turnover)
        ):
            return problem
        if self.columns is not None:
            return _column_problem(reads, self.columns, series)
        return None

    def _reject(self, path: Path, reason: str) -> None:
        dest = _move(path, self.folder / REJECTED)
        note = dest.with_name(dest.name + ".reason.json")
        note.write_text(json.dumps({"file": path.name, "reason": reason}, indent=1) + "\n")
        self.rejections.append(Rejection(dest, reason))
        log.warning("challenger %s rejected: %s", path.name, reason)


def _column_problem(reads: set[str], have: frozenset[str], series: str) -> str | None:
    """Why the engine cannot run a strategy reading `reads` (None: it can)."""
    clock = sorted(reads & CLOCK_KEYS)
    if clock:
        return f"reads the engine's bar clock {clock}, which is not a feature"
    missing = sorted(reads - have)
    if missing:
        return f"reads feature columns the engine does not have: {missing}"
    if mixes_clocks(reads):
        bars = sorted(c for c in reads if is_bar_column(c))
        ticks = sorted(c for c in reads if not is_bar_column(c))
        return f"mixes bar features {bars} with tick features {ticks}: no research table has both"
    evolved = _SERIES_INTERVAL.search(series)
    base = _base_interval_s(have)
    on_bars = any(map(is_bar_column, reads))
    if on_bars and evolved is not None and base is not None and int(evolved[1]) != base:
        return f"evolved on {evolved[1]} s bars ({series}); the engine builds {base} s bars"
    return None


def _symbol_problem(series: str, symbol: str) -> str | None:
    """Why a strategy evolved on `series` may not trade `symbol` (None: it may, or no symbol)."""
    found = _SERIES_SYMBOL.match(series)
    if found is None or found[1].upper() == symbol.upper():
        return None
    return f"evolved on {found[1]} ({series}); this engine trades {symbol}"


def _turnover_problem(reads: set[str], evolved: str | None, engine: str) -> str | None:
    """Why VWAP features evolved on `evolved` turnover differ in an engine using `engine`."""
    vwap = sorted(c for c in reads if c.endswith(VWAP_SUFFIX))
    if not vwap or evolved is None or evolved == engine:
        return None
    return (f"reads {vwap} evolved on {evolved} turnover; this engine's is {engine} "
            f"(engine.bar_turnover = \"{evolved}\" computes them as research did)")  # fmt: skip


def _base_interval_s(have: frozenset[str]) -> int | None:
    """The engine's base bar length: its shortest timeframe with a `_ret` column."""
    found = [int(m[2]) * _UNIT_S[m[1]] for c in have if (m := _BASE_RET.match(c))]
    return min(found) if found else None


def _candidates(folder: Path) -> Iterable[Path]:
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if name.startswith(".") or name.endswith(".tmp") or not entry.is_file():
            continue
        yield entry


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _move(path: Path, folder: Path) -> Path:
    """Moves a file into `folder`, never overwriting (a numeric suffix when the name is taken)."""
    folder.mkdir(exist_ok=True)
    dest, n = folder / path.name, 1
    while dest.exists():
        dest, n = folder / f"{path.stem}.{n}{path.suffix}", n + 1
    os.replace(path, dest)
    return dest
