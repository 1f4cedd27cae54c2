"""Adaptive rate limiting: token buckets per principal and per tenant (see limiter.py)."""
