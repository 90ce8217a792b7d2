"""Intake: complete, sealed, validated files admitted; every bad one moved aside with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pitcrew_fixtures import EDGE, challenger_text, resealed

from nexusforge.nexus.pit_crew.intake import Intake


def poll_twice(intake: Intake) -> list[Any]:
    return intake.poll() + intake.poll()


def reason_of(folder: Path, name: str) -> str:
    note = folder / "rejected" / f"{name}.reason.json"
    return str(json.loads(note.read_text())["reason"])


def test_valid_file_admitted_after_two_stable_polls(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(challenger_text(EDGE))
    intake = Intake(tmp_path)
    assert intake.poll() == []  # first sight: not yet known to be complete
    admitted = intake.poll()
    assert len(admitted) == 1
    assert admitted[0].path == tmp_path / "accepted" / "a.json"
    assert not (tmp_path / "a.json").exists()
    assert intake.poll() == []


def test_truncated_file_rejected(tmp_path: Path) -> None:
    text = challenger_text(EDGE)
    (tmp_path / "t.json").write_text(text[: len(text) // 2])
    intake = Intake(tmp_path)
    assert poll_twice(intake) == []
    assert "not JSON" in reason_of(tmp_path, "t.json")
    assert (tmp_path / "rejected" / "t.json").exists()


def test_wrong_hash_rejected(tmp_path: Path) -> None:
    doc = json.loads(challenger_text(EDGE))
    doc["scores"]["oos_sharpe"] = 99.0  # edited after sealing
    (tmp_path / "h.json").write_text(json.dumps(doc))
    intake = Intake(tmp_path)
    poll_twice(intake)
    assert "hash mismatch" in reason_of(tmp_path, "h.json")


def test_unknown_primitive_rejected(tmp_path: Path) -> None:
    doc = json.loads(challenger_text(EDGE))
    doc["expr"] = {"op": "os_system", "args": [{"col": "imb_1"}]}
    (tmp_path / "p.json").write_text(resealed(doc))
    intake = Intake(tmp_path)
    poll_twice(intake)
    assert "os_system" in reason_of(tmp_path, "p.json")


def test_absurd_depth_rejected(tmp_path: Path) -> None:
    doc = json.loads(challenger_text(EDGE))
    node: dict[str, Any] = {"col": "imb_1"}
    for _ in range(200):
        node = {"op": "neg", "args": [node]}
    doc["expr"] = node
    (tmp_path / "d.json").write_text(resealed(doc))
    # far deeper than any parser allows: built as text, as an attacker would
    text = challenger_text(EDGE)
    cut = text.index('"expr":') + len('"expr":')
    deep = '{"op":"neg","args":[' * 20000 + '{"col":"imb_1"}' + "]}" * 20000
    (tmp_path / "e.json").write_text(text[:cut] + deep + text[text.index(',"head"') :])
    intake = Intake(tmp_path)
    assert poll_twice(intake) == []
    assert "deeper" in reason_of(tmp_path, "d.json")
    assert reason_of(tmp_path, "e.json")


def test_not_validated_or_failed_gate_rejected(tmp_path: Path) -> None:
    (tmp_path / "n.json").write_text(
        challenger_text(EDGE, {"status": "not_validated", "gate": None})
    )
    failed = {"status": "validated", "gate": {"passed": False, "failed": ["dsr"]}}
    (tmp_path / "f.json").write_text(challenger_text(EDGE, failed, tag="f"))
    intake = Intake(tmp_path)
    assert poll_twice(intake) == []
    assert "not validated" in reason_of(tmp_path, "n.json")
    assert "did not pass" in reason_of(tmp_path, "f.json")


def test_unknown_feature_column_rejected(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(challenger_text(EDGE))
    intake = Intake(tmp_path, columns=frozenset({"imb_5"}))
    poll_twice(intake)
    assert "imb_1" in reason_of(tmp_path, "c.json")


def test_duplicate_rejected(tmp_path: Path) -> None:
    text = challenger_text(EDGE)
    (tmp_path / "one.json").write_text(text)
    (tmp_path / "two.json").write_text(text)
    intake = Intake(tmp_path)
    assert len(poll_twice(intake)) == 1
    assert "duplicate" in reason_of(tmp_path, "two.json")


def test_file_written_while_being_read_waits_until_complete(tmp_path: Path) -> None:
    text = challenger_text(EDGE)
    path = tmp_path / "w.json"
    intake = Intake(tmp_path)
    cut = [len(text) // 3, 2 * len(text) // 3, len(text)]
    admitted = []
    with path.open("w") as fh:
        for end, start in zip(cut, [0, *cut[:-1]], strict=True):
            fh.write(text[start:end])
            fh.flush()
            admitted += intake.poll()  # the size changed since the last poll: never judged
    assert admitted == []
    assert not (tmp_path / "rejected").exists()
    assert len(intake.poll()) == 1  # stable across two polls now: read, re-checked, admitted


def test_hidden_and_temporary_files_ignored(tmp_path: Path) -> None:
    (tmp_path / ".challenger-x.tmp").write_text("{")
    (tmp_path / "y.tmp").write_text("{")
    intake = Intake(tmp_path)
    assert poll_twice(intake) == []
    assert not (tmp_path / "rejected").exists()


def test_missing_folder_is_empty(tmp_path: Path) -> None:
    assert Intake(tmp_path / "nope").poll() == []


def test_challenger_evolved_on_another_symbol_rejected(tmp_path: Path) -> None:
    def write(name: str, series: str | None) -> None:
        text = challenger_text(EDGE, tag=name)
        if series is not None:
            doc = json.loads(text)
            doc["data"] = {**doc["data"], "series": series}
            text = resealed(doc)
        (tmp_path / name).write_text(text)

    write("eth.json", "bybit_linear:ETHUSDT:300s")
    write("spot.json", "binance_spot:btcusdt:60s")  # same symbol, other venue: admitted
    write("none.json", None)  # no series: nothing to compare
    intake = Intake(tmp_path, symbol="BTCUSDT")
    admitted = sorted(a.path.name for a in poll_twice(intake))
    assert admitted == ["none.json", "spot.json"]
    reason = reason_of(tmp_path, "eth.json")
    assert "evolved on ETHUSDT" in reason and "trades BTCUSDT" in reason


def test_vwap_features_evolved_on_another_turnover_rejected(tmp_path: Path) -> None:
    vwap = {"op": "tanh", "args": [{"col": "m5_vwap_dev_bps"}]}
    ret = {"op": "tanh", "args": [{"col": "m5_ret"}]}

    def write(name: str, doc: dict[str, Any], turnover: str | None) -> None:
        body = json.loads(challenger_text(doc, tag=name))
        if turnover is not None:
            body["data"] = {**body["data"], "turnover": turnover}
        (tmp_path / name).write_text(resealed(body))

    write("recorded.json", vwap, "recorded")
    write("estimated.json", vwap, "estimated")
    write("no_vwap.json", ret, "recorded")  # reads no VWAP: turnover does not matter
    write("unknown.json", vwap, None)  # written before Forge recorded it: not checked
    intake = Intake(tmp_path, turnover="estimated")
    admitted = sorted(a.path.name for a in poll_twice(intake))
    assert admitted == ["estimated.json", "no_vwap.json", "unknown.json"]
    reason = reason_of(tmp_path, "recorded.json")
    assert "m5_vwap_dev_bps" in reason and 'engine.bar_turnover = "recorded"' in reason
