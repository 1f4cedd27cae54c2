"""The notification tests' real peers (HTTP receiver, SMTP servers, certificate), shared."""

from tests.notify.conftest import (  # noqa: F401  (fixtures, found by name)
    certificate,
    receiver,
    smtp_implicit_tls,
    smtp_plain,
)
