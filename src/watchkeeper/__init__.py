"""Watchkeeper: self-hosted monitoring and AIOps."""

__version__ = "0.1.0"
