"""Notification templates: CRUD for the tenant's own, the built-ins read-only, previews."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from watchkeeper.api.deps import Context, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.templates import (
    PreviewPublic,
    PreviewRequest,
    TemplateBody,
    TemplateCreate,
    TemplatePublic,
    UnsavedPreviewRequest,
)
from watchkeeper.db.tables import StoredTemplate
from watchkeeper.notify import template_store
from watchkeeper.notify.templates import (
    NotificationTemplate,
    TemplateBudgetError,
    TemplateRenderError,
    TemplateValidationError,
    preview,
)

router = APIRouter(prefix="/api/v1/templates", tags=["notification templates"])


def _invalid(exc: TemplateValidationError) -> ApiError:
    return ApiError(
        422,
        f"template error in {exc}",
        code="invalid_template",
        details={"part": exc.part, "line": exc.line, "message": exc.message},
    )


def _build(template_id: str, body: TemplateBody) -> NotificationTemplate:
    try:
        return template_store.build_template(
            template_id=template_id,
            name=body.name,
            subject_template=body.subject_template,
            body_template=body.body_template,
            html_template=body.html_template,
            channels=body.channels,
            priority=body.priority,
            variables=body.variables,
        )
    except TemplateValidationError as exc:
        raise _invalid(exc) from None


def _public(template: NotificationTemplate, row: StoredTemplate | None = None) -> TemplatePublic:
    return TemplatePublic(
        id=template.id,
        name=template.name,
        subject_template=template.subject_template,
        body_template=template.body_template,
        html_template=template.html_template,
        channels=list(template.channels),
        priority=template.priority,
        variables=list(row.variables) if row else [],
        builtin=row is None,
        created_at=row.created_at if row else None,
        updated_at=row.updated_at if row else None,
    )


def _preview(template: NotificationTemplate, variables: dict[str, Any] | None) -> PreviewPublic:
    try:
        message = preview(template, variables)
    except TemplateBudgetError as exc:  # a viewer may preview: the budget is the boundary
        raise ApiError(
            422,
            f"template over its render budget in {exc}",
            code="template_budget_exceeded",
            details={"part": exc.part, "limit": exc.limit, "message": exc.message},
        ) from None
    except TemplateRenderError as exc:
        raise ApiError(
            422,
            f"template failed on these variables: {exc}",
            code="template_render_error",
            details={"part": exc.part, "message": exc.message},
        ) from None
    return PreviewPublic(
        subject=message.subject, text=message.text, html=message.html, priority=message.priority
    )


@router.get(
    "",
    response_model=list[TemplatePublic],
    dependencies=[Depends(require("templates:read"))],
    summary="The built-in template of every channel, then the tenant's templates",
)
def list_templates(db: TenantDB) -> list[TemplatePublic]:
    builtins = [_public(t) for t in template_store.builtin_templates()]
    return builtins + [
        _public(template_store.template_of(row), row) for row in template_store.list_templates(db)
    ]


@router.post(
    "",
    status_code=201,
    response_model=TemplatePublic,
    dependencies=[Depends(require("templates:write"))],
    summary="Create a template; syntax errors and undefined variables answer 422 with the line",
)
def create_template(body: TemplateCreate, db: TenantDB, context: Context) -> TemplatePublic:
    template = _build(body.id, body)
    row = template_store.save_template(
        db, template, variables=body.variables, now=context.clock.now(), create=True
    )
    return _public(template, row)


@router.post(
    "/preview",
    response_model=PreviewPublic,
    dependencies=[Depends(require("templates:read"))],
    summary="Render an unsaved template against the sample alert (or the given variables)",
)
def preview_unsaved(body: UnsavedPreviewRequest) -> PreviewPublic:
    return _preview(_build("preview", body), body.sample)


@router.get(
    "/{template_id}",
    response_model=TemplatePublic,
    dependencies=[Depends(require("templates:read"))],
)
def get_template(template_id: str, db: TenantDB) -> TemplatePublic:
    template, builtin = template_store.get_template(db, template_id)
    return _public(template, None if builtin else template_store.find_row(db, template_id))


@router.put(
    "/{template_id}",
    response_model=TemplatePublic,
    dependencies=[Depends(require("templates:write"))],
    summary="Replace a template (built-ins are read-only: 409)",
)
def replace_template(
    template_id: str, body: TemplateBody, db: TenantDB, context: Context
) -> TemplatePublic:
    if template_id in template_store.BUILTIN_IDS:
        raise ApiError(409, f"{template_id!r} is a built-in template and read-only")
    template = _build(template_id, body)
    row = template_store.save_template(
        db, template, variables=body.variables, now=context.clock.now(), create=False
    )
    return _public(template, row)


@router.delete(
    "/{template_id}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require("templates:write"))],
)
def delete_template(template_id: str, db: TenantDB) -> Response:
    template_store.delete_template(db, template_id)
    return Response(status_code=204)


@router.post(
    "/{template_id}/preview",
    response_model=PreviewPublic,
    dependencies=[Depends(require("templates:read"))],
    summary="Render a stored or built-in template against the sample alert",
)
def preview_template(
    template_id: str, db: TenantDB, body: PreviewRequest | None = None
) -> PreviewPublic:
    template, _ = template_store.get_template(db, template_id)
    return _preview(template, body.variables if body else None)
