"""Challenger files: a strategy expression with its scores, validation results, data
fingerprint and origin, sealed by a SHA-256 over the canonical JSON of everything else.

A challenger file is data (contract 5): `loads` parses it without eval, checks the exact key
set, the schema, the sizes and the hash, and rebuilds the expression through the codec, which
checks it against the primitive registry and the limits. Any problem is an `ArtifactError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusforge.errors import ArtifactError, ExpressionError
from nexusforge.strategy import codec
from nexusforge.strategy.expr import Expr

KIND = "nexusforge.challenger"
SCHEMA = 1
MAX_BYTES = 2_000_000
_KEYS = {"kind", "schema", "expr", "head", "scores", "validation", "data", "origin", "sha256"}
NOT_VALIDATED = {"status": "not_validated", "gate": None}


@dataclass(frozen=True)
class Challenger:
    """One candidate strategy for the Pit Crew; `validation` says whether a gate passed it."""

    expr: Expr
    scores: dict[str, float | None]
    data: dict[str, str]
    origin: dict[str, Any]
    validation: dict[str, Any] = field(default_factory=lambda: dict(NOT_VALIDATED))
    head: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        """The JSON document without its hash."""
        return {
            "kind": KIND,
            "schema": SCHEMA,
            "expr": codec.to_dict(codec.loads(codec.dumps(self.expr))),
            "head": self.head,
            "scores": {k: _finite_or_none(v) for k, v in self.scores.items()},
            "validation": self.validation,
            "data": self.data,
            "origin": self.origin,
        }


def _finite_or_none(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _canonical(doc: dict[str, Any]) -> str:
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"challenger is not plain JSON data: {exc}") from exc


def dumps(ch: Challenger) -> str:
    """The file text: canonical JSON with the `sha256` of the rest."""
    body = ch.body()
    digest = hashlib.sha256(_canonical(body).encode()).hexdigest()
    return _canonical({**body, "sha256": digest})


def sha256_of(text: str | bytes) -> str:
    """The hash recorded inside a challenger file (after checking it)."""
    doc = _parse(text)
    return str(doc["sha256"])


def _reject_constant(name: str) -> float:
    raise ArtifactError(f"non-finite number {name} in challenger JSON")


def _parse(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_BYTES:
        raise ArtifactError(f"challenger file larger than {MAX_BYTES} bytes")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(f"challenger is not JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != _KEYS:
        got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ArtifactError(f"challenger keys must be {sorted(_KEYS)}, got {got}")
    if doc["kind"] != KIND or doc["schema"] != SCHEMA:
        raise ArtifactError(f"not a schema-{SCHEMA} challenger: {doc['kind']!r} {doc['schema']!r}")
    body = {k: v for k, v in doc.items() if k != "sha256"}
    if hashlib.sha256(_canonical(body).encode()).hexdigest() != doc["sha256"]:
        raise ArtifactError("challenger hash mismatch: the file was changed after it was written")
    return doc


def loads(text: str | bytes) -> Challenger:
    """Parse and check a challenger file's text."""
    doc = _parse(text)
    for key in ("scores", "validation", "data", "origin"):
        if not isinstance(doc[key], dict):
            raise ArtifactError(f"challenger {key} must be an object")
    if doc["head"] is not None and not isinstance(doc["head"], dict):
        raise ArtifactError("challenger head must be an object or null")
    if not all(v is None or isinstance(v, int | float) for v in doc["scores"].values()):
        raise ArtifactError("challenger scores must be numbers or null")
    if not all(isinstance(v, str) for v in doc["data"].values()):
        raise ArtifactError("challenger data fingerprint values must be strings")
    try:
        expr = codec.loads(json.dumps({"schema": codec.SCHEMA_VERSION, "expr": doc["expr"]}))
    except ExpressionError as exc:
        raise ArtifactError(f"challenger expression: {exc}") from exc
    return Challenger(expr, doc["scores"], doc["data"], doc["origin"], doc["validation"],
                      doc["head"])  # fmt: skip


def write(ch: Challenger, folder: Path) -> Path:
    """Write atomically as `challenger-<hash16>.json` in `folder` (temp file, then rename)."""
    text = dumps(ch)
    digest = json.loads(text)["sha256"]
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"challenger-{digest[:16]}.json"
    fd, tmp = tempfile.mkstemp(prefix=".challenger-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def read(path: Path) -> Challenger:
    """Read and check a challenger file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read challenger {path}: {exc.strerror}") from exc
    return loads(raw)
