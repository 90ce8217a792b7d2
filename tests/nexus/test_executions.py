"""Execution rows from real captured Bybit private WS messages and REST pages."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import DataError, MalformedMessageError
from nexusforge.nexus.executions import (
    BybitExecutionRow,
    ExecKind,
    decode,
    encode,
    from_fields,
    parse_rest_page,
    parse_ws_message,
)


def _read(shared_data: Path, name: str) -> bytes:
    return (shared_data / "bybit" / name).read_bytes()


def _ws_with_rows(shared_data: Path, rows: list[dict[str, Any]]) -> bytes:
    msg = json.loads(_read(shared_data, "ws_private/nautilus_ws_account_execution.json"))
    msg["data"] = rows
    return json.dumps(msg).encode()


def _base_row(shared_data: Path) -> dict[str, Any]:
    msg = json.loads(_read(shared_data, "ws_private/nautilus_ws_account_execution.json"))
    row: dict[str, Any] = msg["data"][0]
    return row


def test_ws_trade_row_is_exact(shared_data: Path) -> None:
    parsed = parse_ws_message(_read(shared_data, "ws_private/nautilus_ws_account_execution.json"))
    assert parsed.skipped == ()
    (e,) = parsed.rows
    assert e.exec_id == "0ab1bdf7-4219-438b-b30a-32ec863018f7"
    assert e.kind is ExecKind.FILL and not e.forced
    assert (e.side, e.price, e.qty) == (-1, Decimal("95900.1"), Decimal("0.5"))
    assert e.fee == Decimal("26.3725275") == e.price * e.qty * e.fee_rate  # type: ignore[operator]
    assert e.signed_qty == Decimal("-0.5")
    assert (e.exec_time_ms, e.seq) == (1746270400353, 140612148849382)
    assert e.order_link_id == "test-order-link-001"
    assert e.mark_price == Decimal("95901.48") and e.closed_size == Decimal("0.5")


def test_real_testnet_execution_message(shared_data: Path) -> None:
    raw = _read(shared_data, "ws_private/hirokisan_private-v5-execution.json")
    (e,) = parse_ws_message(raw).rows
    assert (e.symbol, e.side, e.qty, e.price) == ("XRPUSDT", -1, Decimal(25), Decimal("0.3374"))
    assert e.fee == Decimal("0.005061") and e.closed_size is None  # "" -> None
    assert e.order_link_id == ""


def test_adl_row_is_forced(shared_data: Path) -> None:
    raw = _read(shared_data, "ws_private/nautilus_ws_account_execution_adl.json")
    (e,) = parse_ws_message(raw).rows
    assert e.exec_type == "AdlTrade" and e.kind is ExecKind.FORCED and e.forced


def test_execution_fast_is_refused(shared_data: Path) -> None:
    raw = _read(shared_data, "ws_private/nautilus_ws_account_execution_fast.json")
    with pytest.raises(MalformedMessageError, match=r"execution\.fast"):
        parse_ws_message(raw)


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"topic": "order", "data": []}', b'{"topic": "execution"}'],
)
def test_bad_envelopes_raise_the_documented_error(raw: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        parse_ws_message(raw)


def test_funding_and_unknown_exec_types_are_classified(shared_data: Path) -> None:
    base = _base_row(shared_data)
    rows = [
        {**base, "execId": "f1", "execType": "Funding", "execFee": "-0.75", "orderLinkId": ""},
        {**base, "execId": "u1", "execType": "SomethingNew"},
        {**base, "execId": "d1", "execType": "Delivery"},
        {**base, "execId": "b1", "execType": "BustTrade"},
    ]
    kinds = {e.exec_id: e.kind for e in parse_ws_message(_ws_with_rows(shared_data, rows)).rows}
    assert kinds == {
        "f1": ExecKind.FUNDING,
        "u1": ExecKind.IGNORED,
        "d1": ExecKind.IGNORED,
        "b1": ExecKind.FORCED,
    }


def test_schema_drift_skips_only_the_bad_rows(shared_data: Path) -> None:
    base = _base_row(shared_data)
    no_fee = {k: v for k, v in base.items() if k != "execFee"}
    rows = [
        {**base, "execId": "ok1", "brandNewField": {"x": 1}},  # extra field: fine
        {**no_fee, "execId": "nofee"},
        {**base, "execId": "", "execQty": "1"},
        {**base, "execId": "badqty", "execQty": "abc"},
        {**base, "execId": "nanprice", "execPrice": "NaN"},
        {**base, "execId": "negqty", "execQty": "-1"},
        {**base, "execId": "noside", "side": ""},
        {**base, "execId": "badtime", "execTime": "soon"},
        {**base, "execId": "badmaker", "isMaker": [1]},
        {**base, "execId": "ok2", "execTime": 1746270400999, "seq": "77", "isMaker": "true"},
    ]
    parsed = parse_ws_message(_ws_with_rows(shared_data, rows))
    assert [e.exec_id for e in parsed.rows] == ["ok1", "ok2"]
    assert [i for i, _ in parsed.skipped] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "execFee" in dict(parsed.skipped)[1]
    ok2 = parsed.rows[1]
    assert (ok2.exec_time_ms, ok2.seq, ok2.is_maker) == (1746270400999, 77, True)


def test_rest_pages_full_envelope_and_bare_result(shared_data: Path) -> None:
    full = json.loads(_read(shared_data, "rest/nautilus_http_get_executions.json"))
    page = parse_rest_page(full)
    assert [e.symbol for e in page.rows] == ["BTCUSDT", "ETHUSDT"]
    assert page.next_cursor == "132766%3A2%2C132766%3A2"
    assert page.rows[0].is_maker and page.rows[0].fee == Decimal("0.0150")
    bare = json.loads(_read(shared_data, "rest/hirokisan_v5-execution-get-execution-list.json"))
    (e,) = parse_rest_page(bare).rows
    assert (e.price, e.qty, e.side) == (Decimal("26816.8"), Decimal("0.01"), -1)


def test_rest_errors() -> None:
    with pytest.raises(DataError, match="10006"):
        parse_rest_page({"retCode": 10006, "retMsg": "Too many visits!"})
    with pytest.raises(MalformedMessageError):
        parse_rest_page({"retCode": 0, "result": {"list": "nope"}})


def test_journal_encoding_round_trips(shared_data: Path) -> None:
    for name in ("nautilus_ws_account_execution.json", "nautilus_ws_account_execution_adl.json"):
        (e,) = parse_ws_message(_read(shared_data, f"ws_private/{name}")).rows
        assert decode(encode(e)) == e
    with pytest.raises(MalformedMessageError):
        decode(b'{"exec_id": 1}')


def test_only_linear_rows_count(shared_data: Path) -> None:
    base = _base_row(shared_data)
    rows = [
        {**base, "execId": "spot", "category": "spot"},  # same symbol, other product
        {**base, "execId": "opt", "category": "option"},
        {k: v for k, v in base.items() if k != "category"} | {"execId": "nocat"},
    ]
    got = {e.exec_id: e for e in parse_ws_message(_ws_with_rows(shared_data, rows)).rows}
    assert got["spot"].kind is ExecKind.IGNORED and got["opt"].kind is ExecKind.IGNORED
    assert got["nocat"].category == "linear" and got["nocat"].kind is ExecKind.FILL
    page = {"retCode": 0, "result": {"category": "spot", "list": [base | {"category": ""}]}}
    (row,) = parse_rest_page(page).rows
    assert row.category == "spot" and row.kind is ExecKind.IGNORED


def test_from_the_venue_clients_struct(shared_data: Path) -> None:
    from nexusforge.nexus.venues.bybit.models import BybitExecution

    for name in ("nautilus_ws_account_execution.json", "hirokisan_private-v5-execution.json"):
        raw = _read(shared_data, f"ws_private/{name}")
        (item,) = json.loads(raw)["data"]
        wire = msgspec.convert(item, BybitExecution, strict=False)
        (direct,) = parse_ws_message(raw).rows
        assert from_fields(msgspec.structs.asdict(wire)) == direct
    with pytest.raises(MalformedMessageError, match="execFee"):
        from_fields({"execId": "x", "symbol": "BTCUSDT", "execType": "Trade", "side": "Buy"})


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = list(BybitExecutionRow.__struct_fields__)


@given(st.binary(max_size=300))
def test_fuzz_ws_bytes_raise_only_the_documented_error(raw: bytes) -> None:
    with contextlib.suppress(MalformedMessageError):
        parse_ws_message(raw)


@given(st.data())
def test_fuzz_mutated_real_rows_never_escape(shared_data: Path, data: st.DataObject) -> None:
    base = _base_row(shared_data)
    rows = []
    for _ in range(data.draw(st.integers(1, 4))):
        row = dict(base)
        for key in data.draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
            if data.draw(st.booleans()):
                row.pop(key, None)
            else:
                row[key] = data.draw(JSON)
        rows.append(row)
    parsed = parse_ws_message(_ws_with_rows(shared_data, rows))  # bad rows are skipped, not raised
    assert len(parsed.rows) + len(parsed.skipped) == len(rows)
    for e in parsed.rows:
        assert e.qty >= 0 and e.price >= 0 and e.price.is_finite() and e.fee.is_finite()


@given(JSON)
def test_fuzz_rest_pages_raise_only_documented_errors(body: object) -> None:
    with contextlib.suppress(DataError):  # MalformedMessageError is a DataError
        parse_rest_page(body)  # type: ignore[arg-type]
