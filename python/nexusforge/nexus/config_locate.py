"""Where a bad key sits in a TOML file, so a config error can name its line as well as its key.

Config errors name the key they are about (`engine.capital: …`, `models[2].strat: …`,
`unknown key 'agents.noise.rat'…`, `gp.population: …`, `duration_s must be …`); `locate_error`
prefixes the file and the line of that key (or of its table's header when the key itself is not
written in the file, e.g. a missing required value). `msgspec_message` puts the key first in a
msgspec validation error (the forge and gate configs).
"""

from __future__ import annotations

import re
from pathlib import Path

_PART = re.compile(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\s-]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.\"'\s-]+?)\s*=")
# How config errors name their key: `key: …`, `unknown key 'key'…`, `key must …` (the forms
# the engine, forge, gate, simulator and exchange loaders write).
_LEADING_KEY = re.compile(r"^([A-Za-z0-9_.\[\]-]+):\s")
_QUOTED_KEY = re.compile(r"^unknown (?:key|field) '([A-Za-z0-9_.\[\]-]+)'")
_AGENT = re.compile(r"^unknown agent type '([A-Za-z0-9_-]+)'")
_FIRST_WORD = re.compile(r"^([A-Za-z0-9_.\[\]-]+) (?:must|has|is|needs|and)\b")
_FIELD_WORD = re.compile(r"^([a-z][a-z0-9_]*)\b")


def _parts(key: str) -> list[tuple[str, int | None]] | None:
    """`a[2].b.c` as [("a", 2), ("b", None), ("c", None)]; None if it is not a key path."""
    out = []
    for piece in key.split("."):
        m = _PART.fullmatch(piece)
        if m is None:
            return None
        out.append((m.group(1), None if m.group(2) is None else int(m.group(2))))
    return out


def _names(dotted: str) -> list[str]:
    return [n.strip().strip("\"'") for n in dotted.split(".")]


def _find(text: str, key: str) -> tuple[int, bool] | None:
    """The line of `key` and whether the key itself is written there (False: the header of
    the deepest table that holds it, or an inline table on one line)."""
    parts = _parts(key)
    if parts is None:
        return None
    names = [n for n, _ in parts]
    seen: dict[tuple[str, ...], int] = {}  # header path -> occurrences so far ([[array]])
    current: list[str] = []
    current_ok = True  # the current table is the one the key's indices ask for
    best: tuple[int, int] | None = None  # (depth, line) of the deepest matching header
    for n, line in enumerate(text.splitlines(), 1):
        h = _HEADER.match(line)
        if h is not None:
            current = _names(h.group(2))
            path = tuple(current)
            seen[path] = seen.get(path, -1) + 1
            depth = len(current)
            want = parts[depth - 1][1] if depth <= len(parts) else None
            current_ok = current == names[:depth] and want in (None, seen[path])
            if current_ok and depth == len(names):
                return n, True  # the key is this table (or this element of an array)
            if current_ok and (best is None or depth > best[0]):
                best = (depth, n)
            continue
        a = _ASSIGN.match(line)
        if a is None or (not current_ok and current):
            continue
        full = [*current, *_names(a.group(1))]
        if full == names:
            return n, True
        if len(full) < len(names) and full == names[: len(full)]:
            return n, False  # an inline table `engine = {…}` holding the key
    return None if best is None else (best[1], False)


def key_line(text: str, key: str) -> int | None:
    """The 1-based line of `key` (`table.leaf`, `a.b.leaf`, `table[i].leaf`, `table` or a
    top-level key) in the TOML `text`: the assignment if written, else the header of the
    deepest table holding it; None if neither."""
    found = _find(text, key)
    return None if found is None else found[0]


def message_key(message: str) -> str | None:
    """The key a config error message is about, or None when it names none."""
    for pattern in (_LEADING_KEY, _QUOTED_KEY, _FIRST_WORD):
        m = pattern.match(message)
        if m is not None:
            return m.group(1).rstrip(".")
    agent = _AGENT.match(message)
    return None if agent is None else f"agents.{agent.group(1)}"


def error_line(text: str, message: str) -> int | None:
    """The line of the key `message` is about; for `table: field must …` (a check of the
    table's values) the field's own line when it is written."""
    key = message_key(message)
    if key is None:
        return None
    found = _find(text, key)
    lead = _LEADING_KEY.match(message)
    if lead is not None:
        word = _FIELD_WORD.match(message[lead.end() :])
        inner = _find(text, f"{key}.{word.group(1)}") if word is not None else None
        if inner is not None and inner[1]:
            return inner[0]
    return None if found is None else found[0]


def locate_error(path: Path, message: str) -> str:
    """`message` (which names its key) prefixed with the file and the key's line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"{path}: {message}"
    line = error_line(text, message)
    return f"{path}: {message}" if line is None else f"{path}, line {line}: {message}"


_MSGSPEC_AT = re.compile(r"^(.*?)(?: - at `\$([^`]*)`)?$", re.DOTALL)
_MSGSPEC_FIELD = (
    (re.compile(r"^Object contains unknown field `([^`]+)`$"), "unknown field"),
    (re.compile(r"^Object missing required field `([^`]+)`$"), "missing required field"),
)


def msgspec_message(error: str) -> str:
    """msgspec's "what - at `$.a.b`" as "a.b: what", an unknown or missing field joined to its
    table ("gp.popsize: unknown field"); a check of the whole document stays as it is."""
    m = _MSGSPEC_AT.match(error)
    what, at = (m.group(1), (m.group(2) or "").lstrip(".")) if m else (error, "")
    for pattern, text in _MSGSPEC_FIELD:
        f = pattern.match(what)
        if f is not None:
            at, what = (f"{at}.{f.group(1)}" if at else f.group(1)), text
            break
    return f"{at}: {what}" if at else what
