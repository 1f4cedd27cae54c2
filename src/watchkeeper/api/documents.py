"""Request bodies written as YAML or JSON, as Prometheus rule files are: rule groups and SLOs.

Both resources answer the same errors: 422 for an empty body or a document that does not
validate (naming every problem's place), 400 for a body that is not JSON or YAML at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from fastapi import Request

from watchkeeper.alert.rules import RuleValidationError, parse_yaml
from watchkeeper.api.errors import ApiError

T = TypeVar("T")


async def document_body(request: Request, what: str, kind: str, validate: Callable[[Any], T]) -> T:
    """The body parsed by its content type (YAML unless it says JSON), then `validate`d.

    `what` names one document in messages ("a rule group"), `kind` its kind ("rule group").
    """
    raw = await request.body()
    if not raw.strip():
        raise ApiError(422, f"the body must be {what} in YAML or JSON")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        data: Any
        if media == "application/json":
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, f"request body is not valid JSON: {exc}") from None
        else:
            data = parse_yaml(raw, "body")
        return validate(data)
    except RuleValidationError as exc:
        details = [{"field": p.location, "message": p.message} for p in exc.problems]
        summary = "; ".join(str(p) for p in exc.problems[:5])
        raise ApiError(422, f"invalid {kind}: {summary}", details=details) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid YAML: {exc}") from None
