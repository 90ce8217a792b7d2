"""The run manifest (contract 6): inputs with their hashes, seed, versions and config, written
beside the results so a run can be checked and repeated."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PACKAGES = ("nexusforge", "numpy", "polars", "deap", "tigramite", "lightgbm", "msgspec",
            "distributed", "matplotlib")  # fmt: skip


@dataclass(frozen=True)
class InputFile:
    """One input of the run: its role, path and SHA-256."""

    role: str
    path: str
    sha256: str


def code_revision(root: Path | None = None) -> str:
    """The git commit of the checkout the package runs from (read from `.git`, no
    subprocess), or "unknown" outside a plain git checkout."""
    git = (root or Path(__file__).resolve().parents[4]) / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"
    if not head.startswith("ref: "):
        return head
    ref = head.removeprefix("ref: ")
    try:
        return (git / ref).read_text(encoding="utf-8").strip()
    except OSError:
        pass
    try:
        packed = (git / "packed-refs").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    return next((line.split()[0] for line in packed if line.endswith(f" {ref}")), "unknown")


def versions() -> dict[str, str]:
    """Python, platform, the code revision and the versions of the packages a result uses."""
    out = {"python": sys.version.split()[0], "platform": platform.platform(),
           "code_revision": code_revision()}  # fmt: skip
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def build(
    *, seed: int, config: dict[str, Any], inputs: list[InputFile], status: str, **extra: Any
) -> dict[str, Any]:
    """The manifest document."""
    return {
        "kind": "nexusforge.forge.run",
        "status": status,
        "seed": seed,
        "written_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "inputs": [vars(i) for i in inputs],
        "config": config,
        **extra,
    }


def write_json(path: Path, doc: Any) -> Path:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, allow_nan=False, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
