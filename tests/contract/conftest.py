"""The notification peers of tests/notify (an HTTP receiver, an SMTP server), shared here."""

from tests.notify.conftest import receiver, smtp_plain

__all__ = ["receiver", "smtp_plain"]
