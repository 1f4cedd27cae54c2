"""Prometheus' label-set fingerprint, shared by alerting and the Alertmanager-format edge."""

from __future__ import annotations

from collections.abc import Mapping

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF  # Prometheus' model.SeparatorByte


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' label-set fingerprint as 16 hex digits (same value Alertmanager shows)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"
