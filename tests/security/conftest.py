"""The notification tests' real peers (SMTP servers, certificate), shared."""

from tests.notify.conftest import (  # noqa: F401  (fixtures, found by name)
    certificate,
    smtp_implicit_tls,
    smtp_plain,
)
