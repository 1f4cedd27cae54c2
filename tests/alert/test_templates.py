"""Annotation templates: Prometheus' $-variables in a Jinja2 sandbox."""

from __future__ import annotations

import pytest

from watchkeeper.alert.templates import TemplateError, compile_template, to_jinja


def test_prometheus_variables_are_rewritten_only_inside_tags() -> None:
    assert to_jinja("cost $value: {{ $value }} on {{ $labels.host }}") == (
        "cost $value: {{ value }} on {{ labels.host }}"
    )


def test_labels_value_and_filters_render() -> None:
    template = compile_template(
        "{{ $labels.host }}: {{ $value | humanizePercentage }} "
        "({{ $value | humanize }}, up {{ 93784 | humanizeDuration }})"
    )
    assert template.render(labels={"host": "db-1"}, value=0.935) == (
        "db-1: 93.5% (935m, up 1d 2h 3m 4s)"
    )


def test_missing_label_renders_empty() -> None:
    assert compile_template("[{{ $labels.nope }}]").render(labels={}, value=1) == "[]"


def test_the_sandbox_refuses_python_internals() -> None:
    template = compile_template("{{ $labels.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError):
        template.render(labels={}, value=1)


def test_unknown_filter_is_an_error_at_compile_time() -> None:
    with pytest.raises(TemplateError):
        compile_template("{{ $value | nosuchfilter }}")
