"""The alert tests' rig (manual clock, memory store, migrated SQLite) for the SLO rules."""

from tests.alert.conftest import migrated_sqlite, rig

__all__ = ["migrated_sqlite", "rig"]
