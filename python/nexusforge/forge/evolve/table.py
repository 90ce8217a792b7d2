"""The research table: bar features and MTFA of one candle series, its past return and the
forward return target, over the longest gap-free stretch of the series.

Row t holds what is known at bar t's close. `ret_h{h}` = log(close_t / close_{t-h}) is a
feature (known at t); `fwd_ret` = log(close_{t+h} / close_t) is the target and lies strictly
after every feature of row t (NaN for the last h rows). Never feed `fwd_ret` to a strategy.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.data.store import Store
from nexusforge.errors import DataError
from nexusforge.forge.backtest.run import (
    SECONDS_PER_YEAR,
    SeriesSpec,
    feature_table,
    funding_per_bar,
    load_candles,
)

log = logging.getLogger(__name__)
TARGET = "fwd_ret"
CLOSE_TS, CLOSE, FUNDING = "close_ts", "close", "funding"
RESERVED = (CLOSE_TS, CLOSE, FUNDING, TARGET)


@dataclass(frozen=True)
class ResearchTable:
    """Features, prices, funding and the forward-return target, one row per bar."""

    frame: pl.DataFrame
    bars_per_year: float
    horizon: int

    @property
    def features(self) -> tuple[str, ...]:
        """Columns a strategy may read (everything but time, prices, funding and the target)."""
        return tuple(c for c in self.frame.columns if c not in RESERVED)

    @property
    def close(self) -> npt.NDArray[np.float64]:
        """Bar closes."""
        return self.frame[CLOSE].to_numpy().astype(np.float64)

    @property
    def height(self) -> int:
        """Rows (bars)."""
        return self.frame.height

    def fingerprint(self) -> str:
        """SHA-256 over bar times and closes: what the data was, independent of the file."""
        h = hashlib.sha256()
        h.update(self.frame[CLOSE_TS].to_numpy().astype(np.int64).tobytes())
        h.update(self.frame[CLOSE].to_numpy().astype(np.float64).tobytes())
        return h.hexdigest()

    def write(self, path: Path) -> str:
        """Write the table as parquet (with its bars-per-year and horizon); returns its sha256."""
        meta = self.frame.with_columns(
            pl.lit(self.bars_per_year).alias("__bars_per_year"), pl.lit(self.horizon).alias("__h")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        meta.write_parquet(tmp, statistics=False)
        tmp.replace(path)
        return file_sha256(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: Path, sha256: str | None = None) -> ResearchTable:
    """Read a table written by `ResearchTable.write`, checking its hash when given."""
    if sha256 is not None and file_sha256(path) != sha256:
        raise DataError(f"research table {path} does not match its sha256")
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"cannot read research table {path}: {exc}") from exc
    missing = [c for c in (*RESERVED, "__bars_per_year", "__h") if c not in frame.columns]
    if missing:
        raise DataError(f"research table {path} lacks columns {missing}")
    bpy, h = float(frame["__bars_per_year"][0]), int(frame["__h"][0])
    return ResearchTable(frame.drop("__bars_per_year", "__h"), bpy, h)


def from_bars(
    close_ts: npt.ArrayLike,
    close: npt.ArrayLike,
    features: pl.DataFrame,
    *,
    bars_per_year: float,
    horizon: int = 1,
    funding: npt.ArrayLike | None = None,
) -> ResearchTable:
    """A research table from aligned arrays (features already free of look-ahead)."""
    if horizon < 1:
        raise DataError(f"horizon must be >= 1 bar, got {horizon}")
    px = np.ascontiguousarray(close, dtype=np.float64)
    if features.height != px.size or np.asarray(close_ts).size != px.size:
        raise DataError("close_ts, close and features must have one row per bar")
    if px.size <= horizon or not np.all(np.isfinite(px)) or np.any(px <= 0):
        raise DataError("close must hold more than `horizon` finite positive prices")
    clash = [c for c in features.columns if c in RESERVED]
    if clash:
        raise DataError(f"feature names {clash} are reserved")
    logp = np.log(px)
    past = np.full(px.size, np.nan)
    past[horizon:] = logp[horizon:] - logp[:-horizon]
    fwd = np.full(px.size, np.nan)
    fwd[:-horizon] = logp[horizon:] - logp[:-horizon]
    fund = np.zeros(px.size) if funding is None else np.asarray(funding, dtype=np.float64)
    frame = pl.DataFrame({CLOSE_TS: np.asarray(close_ts, dtype=np.int64), CLOSE: px, FUNDING: fund})
    frame = pl.concat([frame, features.cast(pl.Float64)], how="horizontal").with_columns(
        pl.Series(f"ret_h{horizon}", past), pl.Series(TARGET, fwd)
    )
    return ResearchTable(frame, bars_per_year, horizon)


def longest_run(close_ts: npt.NDArray[np.int64], step_ns: int) -> slice:
    """The longest stretch of rows whose close times advance by exactly one bar."""
    if close_ts.size == 0:
        return slice(0, 0)
    breaks = np.flatnonzero(np.diff(close_ts) != step_ns) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [close_ts.size]])
    best = int(np.argmax(ends - starts))
    return slice(int(starts[best]), int(ends[best]))


def load_research_table(store: Path, series: SeriesSpec, horizon: int = 1) -> ResearchTable:
    """The research table of one store series, cut to its longest gap-free stretch."""
    if not store.is_dir():
        raise DataError(f"store {store} is not a folder")
    st = Store(store)
    bars = load_candles(st, series)
    feats = feature_table(bars, series.interval_s).drop(CLOSE_TS)
    close_ts = bars[CLOSE_TS].to_numpy().astype(np.int64)
    funding, _ = funding_per_bar(st, series, close_ts)
    keep = longest_run(close_ts, series.interval_s * 1_000_000_000)
    if keep.stop - keep.start < close_ts.size:
        log.info("research table: rows %d..%d of %d (gaps)", keep.start, keep.stop, close_ts.size)
    return from_bars(
        close_ts[keep],
        bars[CLOSE].to_numpy()[keep],
        feats.slice(keep.start, keep.stop - keep.start),
        bars_per_year=SECONDS_PER_YEAR / series.interval_s,
        horizon=horizon,
        funding=funding[keep],
    )
