"""The CLI tests' fixtures (the entry point run in-process, an initialised data folder)."""

from tests.cli.conftest import data_dir, run  # noqa: F401
