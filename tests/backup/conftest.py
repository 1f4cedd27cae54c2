"""The CLI runner of tests/cli, for the backup commands."""

from tests.cli.conftest import data_dir, run

__all__ = ["data_dir", "run"]
