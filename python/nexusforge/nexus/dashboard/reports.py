"""The research reports folder the dashboard lists and serves, read-only.

Reports are the standalone HTML files (and PNG exports) that `nexusforge backtest --report`,
`sim check --report`, `forge run` and `validate` write. Every `.html`/`.png` under the folder
(and in run folders below it, a few levels deep) is listed with its kind, title and modified
time. A file is served only when its path, resolved, lies inside the folder: `..`, absolute
paths, hidden names and symlinks that lead out of the folder are refused.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png"}
MAX_DEPTH = 6  # folders below the reports folder that are searched
MAX_ENTRIES = 1000  # newest first; a folder with more is cut, and says so
TITLE_BYTES = 16_384  # <title> sits in the head, before any inlined plotly.js
_TITLE = re.compile(rb"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# What each report writer puts at the start of its <title>.
_KIND_BY_TITLE = (
    ("Backtest", "backtest"),
    ("Simulator fidelity", "simulator fidelity"),
    ("Validation gate", "validation"),
    ("Forge run", "forge run"),
)


class ReportRefused(Exception):
    """A requested path is not a report inside the folder (why in the message)."""


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """One report file: its path under the folder (POSIX), kind, title, mtime and size."""

    path: str
    kind: str
    title: str
    modified_ms: int
    size: int


@dataclass(frozen=True, slots=True)
class ReportIndex:
    """The listing of a reports folder: newest first, `truncated` when cut at MAX_ENTRIES."""

    folder: str
    exists: bool
    reports: tuple[ReportEntry, ...]
    truncated: bool = False


class ReportFolder:
    """The reports folder at `root` (it may not exist yet: the listing is then empty)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # (file, mtime_ns, size) -> (kind, title): a refresh reads only new or changed files
        self._described: dict[tuple[Path, int, int], tuple[str, str]] = {}

    def index(self) -> ReportIndex:
        """Every report under the folder, newest first."""
        if not self.root.is_dir():
            return ReportIndex(str(self.root), False, ())
        real_root = self.root.resolve()
        seen: dict[tuple[Path, int, int], tuple[str, str]] = {}
        found = [e for e in self._walk(real_root, seen) if e is not None]
        self._described = seen  # forget files that are gone
        found.sort(key=lambda e: (-e.modified_ms, e.path))
        cut = len(found) > MAX_ENTRIES
        return ReportIndex(str(self.root), True, tuple(found[:MAX_ENTRIES]), cut)

    def open(self, requested: str) -> tuple[Path, str]:
        """The file for `requested` (a path under the folder as the index gives it) and its media
        type; ReportRefused for anything else."""
        rel = _checked_relative(requested)
        real_root = self.root.resolve()
        try:
            real = (self.root / rel).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            raise ReportRefused(f"no report {requested!r}") from None
        if not real.is_relative_to(real_root):
            raise ReportRefused(f"{requested!r} leads out of the reports folder")
        if not real.is_file() or real.suffix.lower() not in MEDIA_TYPES:
            raise ReportRefused(f"{requested!r} is not a report file")
        return real, MEDIA_TYPES[real.suffix.lower()]

    def _walk(
        self, real_root: Path, seen: dict[tuple[Path, int, int], tuple[str, str]]
    ) -> list[ReportEntry | None]:
        out: list[ReportEntry | None] = []
        for top, dirs, files in os.walk(real_root, followlinks=False):
            here = Path(top)
            depth = len(here.relative_to(real_root).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_DEPTH)
            for name in sorted(files):
                if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_TYPES:
                    out.append(self._entry(real_root, here / name, seen))
        return out

    def _entry(
        self, real_root: Path, path: Path, seen: dict[tuple[Path, int, int], tuple[str, str]]
    ) -> ReportEntry | None:
        try:
            real = path.resolve(strict=True)
            if not real.is_relative_to(real_root) or not real.is_file():
                return None  # a symlink out of the folder (or to a non-file) is not listed
            st = real.stat()
        except (OSError, RuntimeError):
            return None  # vanished while listing, or a symlink loop
        rel = path.relative_to(real_root)
        key = (path, st.st_mtime_ns, st.st_size)
        described = self._described.get(key) or _describe(real_root, rel, real)
        seen[key] = described
        kind, title = described
        return ReportEntry(rel.as_posix(), kind, title, st.st_mtime_ns // 1_000_000, st.st_size)


def _checked_relative(requested: str) -> PurePosixPath:
    if not requested or "\x00" in requested or "\\" in requested:
        raise ReportRefused("bad report path")
    rel = PurePosixPath(requested)
    if rel.is_absolute():
        raise ReportRefused("absolute paths are refused")
    if any(part in ("", ".", "..") or part.startswith(".") for part in rel.parts):
        raise ReportRefused("'..' and hidden names are refused")
    return rel


def _describe(real_root: Path, rel: Path, real: Path) -> tuple[str, str]:
    """(kind, title) of one report file."""
    if real.suffix.lower() == ".html":
        title = html_title(real) or rel.as_posix()
        kind = next((k for prefix, k in _KIND_BY_TITLE if title.startswith(prefix)), "")
        return kind or _kind_by_place(real_root, rel), title
    sibling = real.with_suffix(".html")
    if sibling.is_file():  # a PNG export beside its HTML report
        title = html_title(sibling) or rel.as_posix()
        kind = next((k for prefix, k in _KIND_BY_TITLE if title.startswith(prefix)), "")
        return kind or _kind_by_place(real_root, rel), f"{title} (PNG)"
    if rel.name == "graph.png" and rel.parent.name == "causal":
        run = rel.parent.parent.as_posix()
        return "causal graph", f"Causal graph of {run}" if run != "." else "Causal graph"
    return _kind_by_place(real_root, rel), rel.as_posix()


def _kind_by_place(real_root: Path, rel: Path) -> str:
    if "validation" in rel.parts[:-1]:
        return "validation"
    for parent in (real_root / rel).parents:  # inside a Forge run folder (it has a manifest)
        if parent == real_root or not parent.is_relative_to(real_root):
            break
        if (parent / "manifest.json").is_file():
            return "forge run"
    return "report"


def html_title(path: Path) -> str:
    """The text of the file's <title> (first 16 KB), unescaped and on one line; "" if none."""
    try:
        with path.open("rb") as fh:
            head = fh.read(TITLE_BYTES)
    except OSError:
        return ""
    m = _TITLE.search(head)
    if m is None:
        return ""
    text = html.unescape(m.group(1).decode("utf-8", errors="replace"))
    return " ".join(text.split())[:200]
