"""Writing a model file atomically: a reader sees the old file or the new one, never a part.

The bytes go to a temporary file in the same folder, are fsynced, then renamed over the
target (POSIX rename is atomic within a file system); on any failure the temporary file is
removed and the target is left as it was. Detector and forecaster states are saved so.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create `target`'s folder if needed, then replace `target` with what `write` writes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
