"""Optional extras: whether one is installed, and the message that says how to install it.

The deep detectors (LSTM, VAE) need torch, shipped as the `deep` extra. Choosing them without
it is refused where they are chosen (settings, `POST /ai/train`, the library API) instead of
failing later inside a training job with ModuleNotFoundError.
"""

from __future__ import annotations

import importlib.util

DEEP_DETECTORS = frozenset({"lstm", "vae"})
DEEP_INSTALL = "pip install 'watchkeeper[deep]'"


def deep_available() -> bool:
    """Whether torch can be imported (checked without importing it: that takes seconds)."""
    return importlib.util.find_spec("torch") is not None


def deep_detector_problem(detector: str | None) -> str | None:
    """Why `detector` cannot be used here, or None when it can."""
    if detector in DEEP_DETECTORS and not deep_available():
        return (
            f"detector {detector!r} needs torch, which is not installed; "
            f"install the deep extra: {DEEP_INSTALL}"
        )
    return None
