"""Kubernetes' atomic writer: the files of a configMap, secret, downwardAPI or projected volume, replaced all
at once so a reader never sees half an update.

The payload lives in a timestamped directory `..2026_01_01_00_00_00.123456789`; `..data` is a symlink to it,
and every top-level name of the payload is a symlink through `..data` (`key -> ..data/key`). An update
writes a new timestamped directory, points `..data_tmp` at it and renames that over `..data` (a rename is
atomic), then fixes the top-level links and removes the old directory. The volume's directory is
bind-mounted into containers, so they see the new content through the same links.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATA_DIR", "FileProjection", "write_payload"]

DATA_DIR = "..data"
_TMP_LINK = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


def _check_path(rel: str) -> None:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or ".." in parts or parts[0].startswith(".."):
        raise ValueError(f"invalid path {rel!r}: must be relative, without '..' and not start with '..'")


def _current(base: Path) -> Path | None:
    link = base / DATA_DIR
    if not link.is_symlink():
        return None
    target = base / os.readlink(link)
    return target if target.is_dir() else None


def _same(current: Path, payload: dict[str, FileProjection]) -> bool:
    found: dict[str, Path] = {}
    for root, _dirs, files in os.walk(current):
        for name in files:
            full = Path(root) / name
            found[str(full.relative_to(current))] = full
    if set(found) != set(payload):
        return False
    for rel, proj in payload.items():
        path = found[rel]
        if path.stat().st_mode & 0o7777 != proj.mode or path.read_bytes() != proj.data:
            return False
    return True


def write_payload(base: Path, payload: dict[str, FileProjection]) -> bool:
    """Make `base` hold exactly `payload` (relative path -> content and mode); whether anything changed."""
    for rel in payload:
        _check_path(rel)
    base.mkdir(parents=True, exist_ok=True)
    current = _current(base)
    if current is not None and _same(current, payload):
        return False
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
    fresh = base / f"..{stamp}"
    fresh.mkdir(mode=0o755)
    os.chmod(fresh, 0o755)
    for rel, proj in payload.items():
        path = fresh / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(proj.data)
        os.chmod(path, proj.mode)
    tmp = base / _TMP_LINK
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(fresh.name, tmp)
    os.replace(tmp, base / DATA_DIR)
    tops = {rel.split("/", 1)[0] for rel in payload}
    for name in tops:
        link = base / name
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(f"{DATA_DIR}/{name}", link)
    for entry in base.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and entry.name not in tops and os.readlink(entry).startswith(DATA_DIR + "/"):
            entry.unlink()
    for entry in base.iterdir():  # old payloads (and any left by an interrupted write)
        if entry.name.startswith("..") and entry.name not in (DATA_DIR, fresh.name) and entry.is_dir() \
                and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    return True
