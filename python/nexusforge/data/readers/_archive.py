"""Opening the containers recordings come in (plain, gzip, zip) with clear errors when damaged."""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

from nexusforge.errors import DataError

HEAD_BYTES = 4096


def zip_member(path: Path) -> tuple[str, bytes]:
    """The name and bytes of the single data member of a zip file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise DataError(f"{path}: expected one member in the zip, found {len(names)}")
            return names[0], archive.read(names[0])
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{path}: damaged or truncated zip: {exc}") from exc


def read_bytes(path: Path) -> bytes:
    """The whole decompressed content of a plain, gzip or (single-member) zip file."""
    if path.suffix == ".zip":
        return zip_member(path)[1]
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return stream.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise DataError(f"{path}: damaged or truncated gzip: {exc}") from exc


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first `size` decompressed bytes, for sniffing the format (empty when unreadable)."""
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    return b""
                with archive.open(names[0]) as member:
                    return member.read(size)
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return stream.read(size)
        with path.open("rb") as stream:
            return stream.read(size)
    except (zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError, OSError):
        return b""


def zip_member_name(path: Path) -> str:
    """Name of the single member of a zip file ('' when it is not one)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError):
        return ""
    return names[0] if len(names) == 1 else ""
