"""Metadata database: engine, tables, tenant-scoped sessions, Alembic migrations."""
