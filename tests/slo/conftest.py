"""The alert tests' rig (manual clock, memory store, migrated SQLite) for the SLO rules."""

from tests.alert.conftest import rig

__all__ = ["rig"]
