"""The validation gate: judge each of a run's challengers on every check, write those that
pass every one as validated challenger files (the figures inside, hash renewed), and record
every rejection in a JSON-lines log with its figures and the names of the failed checks.

Checks (thresholds in `GateConfig`): deflated Sharpe, PBO of the run's population, the null
search p-value, positive net out-of-sample Sharpe, the DoWhy refuters; optionally stress in
the simulator, ruin probability and the GP walk-forward. A figure that cannot be computed
fails its check: the gate never passes what it could not measure. The DoWhy refuters, the
slow check, run only for candidates that passed every other check (unless `refute_all`); for
the others they are recorded as skipped, which is not a pass.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from nexusforge.forge.validate.config import GateConfig
from nexusforge.forge.validate.evidence import (
    Candidate,
    RunEvidence,
    candidate_evidence,
    run_evidence,
    with_refutation,
)
from nexusforge.forge.validate.refute import not_run
from nexusforge.forge.validate.run_folder import RunFolder, read_run
from nexusforge.strategy import artifact, to_infix

GATE_VERSION = 1


@dataclass(frozen=True)
class Check:
    """One check's figure, threshold and outcome."""

    name: str
    value: float | None
    threshold: float | None
    rule: str
    passed: bool
    skipped: bool = False  # not run; never a pass


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on one challenger."""

    source: str
    infix: str
    checks: tuple[Check, ...]
    figures: dict[str, Any]

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Names of the checks that ran and failed."""
        return [c.name for c in self.checks if not c.passed and not c.skipped]

    @property
    def skipped(self) -> list[str]:
        """Names of the checks not run (the decision was already made)."""
        return [c.name for c in self.checks if c.skipped]

    def record(self) -> dict[str, Any]:
        """The plain-JSON record written into a challenger or the rejection log."""
        return clean_dict({"source": self.source, "infix": self.infix, "passed": self.passed,
                      "failed": self.failed, "skipped": self.skipped,
                      "checks": [c.__dict__ for c in self.checks],
                      "figures": self.figures})  # fmt: skip


def clean(value: Any) -> Any:
    """Plain JSON: NaN and infinities become None; tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return clean_dict(value)
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def clean_dict(doc: dict[str, Any]) -> dict[str, Any]:
    """`clean` of a mapping."""
    return {str(k): clean(v) for k, v in doc.items()}


def _at_least(name: str, value: float, limit: float) -> Check:
    return Check(name, value, limit, f">= {limit}", math.isfinite(value) and value >= limit)


def _at_most(name: str, value: float, limit: float) -> Check:
    return Check(name, value, limit, f"<= {limit}", math.isfinite(value) and value <= limit)


def checks(c: Candidate, ev: RunEvidence, cfg: GateConfig) -> tuple[Check, ...]:
    """Every check the config asks for, on one candidate."""
    pbo = ev.pbo.pbo if ev.pbo is not None else math.nan
    oos = c.oos_sharpe
    out = [
        _at_least("deflated_sharpe", c.dsr.dsr, cfg.min_dsr),
        _at_most("pbo", pbo, cfg.max_pbo),
        _at_most("permutation_p", c.p_value, cfg.max_p_value),
        Check("oos_sharpe", oos, cfg.min_oos_sharpe, f"> {cfg.min_oos_sharpe}",
              math.isfinite(oos) and oos > cfg.min_oos_sharpe),
    ]  # fmt: skip
    if cfg.require_refuters:
        ref = c.refutation
        rule = ref.note if ref.skipped else "estimate holds"
        out.append(Check("refuters", ref.effect, None, rule, ref.passed, ref.skipped))
    if cfg.require_stress:
        out.append(Check("stress", None, None, "no scenario loses on average", c.stress.passed))
    if cfg.max_ruin_probability < 1.0:
        ruin = c.monte_carlo.ruin_probability
        out.append(_at_most("ruin_probability", ruin, cfg.max_ruin_probability))
    if ev.walk_forward is not None:
        wf = ev.walk_forward.oos_sharpe
        out.append(Check("walk_forward_oos_sharpe", wf, 0.0, "> 0", math.isfinite(wf) and wf > 0))
    return tuple(out)


def figures(c: Candidate, ev: RunEvidence) -> dict[str, Any]:
    """Every figure behind the checks, for the record."""
    d = c.dsr
    out: dict[str, Any] = {
        "is_sharpe": c.is_sharpe, "oos_sharpe": c.oos_sharpe, "wf_efficiency": c.efficiency,
        "oos_bars": int(c.out_of_sample.returns.size),
        "dsr": {"dsr": d.dsr, "sharpe_per_bar": d.sharpe, "expected_max_sharpe": d.benchmark,
                "trials": d.trials, "trial_variance": d.trial_variance, "skew": d.skew,
                "kurtosis": d.kurtosis, "bars": d.n,
                "variance_null": ev.null.sharpe_variance, "variance_trials": ev.trial_variance},
        "pbo": None if ev.pbo is None else {
            "pbo": ev.pbo.pbo, "blocks": ev.pbo.blocks, "strategies": ev.pbo.strategies,
            "period_bars": ev.pbo_period_bars, "prob_oos_loss": ev.pbo.prob_oos_loss,
            "degradation_slope": ev.pbo.degradation_slope},
        "permutation": {"score": c.score, "p_value": c.p_value, "block": ev.null.block,
                        "nulls": int(ev.null.null_best.size),
                        "null_best_max": float(ev.null.null_best.max())},
        "monte_carlo": c.monte_carlo.summary(),
        "refutation": c.refutation.figures(),
        "stress": c.stress.figures(),
    }  # fmt: skip
    if ev.walk_forward is not None:
        out["walk_forward"] = {"oos_sharpe": ev.walk_forward.oos_sharpe,
                               "efficiency": ev.walk_forward.efficiency,
                               "steps": [s.infix for s in ev.walk_forward.steps]}  # fmt: skip
    return clean_dict(out)


@dataclass(frozen=True)
class Judged:
    """One challenger of the run, its evidence and the decision."""

    path: Path
    challenger: artifact.Challenger
    evidence: Candidate
    decision: Decision


@dataclass(frozen=True)
class GateResult:
    """What the gate decided and wrote."""

    run: RunFolder
    config: GateConfig
    evidence: RunEvidence
    judged: tuple[Judged, ...]
    validated: tuple[Path, ...]
    rejection_log: Path
    summary: Path
    published: tuple[Path, ...] = ()  # the validated files written into the Pit Crew folder

    def summary_doc(self) -> dict[str, Any]:
        """The gate's outcome as plain JSON."""
        return clean_dict({"run": str(self.run.path), "gate_version": GATE_VERSION,
                      "config": msgspec.to_builtins(self.config),
                      "passed": sum(j.decision.passed for j in self.judged),
                      "rejected": sum(not j.decision.passed for j in self.judged),
                      "validated": [str(p) for p in self.validated],
                      "published": [str(p) for p in self.published],
                      "decisions": [j.decision.record() for j in self.judged]})  # fmt: skip


