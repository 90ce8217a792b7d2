"""orderLinkIds: Bybit's length and character rules, parse-back, uniqueness over long runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import ConfigError
from nexusforge.nexus import order_ids
from nexusforge.nexus.order_ids import (
    BYBIT_ALLOWED,
    MAX_LEN,
    MAX_SEQ,
    LinkIdAllocator,
    LinkIdParts,
    base36,
    make,
    new_run_id,
    parse,
    slot_of,
)

RUN_IDS = st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)


@given(st.integers(0, 99), RUN_IDS, st.integers(0, MAX_SEQ))
def test_ids_fit_bybit_and_parse_back(slot: int, run_id: str, seq: int) -> None:
    link = make(slot, run_id, seq)
    assert len(link) <= MAX_LEN and BYBIT_ALLOWED.fullmatch(link)
    assert parse(link) == LinkIdParts(slot, run_id, seq)
    assert slot_of(link) == slot


def test_longest_possible_id() -> None:
    link = make(99, "z" * 12, MAX_SEQ)
    assert link == "nf99-zzzzzzzzzzzz-zzzzzzzzzzzz" and len(link) == 30


@pytest.mark.parametrize(
    "link",
    [
        "",
        "test-order-link-001",
        "nf1-abc-1",
        "nf01-ABC-1",
        "nf01-abc-",
        "nf01-abc-1-x",
        "xnf01-a-1",
    ],
)
def test_foreign_ids_are_not_ours(link: str) -> None:
    assert parse(link) is None and slot_of(link) is None


@pytest.mark.parametrize(
    ("slot", "run_id", "seq"),
    [(-1, "a", 0), (100, "a", 0), (0, "", 0), (0, "A", 0), (0, "a" * 13, 0), (0, "a", -1)],
)
def test_out_of_range_parts_are_refused(slot: int, run_id: str, seq: int) -> None:
    with pytest.raises(ConfigError):
        make(slot, run_id, seq)
    with pytest.raises(ConfigError):
        make(0, "a", MAX_SEQ + 1)


def test_base36_and_run_ids() -> None:
    assert [base36(n) for n in (0, 35, 36, 36**2)] == ["0", "z", "10", "100"]
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(r) == order_ids.RUN_ID_LEN for r in ids)


def test_allocator_reserves_blocks_and_never_repeats_across_restarts() -> None:
    committed = [0]  # what a journal would persist: the next unreserved sequence number
    calls: list[int] = []

    def reserve(n: int) -> int:
        first = committed[0]
        committed[0] += n
        calls.append(n)
        return first

    seen: set[str] = set()
    for _restart in range(5):  # each "process" uses part of a block, then dies
        alloc = LinkIdAllocator("run1", reserve, block=7)
        for i in range(11):
            link = alloc.next(i % 6)
            assert link not in seen
            seen.add(link)
    assert len(seen) == 55 and calls == [7] * 10
    with pytest.raises(ConfigError):
        LinkIdAllocator("run1", reserve, block=0)
