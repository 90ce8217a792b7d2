"""Print the dependencies (plus the named extras) of a pyproject.toml, one per line, for pip."""

import sys
import tomllib


def main(path: str, *extras: str) -> None:
    with open(path, "rb") as fh:
        project = tomllib.load(fh)["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    print("\n".join(requirements))


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:])
