"""Challenger files: written atomically, loaded back through the codec, hash checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexusforge.errors import ArtifactError
from nexusforge.strategy import artifact, loads
from nexusforge.strategy.expr import Call, Col, Const

EXPR = Call("sign", (Call("sub", (Call("ema", (Col("h1_ret"),), 12), Const(0.0))),))


def _challenger() -> artifact.Challenger:
    return artifact.Challenger(
        expr=EXPR, scores={"fitness": 0.42, "trade_sharpe": float("nan")},
        data={"fingerprint": "ab" * 32}, origin={"run": "r1", "seed": 7},
    )  # fmt: skip


def test_round_trip_and_not_validated_mark(tmp_path: Path) -> None:
    path = artifact.write(_challenger(), tmp_path)
    back = artifact.read(path)
    assert back.expr == EXPR and back.scores == {"fitness": 0.42, "trade_sharpe": None}
    assert back.validation == {"status": "not_validated", "gate": None}
    assert path.name == f"challenger-{artifact.sha256_of(path.read_text())[:16]}.json"
    assert not list(tmp_path.glob(".*"))


def test_any_change_fails_the_hash(tmp_path: Path) -> None:
    text = artifact.write(_challenger(), tmp_path).read_text()
    doc = json.loads(text)
    doc["scores"]["fitness"] = 9.0
    with pytest.raises(ArtifactError, match="hash mismatch"):
        artifact.loads(json.dumps(doc))
    doc = json.loads(text)
    doc["expr"]["op"] = "neg"
    with pytest.raises(ArtifactError, match="hash mismatch"):
        artifact.loads(json.dumps(doc))


def test_malformed_files_are_refused() -> None:
    good = json.loads(artifact.dumps(_challenger()))
    with pytest.raises(ArtifactError, match="not JSON"):
        artifact.loads("{")
    with pytest.raises(ArtifactError, match="non-finite"):
        artifact.loads('{"x": NaN}')
    with pytest.raises(ArtifactError, match="keys must be"):
        artifact.loads(json.dumps({**good, "extra": 1}))
    bad_expr = {**good, "expr": {"op": "exec", "args": []}}
    body = {k: v for k, v in bad_expr.items() if k != "sha256"}
    bad_expr["sha256"] = artifact.hashlib.sha256(artifact._canonical(body).encode()).hexdigest()
    with pytest.raises(ArtifactError, match="unknown primitive 'exec'"):
        artifact.loads(json.dumps(bad_expr))


def test_expression_json_matches_the_codec() -> None:
    doc = json.loads(artifact.dumps(_challenger()))
    assert loads(json.dumps({"schema": 1, "expr": doc["expr"]})) == EXPR
