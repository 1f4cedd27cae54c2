"""Saving and loading fitted forecasters, versioned, so a restart predicts without refitting.

A state file is a pickled envelope: the file format, the forecaster's class and
`state_version`, when it was saved (from the injected Clock) and the fitted forecaster.
A file of another format or state version is refused with StaleStateError, so the caller
refits instead of misreading it. Writes are atomic (temporary file, fsync, rename). The files
are trusted input: only Watchkeeper writes its models path.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.clock import Clock
from watchkeeper.detect.forecast.base import Forecaster
from watchkeeper.runtime.files import write_atomically

FORMAT_VERSION = 1


class StaleStateError(ValueError):
    """The saved state was written by another format or forecaster version: refit."""


@dataclass(frozen=True)
class SavedForecaster:
    """A restored forecaster and when it was saved (seconds since the epoch)."""

    forecaster: Forecaster
    saved_at: float


def dump_forecaster(forecaster: Forecaster, clock: Clock) -> bytes:
    """The fitted forecaster as bytes in the versioned envelope."""
    envelope: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "class": type(forecaster),
        "state_version": type(forecaster).state_version,
        "saved_at": clock.time(),
        "forecaster": forecaster,
    }
    return pickle.dumps(envelope, protocol=pickle.HIGHEST_PROTOCOL)


def restore_forecaster(data: bytes) -> SavedForecaster:
    """Inverse of `dump_forecaster`; raises StaleStateError on a version mismatch."""
    envelope = pickle.loads(data)  # trusted: our own models path, see module docstring
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_VERSION:
        raise StaleStateError("unknown forecaster state format")
    cls = envelope["class"]
    if envelope["state_version"] != getattr(cls, "state_version", None):
        raise StaleStateError(f"{cls.__name__} state version changed since it was saved")
    forecaster = envelope["forecaster"]
    if not isinstance(forecaster, Forecaster):
        raise StaleStateError("the state does not hold a forecaster")
    return SavedForecaster(forecaster, float(envelope["saved_at"]))


def save_forecaster(forecaster: Forecaster, path: Path, clock: Clock) -> None:
    """Write the fitted forecaster to `path` atomically."""
    data = dump_forecaster(forecaster, clock)
    write_atomically(path, lambda handle: handle.write(data))


def load_forecaster(path: Path) -> SavedForecaster:
    """Read what `save_forecaster` wrote."""
    return restore_forecaster(path.read_bytes())
