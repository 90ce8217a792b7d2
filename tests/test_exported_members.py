import nexusforge


def test_all_matches_public_names() -> None:
    public = {n for n in dir(nexusforge) if not n.startswith("_")} - {"errors"}
    assert set(nexusforge.__all__) - {"__version__"} <= public


def test_core_version_matches_package() -> None:
    assert nexusforge.core_version() == nexusforge.__version__
