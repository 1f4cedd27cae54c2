"""Settings as shown to people (`config show`, `GET /admin/config`): secrets replaced."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr

REDACTED = "********"


def redact(data: Any, model: Any) -> Any:
    """`data` (a model's JSON dump) with the values of `model`'s secret fields replaced."""
    if isinstance(model, BaseModel):
        out: dict[str, Any] = {}
        for name, value in data.items():
            attr = getattr(model, name, None)
            if isinstance(attr, SecretStr):
                out[name] = REDACTED
            elif name == "database_url" and isinstance(value, str):
                out[name] = _redact_url(value)
            else:
                out[name] = redact(value, attr)
        return out
    if isinstance(model, list) and isinstance(data, list):
        return [redact(d, m) for d, m in zip(data, model, strict=True)]
    return data


def _redact_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:********@host/db"""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':' + REDACTED if colon else ''}@{host}"
