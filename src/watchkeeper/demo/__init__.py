"""`watchkeeper demo`: a tenant of its own with a realistic synthetic workload (see loader.py)."""
