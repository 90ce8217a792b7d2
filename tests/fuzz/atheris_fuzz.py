"""Coverage-guided fuzzing (atheris / libFuzzer) of the byte-level parsers of venue data: the
Bybit v5 public message reader (JSON envelope, trades, tickers, klines, the Rust book parser), the
private execution message parser, and the line parsers of the v2 and Binance captures.

    python tests/fuzz/atheris_fuzz.py TARGET CORPUS_DIR [libFuzzer flags]
    e.g. python tests/fuzz/atheris_fuzz.py bybit-ws /tmp/corpus -runs=1000000

CORPUS_DIR is seeded with real recordings from shared/data when empty. An exception other than
the target's documented ones is a crash: atheris prints it, writes the input, exits non-zero.
`test_atheris.py` runs every target for a small fixed budget in CI.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["nexusforge"]):
    from nexusforge.data.readers._messages import ndjson_batch
    from nexusforge.data.readers.binance_usdm import read_binance_capture
    from nexusforge.data.readers.bybit_v2 import read_bybit_v2
    from nexusforge.data.readers.bybit_ws import read_bybit_batch
    from nexusforge.errors import DataError, MalformedMessageError
    from nexusforge.nexus.executions import parse_ws_message

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SCRATCH = Path(tempfile.mkdtemp(prefix="nexusforge-atheris-"))


def _bybit_ws(data: bytes) -> None:
    with contextlib.suppress(DataError):
        read_bybit_batch(ndjson_batch(data), "atheris")


def _bybit_execution(data: bytes) -> None:
    with contextlib.suppress(MalformedMessageError):
        parse_ws_message(data)


def _file_reader(name: str, read: Callable[[Path, bytes], object]) -> Callable[[bytes], None]:
    path = SCRATCH / name

    def target(data: bytes) -> None:
        path.write_bytes(data)
        with contextlib.suppress(DataError):
            read(path, data[:4096])

    return target


TARGETS: dict[str, Callable[[bytes], None]] = {
    "bybit-ws": _bybit_ws,
    "bybit-execution": _bybit_execution,
    "bybit-v2": _file_reader("capture.txt", read_bybit_v2),
    "binance": _file_reader("capture.txt", read_binance_capture),
}


def seeds(target: str) -> list[bytes]:
    """Real recordings for the target (a few lines each, small inputs fuzz faster)."""
    market = SHARED / "bybit" / "market"
    if target == "bybit-ws":
        return [p.read_bytes().replace(b"\n", b"") for p in (SHARED / "bybit/ws_public").glob("*")]
    if target == "bybit-execution":
        return [p.read_bytes() for p in (SHARED / "bybit/ws_private").glob("*execution*.json")]
    if target == "bybit-v2":
        with (market / "bybit_legacy_v2_linear_ws_20210417.txt").open("rb") as f:
            lines = f.readlines()[:12]
        return [b"".join(lines[i : i + 3]) for i in range(0, len(lines), 3)]
    import gzip

    with gzip.open(market / "binance_usdm_BTCUSDT_20240808_2355utc.gz") as g:
        lines = g.readlines()[:8]
    return [b"".join(lines[i : i + 2]) for i in range(0, len(lines), 2)]


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in TARGETS:
        raise SystemExit(f"usage: atheris_fuzz.py {{{','.join(TARGETS)}}} CORPUS_DIR [flags]")
    target, corpus = sys.argv[1], Path(sys.argv[2])
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i, seed in enumerate(seeds(target)):
            (corpus / f"seed-{i}").write_bytes(seed)
    logging.disable(logging.CRITICAL)  # skipped lines log warnings by design
    atheris.Setup([sys.argv[0], str(corpus), *sys.argv[3:]], TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
