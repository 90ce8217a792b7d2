"""Test helpers shared by parity and invariant tests: frame asserts and hypothesis strategies."""

from nexusforge.testing._asserts import assert_frames_match

__all__ = ["assert_frames_match"]
