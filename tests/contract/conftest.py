"""The notification peers of tests/notify (an SMTP server) shared here; the HTTP receiver
fixture is the suite-wide one in tests/conftest.py."""

from tests.notify.conftest import smtp_plain

__all__ = ["smtp_plain"]
