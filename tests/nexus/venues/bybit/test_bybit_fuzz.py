"""Fuzzing the parsers of venue input: no exception escapes but the documented ones.

A short budget for CI; the long runs of issue 11 raise `max_examples` through a hypothesis profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from bybit_peer import credentials, execution
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.nexus.venues.bybit import BybitConfig, BybitPrivateWs, BybitPublicWs
from nexusforge.nexus.venues.bybit.errors import BybitProtocolError
from nexusforge.nexus.venues.bybit.models import (
    BybitExecution,
    BybitOrder,
    BybitPage,
    BybitPosition,
    BybitWallet,
)
from nexusforge.nexus.venues.bybit.rest import _decode
from nexusforge.nexus.venues.bybit.schema import SchemaWatch

CFG = BybitConfig.custom(port=1)
PUBLIC_TOPICS = [
    "orderbook.50.BTCUSDT",
    "publicTrade.BTCUSDT",
    "tickers.BTCUSDT",
    "kline.1.BTCUSDT",
]

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Skip formatting thousands of expected warnings (the logging is tested elsewhere)."""
    logger = logging.getLogger("nexusforge.nexus.venues.bybit")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@st.composite
def mutated_execution(draw: st.DrawFn) -> dict[str, Any]:
    row = execution(draw(st.text(min_size=1, max_size=8)), draw(st.integers(0, 2**45)))
    for key in draw(st.lists(st.sampled_from(sorted(row)), max_size=4, unique=True)):
        if draw(st.booleans()):
            del row[key]
        else:
            row[key] = draw(json_values)
    return row


def frames(topics: list[str], item: st.SearchStrategy[Any]) -> st.SearchStrategy[str | bytes]:
    envelope = st.fixed_dictionaries(
        {
            "topic": st.sampled_from([*topics, "other.topic"]),
            "type": st.sampled_from(["snapshot", "delta", "weird"]),
            "data": st.lists(item, max_size=3) | item | json_values,
        },
        optional={"ts": st.integers(), "op": st.text(max_size=5), "u": json_values},
    )
    return (
        envelope.map(json.dumps)
        | json_values.map(json.dumps)
        | st.binary(max_size=40)
        | st.text(max_size=40)
    )


@settings(max_examples=80)
@given(st.lists(frames(PUBLIC_TOPICS, json_values), min_size=1, max_size=8))
def test_public_dispatch_never_raises(batch: list[str | bytes]) -> None:
    events: list[Any] = []
    client = BybitPublicWs(CFG, PUBLIC_TOPICS, events.append)

    async def go() -> None:
        for frame in batch:
            await client._dispatch(frame)

    with quiet():
        asyncio.run(go())
    assert client.stats.messages == len(batch)
    assert client.stats.handler_errors == 0


@settings(max_examples=80)
@given(
    st.lists(
        frames(["execution", "order", "position", "wallet"], mutated_execution()),
        min_size=1,
        max_size=6,
    )
)
def test_private_dispatch_never_raises(batch: list[str | bytes]) -> None:
    events: list[Any] = []
    client = BybitPrivateWs(CFG, credentials(), events.append)

    async def go() -> None:
        for frame in batch:
            await client._dispatch(frame)

    with quiet():
        asyncio.run(go())
    assert client.stats.messages == len(batch) and client.stats.handler_errors == 0
    # Every delivered fill is a fully typed record, each execId once.
    ids = [x.execId for e in events for x in getattr(e, "executions", [])]
    assert len(ids) == len(set(ids))


@settings(max_examples=80)
@given(st.lists(json_values | mutated_execution(), max_size=5))
def test_record_conversion_only_skips(items: list[Any]) -> None:
    watch = SchemaWatch()
    for cls in (BybitExecution, BybitOrder, BybitPosition, BybitWallet):
        with quiet():
            out = watch.convert(items, cls, "fuzz")
        assert all(isinstance(x, cls) for x in out)


@settings(max_examples=200)
@given(json_values | st.binary(max_size=30).map(lambda b: b.decode("latin-1")))
def test_rest_result_decoding_raises_only_protocol_errors(value: Any) -> None:
    raw = msgspec.Raw(json.dumps(value).encode())
    try:
        page = _decode(raw, BybitPage, "/v5/fuzz")
    except BybitProtocolError:
        return
    assert isinstance(page.items, list)


def test_fuzz_inputs_reach_the_typed_path() -> None:
    """A well-formed fill through the same entry point is delivered (the fuzz is not vacuous)."""
    events: list[Any] = []
    client = BybitPrivateWs(CFG, credentials(), events.append)
    frame = json.dumps({"topic": "execution", "data": [execution("x1", 1)]})
    asyncio.run(client._dispatch(frame))
    assert [x.execId for e in events for x in e.executions] == ["x1"]
    with pytest.raises(BybitProtocolError):
        _decode(msgspec.Raw(b"[1]"), BybitPage, "/v5/x")
