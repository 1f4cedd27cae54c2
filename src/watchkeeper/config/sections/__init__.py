"""The sections of `Settings`, one module per area (`metrics:`, `server:`, `security:`, ...)."""
