"""Logins that may do only one thing until it is done: change the password, or enrol in 2FA.

The access token carries the restriction (claim `rst`), so it is enforced on every request
without a database read; once the user has done what is asked they log in again and get an
unrestricted token.
"""

from __future__ import annotations

PASSWORD_CHANGE_REQUIRED = "password_change_required"
TWO_FACTOR_SETUP_REQUIRED = "two_factor_setup_required"

_ALWAYS = frozenset({"/auth/logout", "/auth/logout-all", "/auth/me"})

ALLOWED_PATHS: dict[str, frozenset[str]] = {
    PASSWORD_CHANGE_REQUIRED: _ALWAYS | {"/auth/password"},
    TWO_FACTOR_SETUP_REQUIRED: _ALWAYS | {"/auth/password", "/auth/2fa/setup", "/auth/2fa/enable"},
}

MESSAGES = {
    PASSWORD_CHANGE_REQUIRED: "you must change your password first "
    "(POST /auth/password), then log in again",
    TWO_FACTOR_SETUP_REQUIRED: "this tenant requires two-factor login for admins: enrol first "
    "(POST /auth/2fa/setup, then POST /auth/2fa/enable), then log in again",
}


def allows(restriction: str | None, path: str) -> bool:
    """May a principal with this restriction call `path`?"""
    return restriction is None or path in ALLOWED_PATHS.get(restriction, _ALWAYS)
