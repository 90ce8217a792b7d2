"""`make audit`: pip-audit over the venv and cargo audit over rust/Cargo.lock, each skipped with a
message (exit 0) when its tool or advisory database cannot be reached; exit 1 on a finding.
NEXUSFORGE_ADVISORY_DB=<clone of RustSec/advisory-db> audits the crates offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pip_audit() -> int:
    tool = Path(sys.executable).with_name("pip-audit")
    if not tool.exists():
        print("pip-audit: not installed (pip install -e '.[dev]'): skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        cmd = [str(tool), "--skip-editable", "--progress-spinner", "off", "-f", "json",
               "-o", str(out)]  # fmt: skip
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # noqa: S603
        if not out.exists():
            print(
                f"pip-audit: advisory database unreachable: skipped ({run.stderr.strip()[-200:]})"
            )
            return 0
        deps = json.loads(out.read_text())["dependencies"]
    audited = [d for d in deps if "skip_reason" not in d]
    skipped = [d for d in deps if "skip_reason" in d]
    if skipped:
        # e.g. a version from a local wheelhouse that PyPI's advisory API does not know
        print(f"pip-audit: {len(skipped)} packages not audited, e.g. {skipped[0]['skip_reason']}")
    if not audited:
        print("pip-audit: nothing could be audited: skipped")
        return 0
    found = [(d["name"], d["version"], v["id"]) for d in audited for v in d.get("vulns", [])]
    for name, version, vuln in found:
        print(f"pip-audit: {name} {version}: {vuln}")
    print(f"pip-audit: {len(audited)} packages audited, {len(found)} known vulnerabilities")
    return 1 if found else 0


def cargo_audit() -> int:
    cargo = shutil.which("cargo")
    probe = [cargo, "audit", "--version"] if cargo else []
    if not cargo or subprocess.run(probe, capture_output=True).returncode != 0:  # noqa: S603
        print("cargo audit: not installed (cargo install cargo-audit): skipped")
        return 0
    lock = ROOT / "rust" / "Cargo.lock"
    if not lock.exists():
        lock = ROOT / "Cargo.lock"
    cmd = [cargo, "audit", "--file", str(lock)]
    if db := os.environ.get("NEXUSFORGE_ADVISORY_DB"):
        # an offline copy of github.com/RustSec/advisory-db (possibly old: --stale)
        cmd += ["--db", db, "--no-fetch", "--stale"]
    run = subprocess.run(cmd, capture_output=True, text=True)  # noqa: S603
    if run.returncode != 0 and "vulnerabilit" not in run.stdout.lower():
        print(f"cargo audit: advisory database unreachable: skipped ({run.stderr.strip()[-200:]})")
        return 0
    for line in run.stderr.splitlines():
        if line.strip().startswith(("Loaded", "Scanning")):
            print(f"cargo audit: {line.strip()}")
    print(run.stdout.strip()[-2000:] or "cargo audit: no vulnerable crates")
    return run.returncode


def main() -> int:
    return max(pip_audit(), cargo_audit())


if __name__ == "__main__":
    sys.exit(main())
