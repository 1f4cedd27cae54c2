"""Saving and loading detector state under the models path, versioned, so a restart resumes
scoring where it stopped instead of relearning.

One file per (tenant, series, detector): `<root>/<tenant>/<sha256(series)[:32]>/<name>.model`,
holding a pickled envelope with the file format, the detector's `state_version`, its class,
when it was saved (from the injected Clock) and its state. A file written by another format
or state version is ignored (the detector relearns) rather than misread. Writes are atomic
(temporary file + rename). The files are trusted: only Watchkeeper writes the models path.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.clock import Clock
from watchkeeper.detect.base import Detector
from watchkeeper.runtime.files import write_atomically

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class SavedModel:
    """A restored detector and when it was saved."""

    detector: Detector
    saved_at: float


def _series_dir(series: str) -> str:
    return hashlib.sha256(series.encode()).hexdigest()[:32]


class ModelStore:
    """Detector state files under one root directory (Settings.effective_models_path)."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = root
        self.clock = clock

    def path(self, tenant: str, series: str, detector_name: str) -> Path:
        return self.root / tenant / _series_dir(series) / f"{detector_name}.model"

    def save(self, tenant: str, series: str, detector: Detector) -> Path:
        """Write the detector's state atomically; returns the file written."""
        envelope: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "state_version": detector.state_version,
            "class": type(detector),
            "series": series,
            "saved_at": self.clock.time(),
            "state": detector.get_state(),
        }
        target = self.path(tenant, series, detector.name)
        write_atomically(
            target, lambda handle: pickle.dump(envelope, handle, protocol=pickle.HIGHEST_PROTOCOL)
        )
        return target

    def load(self, tenant: str, series: str, detector_name: str) -> SavedModel | None:
        """The saved detector, or None when there is none or it is of another version."""
        target = self.path(tenant, series, detector_name)
        if not target.exists():
            return None
        with target.open("rb") as f:
            envelope = pickle.load(f)  # the models path holds only files we wrote
        cls = envelope.get("class")
        if (
            envelope.get("format") != FORMAT_VERSION
            or not isinstance(cls, type)
            or not issubclass(cls, Detector)
            or envelope.get("state_version") != cls.state_version
        ):
            return None
        detector = cls.__new__(cls)
        detector.set_state(envelope["state"])
        return SavedModel(detector, float(envelope["saved_at"]))
