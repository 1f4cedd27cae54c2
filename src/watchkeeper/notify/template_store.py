"""Tenant templates in the database, next to the read-only built-ins, checked when saved.

A template is refused at save time when it does not compile (`TemplateValidationError` with
the part and line) or when it reads a top-level variable that no notification provides
(`alert`, `alerts`, `status`, `incident`, ... or one the template declares in `variables`):
an undefined name would otherwise render empty in every message, unnoticed.

`load_template(db, template_id, channel)` is what delivery uses: the tenant's template when
it exists and lists the channel, else the built-in one for the channel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from jinja2 import TemplateSyntaxError, meta, nodes
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import StoredTemplate
from watchkeeper.tenancy.service import ConflictError, NotFoundError

from .base import NotificationChannel, NotificationPriority
from .default_templates import DEFAULT_TEMPLATES
from .templates import _TEXT, NotificationTemplate, TemplateValidationError

KNOWN_VARIABLES = frozenset(
    {
        # alert notifications (notify/templates.py) and the Alertmanager webhook body
        "alert",
        "alerts",
        "status",
        "receiver",
        "groupKey",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "truncatedAlerts",
        "changes",
        "version",
        # incidents and escalation (oncall/worker.py)
        "incident",
        "escalation",
    }
)
TEMPLATE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
BUILTIN_IDS = frozenset(t.id for t in DEFAULT_TEMPLATES.values()) | {"default"}


def builtin_templates() -> list[NotificationTemplate]:
    return list(DEFAULT_TEMPLATES.values())


def undefined_names(part: str, source: str, allowed: Iterable[str]) -> None:
    """Raise TemplateValidationError for the first top-level name outside `allowed`."""
    try:
        tree = _TEXT.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateValidationError(part, exc.message or str(exc), exc.lineno) from exc
    unknown = meta.find_undeclared_variables(tree) - set(allowed) - set(_TEXT.globals)
    if not unknown:
        return
    first: tuple[int, str] | None = None
    for node in tree.find_all(nodes.Name):
        if node.name in unknown and node.ctx == "load":
            if first is None or node.lineno < first[0]:
                first = (node.lineno, node.name)
    line, name = first or (None, sorted(unknown)[0])
    raise TemplateValidationError(
        part,
        f"undefined variable {name!r}; notifications provide "
        f"{', '.join(sorted(KNOWN_VARIABLES))} (declare others in `variables`)",
        line,
    )


def build_template(
    *,
    template_id: str,
    name: str,
    subject_template: str,
    body_template: str,
    html_template: str | None = None,
    channels: Iterable[NotificationChannel | str] = tuple(NotificationChannel),
    priority: NotificationPriority | str = NotificationPriority.NORMAL,
    variables: Iterable[str] = (),
) -> NotificationTemplate:
    """A validated template: compiles every part, then checks the names each part reads."""
    template = NotificationTemplate(
        template_id,
        name,
        subject_template,
        body_template,
        tuple(NotificationChannel(c) for c in channels),
        NotificationPriority(priority),
        html_template=html_template,
    )
    allowed = KNOWN_VARIABLES | set(variables)
    undefined_names("subject_template", subject_template, allowed)
    undefined_names("body_template", body_template, allowed)
    if html_template is not None:
        undefined_names("html_template", html_template, allowed)
    return template


def template_of(row: StoredTemplate) -> NotificationTemplate:
    return NotificationTemplate(
        row.template_id,
        row.name,
        row.subject_template,
        row.body_template,
        tuple(NotificationChannel(c) for c in row.channels),
        NotificationPriority(row.priority),
        html_template=row.html_template,
    )


def list_templates(db: Session) -> list[StoredTemplate]:
    return list(db.scalars(select(StoredTemplate).order_by(StoredTemplate.template_id)))


def find_row(db: Session, template_id: str) -> StoredTemplate | None:
    return db.scalar(select(StoredTemplate).where(StoredTemplate.template_id == template_id))


def get_template(db: Session, template_id: str) -> tuple[NotificationTemplate, bool]:
    """(template, is_builtin); raises NotFoundError."""
    for builtin in DEFAULT_TEMPLATES.values():
        if builtin.id == template_id:
            return builtin, True
    row = find_row(db, template_id)
    if row is None:
        raise NotFoundError(f"template {template_id!r} not found")
    return template_of(row), False


def load_template(
    db: Session, template_id: str, channel: NotificationChannel | str
) -> NotificationTemplate:
    """The template delivery renders with: the tenant's `template_id` if it covers `channel`,
    else the channel's built-in (also for an empty, unknown or deleted id)."""
    kind = NotificationChannel(channel)
    if template_id and template_id not in BUILTIN_IDS:
        row = find_row(db, template_id)
        if row is not None:
            template = template_of(row)
            if template.applies_to(kind):
                return template
    for builtin in DEFAULT_TEMPLATES.values():
        if builtin.id == template_id and builtin.applies_to(kind):
            return builtin
    return DEFAULT_TEMPLATES[kind]


def save_template(
    db: Session,
    template: NotificationTemplate,
    *,
    variables: Iterable[str],
    now: datetime,
    create: bool,
) -> StoredTemplate:
    if template.id in BUILTIN_IDS:
        raise ConflictError(f"{template.id!r} is a built-in template and read-only; use another id")
    row = find_row(db, template.id)
    if create and row is not None:
        raise ConflictError(f"template {template.id!r} already exists")
    if not create and row is None:
        raise NotFoundError(f"template {template.id!r} not found")
    if row is None:
        row = StoredTemplate(template_id=template.id, created_at=now)
        db.add(row)
    row.name = template.name
    row.subject_template = template.subject_template
    row.body_template = template.body_template
    row.html_template = template.html_template
    row.channels = [c.value for c in template.channels]
    row.priority = template.priority.value
    row.variables = sorted(set(variables))
    row.updated_at = now
    db.flush()
    return row


def delete_template(db: Session, template_id: str) -> None:
    if template_id in BUILTIN_IDS:
        raise ConflictError(f"{template_id!r} is a built-in template and cannot be deleted")
    row = find_row(db, template_id)
    if row is None:
        raise NotFoundError(f"template {template_id!r} not found")
    db.delete(row)