def _refuted(run: RunFolder, c: Candidate, ev: RunEvidence, cfg: GateConfig) -> Candidate:
    """`c` with its refutation run, or recorded as skipped when the gate does not need it."""
    if not cfg.require_refuters:
        return replace(c, refutation=not_run("not run: refuters not required by the config"))
    failed = [k.name for k in checks(c, ev, cfg) if k.name != "refuters" and not k.passed]
    if failed:
        return replace(c, refutation=not_run(f"not run: {', '.join(failed)} failed first"))
    return with_refutation(run, c, cfg)


def judge(run: RunFolder, cfg: GateConfig) -> tuple[RunEvidence, list[Judged]]:
    """Evidence and a decision for every challenger the run wrote (best first)."""
    ev = run_evidence(run, cfg)
    out = []
    for path, ch in run.challengers:
        c = candidate_evidence(run, ch.expr, ev, cfg, refute_it=cfg.refute_all)
        if not cfg.refute_all:
            c = _refuted(run, c, ev, cfg)
        dec = Decision(path.name, to_infix(ch.expr), checks(c, ev, cfg), figures(c, ev))
        out.append(Judged(path, ch, c, dec))
    return ev, out


def validated_challenger(j: Judged, cfg: GateConfig) -> artifact.Challenger:
    """The run's challenger with the gate's record inside and its key figures as scores."""
    f = j.decision.figures
    scores = {**j.challenger.scores, "oos_sharpe": f["oos_sharpe"], "dsr": f["dsr"]["dsr"],
              "permutation_p": f["permutation"]["p_value"],
              "pbo": None if f["pbo"] is None else f["pbo"]["pbo"]}  # fmt: skip
    gate = {"version": GATE_VERSION, "thresholds": clean_dict(msgspec.to_builtins(cfg)),
            **j.decision.record()}  # fmt: skip
    validation = {"status": "validated", "gate": gate}
    return artifact.Challenger(j.challenger.expr, scores, j.challenger.data,
                               j.challenger.origin, validation, j.challenger.head)  # fmt: skip


def write_text(path: Path, text: str) -> None:
    """Write atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate_run(run_dir: Path, cfg: GateConfig, out: Path | None = None) -> GateResult:
    """Run the gate on a Forge run folder; writes into `out` (default `run_dir/validation`):
    `challengers/` (validated only), `rejections.jsonl` and `summary.json`."""
    run = read_run(run_dir)
    folder = out or run_dir / "validation"
    ev, judged = judge(run, cfg)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    written, published, rejected = [], [], []
    pit = cfg.challenger_dir or run.config.challenger_dir
    for j in judged:
        if j.decision.passed:
            ch = validated_challenger(j, cfg)
            written.append(artifact.write(ch, folder / "challengers"))
            if pit is not None:  # only the gate ever writes into the Pit Crew folder
                published.append(artifact.write(ch, Path(pit)))
        else:
            rejected.append(json.dumps({"time": stamp, "run": run_dir.name, **j.decision.record()},
                                       sort_keys=True, allow_nan=False))  # fmt: skip
    log = folder / "rejections.jsonl"
    write_text(log, "".join(line + "\n" for line in rejected))
    result = GateResult(run, cfg, ev, tuple(judged), tuple(written), log, folder / "summary.json",
                        tuple(published))  # fmt: skip
    write_text(result.summary, json.dumps(result.summary_doc(), indent=2, allow_nan=False))
    return result
