"""Metric storage: one MetricStore interface, an embedded and a remote implementation."""
