"""The validate package's public names are exactly what it exports."""

from __future__ import annotations

import nexusforge.forge.validate as validate


def test_all_matches_public_names() -> None:
    public = {n for n in dir(validate) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(validate, n)).__name__ == "module"}
    assert set(validate.__all__) == public - modules
