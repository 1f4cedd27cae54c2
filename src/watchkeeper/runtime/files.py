"""Durable file writes shared by the store, the backups and the saved models.

A file replaced by rename is seen whole or not at all, but only the fsync of the file before
the rename, and of its folder after it, makes the new content and the new name survive a power
loss (POSIX promises nothing else). One implementation, so every writer gets both.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by path (a folder: makes a creation, rename or deletion in it
    durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(
    target: Path, write: Callable[[BinaryIO], object], *, fsync: bool = True
) -> None:
    """Replace `target` with what `write` writes, creating its folder if needed: the bytes go
    to a temporary file in the same folder, then are renamed over the target; on any failure
    the temporary file is removed and the target left as it was. `fsync=False` keeps the
    atomicity without the durability (a marker a later write supersedes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_path(target.parent)
