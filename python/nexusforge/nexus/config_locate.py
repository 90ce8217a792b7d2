"""Where a bad key sits in a TOML file, so a config error can name its line as well as its key.

Config errors start with the key they are about (`engine.capital: …`, `models[2].strat: …`,
`engin: …`); `locate_error` prefixes the file and the line of that key (or of its table's
header when the key itself is not written in the file, e.g. a missing required value).
"""

from __future__ import annotations

import re
from pathlib import Path

_KEY_PATH = re.compile(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?(?:\.([A-Za-z0-9_-]+))?")
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(r"^\s*([\"']?)([A-Za-z0-9_-]+)\1\s*=")


def key_line(text: str, key: str) -> int | None:
    """The 1-based line of `key` (`table.leaf`, `table[i].leaf`, `table` or a top-level key) in
    the TOML `text`: the assignment if written, else its table's header; None if neither."""
    m = _KEY_PATH.fullmatch(key)
    if m is None:
        return None
    table, index, leaf = m.group(1), m.group(2), m.group(3)
    want = None if index is None else int(index)
    current: str | None = None
    occurrence = -1  # how many times `table`'s header was seen ([[array]] tables repeat)
    header: int | None = None
    for n, line in enumerate(text.splitlines(), 1):
        h = _HEADER.match(line)
        if h is not None:
            current = h.group(1)
            if current == table:
                occurrence += 1
                if header is None and (want is None or occurrence == want):
                    header = n
            continue
        a = _ASSIGN.match(line)
        if a is None:
            continue
        name = a.group(2)
        if current is None and name == table:
            return n  # a top-level key, or an inline table `engine = {…}`
        in_place = current == table and (want is None or occurrence == want)
        if in_place and leaf is not None and name == leaf:
            return n
    return header


def locate_error(path: Path, message: str) -> str:
    """`message` (which starts with the key) prefixed with the file and the key's line."""
    key = message.split(":", 1)[0].strip()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"{path}: {message}"
    line = key_line(text, key) if " " not in key else None
    return f"{path}: {message}" if line is None else f"{path}, line {line}: {message}"
