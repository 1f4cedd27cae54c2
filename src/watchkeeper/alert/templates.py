"""Alert annotation and label templates: Jinja2 in a sandbox, with Prometheus' variables.

Prometheus writes `{{ $labels.instance }}` and `{{ $value }}` (Go templates). Jinja2 has no
`$` names, so inside `{{ ... }}` and `{% ... %}` tags `$labels`, `$value` and
`$externalLabels` are rewritten to `labels`, `value` and `external_labels` before
compiling; text outside tags is left alone. Pipes work as Jinja filters
(`{{ $value | humanize }}`); Go's call syntax (`{{ humanize $value }}`) does not and is
refused at load. The sandbox (`template_sandbox.BoundedSandbox`) keeps a rule author from
reaching Python internals or mutating the context, and bounds each render's time, output and
intermediate values: one tenant's annotation cannot stall the evaluator every tenant shares.

Example:
    template = compile_template("{{ $labels.host }} at {{ $value | humanizePercentage }}")
    template.render(labels={"host": "db-1"}, value=0.93)  # 'db-1 at 93%'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from watchkeeper.template_sandbox import BoundedSandbox, Deadline, RenderBudgetError, render

_TAG = re.compile(r"({{.*?}}|{%.*?%})", re.DOTALL)
_VARIABLE = re.compile(r"\$(labels|value|externalLabels)\b")
_RENAMES = {"labels": "labels", "value": "value", "externalLabels": "external_labels"}
_GO_CALL = re.compile(r"{{-?\s*(humanize\w*|printf|title|toUpper|toLower)\s+[$\"\w]")


class TemplateError(ValueError):
    """A template that does not compile or render; the message says why. `limit` names the
    budget setting when the render was stopped for going over it."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        self.limit = limit
        super().__init__(message)


def to_jinja(text: str) -> str:
    """Rewrite Prometheus' `$labels`/`$value`/`$externalLabels` inside template tags."""

    def rename(tag: re.Match[str]) -> str:
        return _VARIABLE.sub(lambda m: _RENAMES[m.group(1)], tag.group(0))

    return _TAG.sub(rename, text)


def _humanize(value: Any) -> str:
    """Prometheus' humanize: SI prefixes (1.5k, 3M, 25m)."""
    number = float(value)
    if number == 0 or math.isnan(number) or math.isinf(number):
        return f"{number:.4g}"
    if abs(number) >= 1:
        for prefix in ("", "k", "M", "G", "T", "P", "E", "Z"):
            if abs(number) < 1000:
                return f"{number:.4g}{prefix}"
            number /= 1000
        return f"{number:.4g}Y"
    for prefix in ("", "m", "µ", "n", "p", "f", "a", "z"):
        if abs(number) >= 1:
            return f"{number:.4g}{prefix}"
        number *= 1000
    return f"{number:.4g}y"


def _humanize_1024(value: Any) -> str:
    number = float(value)
    for prefix in ("", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi"):
        if abs(number) < 1024:
            return f"{number:.4g}{prefix}"
        number /= 1024
    return f"{number:.4g}Yi"


def _humanize_percentage(value: Any) -> str:
    return f"{float(value) * 100:.4g}%"


def _humanize_duration(value: Any) -> str:
    """Seconds as Prometheus prints them: 1d 2h 3m 4s, or 250ms below a second."""
    seconds = float(value)
    if math.isnan(seconds) or math.isinf(seconds):
        return f"{seconds:.4g}"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.4g}ms"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or not parts:
        parts.append(f"{secs}s")
    return sign + " ".join(parts)


def _environment() -> BoundedSandbox:
    env = BoundedSandbox(autoescape=False, keep_trailing_newline=True)
    env.add_filters(
        {
            "humanize": _humanize,
            "humanize1024": _humanize_1024,
            "humanizePercentage": _humanize_percentage,
            "humanizeDuration": _humanize_duration,
            "toUpper": str.upper,
            "toLower": str.lower,
            "title": str.title,
        }
    )
    return env


_ENV = _environment()


@dataclass(frozen=True)
class Template:
    """A compiled template; `render` never raises for a missing label (it renders empty)."""

    source: str
    _compiled: jinja2.Template | None

    def render(
        self,
        *,
        labels: Mapping[str, str],
        value: float,
        external_labels: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Render under the template budget (and `deadline`, the group's, when earlier)."""
        if self._compiled is None:
            return self.source
        variables = {
            **dict(extra or {}),
            "labels": dict(labels),
            "value": value,
            "external_labels": dict(external_labels or {}),
        }
        try:
            return render(self._compiled, variables, deadline=deadline)
        except RenderBudgetError as exc:
            raise TemplateError(str(exc), limit=exc.limit) from exc
        except Exception as exc:  # a filter or operator can raise anything (1/0, int('x'))
            raise TemplateError(f"error rendering template {self.source!r}: {exc}") from exc


def compile_template(source: str) -> Template:
    """Compile once (at rule load); raises TemplateError with the line and reason."""
    if "{{" not in source and "{%" not in source:
        return Template(source, None)  # plain text: no Jinja cost per evaluation
    go_call = _GO_CALL.search(source)
    if go_call is not None:
        raise TemplateError(
            f"Go template call syntax {go_call.group(0)!r} is not supported; "
            "use a filter instead, e.g. {{ $value | humanize }}"
        )
    try:
        return Template(source, _ENV.from_string(to_jinja(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(str(exc)) from exc
