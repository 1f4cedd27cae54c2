"""Watchkeeper's own metrics, logs, traces and health checks."""
