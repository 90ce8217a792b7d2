"""Fuzz budget and mutators: byte-level changes of real inputs, shared by the fuzz tests.

CI runs `FUZZ_EXAMPLES` inputs per parser (default 300; 100 for the file readers); set
NEXUSFORGE_FUZZ_EXAMPLES=100000 for the long figure in BENCHMARKS.md.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("NEXUSFORGE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=None,
)
# Targets that write and read a whole file per input (the data readers): 100 each in CI.
FUZZ_FILE_EXAMPLES = int(os.environ.get("NEXUSFORGE_FUZZ_EXAMPLES", "100"))
FUZZ_FILES = settings(FUZZ, max_examples=FUZZ_FILE_EXAMPLES)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` with a few random byte flips, insertions, deletions and splices."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(("flip", "insert", "delete", "dup", "truncate")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        else:
            del data[at:]
    return bytes(data)
