"""The security headers every response carries, computed once from the settings.

The policy fits a same-origin web UI: scripts, styles, images and API calls from this origin
only, no plugins, no framing, no foreign `<base>`. /docs and /redoc get the same policy plus
what Swagger UI and ReDoc need (inline styles they set at run time, SVG icons as data: URIs,
ReDoc's search worker from a blob:); their scripts are files served from this origin
(`api/docs.py`), so no page needs `'unsafe-inline'` scripts. HSTS is sent only where the
browser reached us over TLS: TLS served here (scope scheme https) or a declared TLS proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

from watchkeeper.config import Settings

Headers = list[tuple[bytes, bytes]]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PREFIXES = ("/docs", "/redoc")


def _common() -> Headers:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


@dataclass(frozen=True)
class SecurityHeaders:
    """Four precomputed header lists; `for_scope` picks one with two cheap tests."""

    plain: Headers
    plain_tls: Headers
    docs: Headers
    docs_tls: Headers
    tls_always: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> SecurityHeaders:
        security = settings.security
        if not security.headers_enabled:
            return cls([], [], [], [], tls_always=False)
        csp = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
        docs_csp = (b"content-security-policy", DOCS_CONTENT_SECURITY_POLICY.encode())
        hsts: Headers = []
        if security.hsts_max_age_seconds > 0:
            value = f"max-age={security.hsts_max_age_seconds}; includeSubDomains"
            hsts = [(b"strict-transport-security", value.encode())]
        return cls(
            plain=[*_common(), csp],
            plain_tls=[*_common(), csp, *hsts],
            docs=[*_common(), docs_csp],
            docs_tls=[*_common(), docs_csp, *hsts],
            tls_always=security.tls_proxy,
        )

    def for_scope(self, scope: Scope) -> Headers:
        tls = self.tls_always or scope.get("scheme") == "https"
        if scope["path"].startswith(DOCS_PREFIXES):
            return self.docs_tls if tls else self.docs
        return self.plain_tls if tls else self.plain
