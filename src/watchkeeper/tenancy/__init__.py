"""Tenant isolation, enforced in one place: the tenant-scoped session."""
