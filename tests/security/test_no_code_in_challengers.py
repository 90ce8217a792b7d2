"""Challenger and strategy files are data: code, pickle and oversized payloads are refused by the
codec with its own error, and nothing they name is ever run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexusforge.errors import ArtifactError, ExpressionError
from nexusforge.strategy import artifact, codec

# Bytes only: never unpickled here or anywhere (a protocol-0 pickle calling os.system).
PICKLE = b"cos\nsystem\n(S'touch {marker}'\ntR."


def payloads(marker: Path) -> list[bytes]:
    deep = '{"op": "neg", "args": [' * 500 + '{"col": "imb_1"}' + "]}" * 500
    return [
        PICKLE.replace(b"{marker}", str(marker).encode()),
        f"__import__('os').system('touch {marker}')".encode(),
        json.dumps({"schema": 1, "expr": {"op": "__import__", "args": [{"const": 1.0}]}}).encode(),
        json.dumps({"schema": 1, "expr": {"op": "eval", "args": [{"col": "imb_1"}]}}).encode(),
        ('{"schema": 1, "expr": ' + deep + "}").encode(),
        b'{"schema": 1, "expr": {"const": NaN}}',
        b"!!python/object/apply:os.system ['touch x']",
        b"{" * 100_000,
    ]


def test_strategy_codec_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    for blob in payloads(marker):
        with pytest.raises(ExpressionError):
            codec.loads(blob)
    assert not marker.exists()


def test_challenger_files_refuse_code(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    for i, blob in enumerate(payloads(marker)):
        path = tmp_path / f"bad{i}.json"
        path.write_bytes(blob)
        with pytest.raises(ArtifactError):
            artifact.read(path)
    assert not marker.exists()
