"""Authentication (passwords, JWTs, API keys) and authorisation (the RBAC table)."""
