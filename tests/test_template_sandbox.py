"""The bounded sandbox every tenant template renders in: each kind of bomb stops at a limit
that names its setting, and ordinary templates render as before."""

from __future__ import annotations

import time

import pytest

from watchkeeper.template_sandbox import BoundedSandbox, RenderBudgetError, RenderLimits, render

LIMITS = RenderLimits(seconds=0.2, output_bytes=100_000, value_size=100_000)
ENV = BoundedSandbox()


def run(source: str) -> str:
    return render(ENV.from_string(source), {"items": list(range(5))}, limits=LIMITS)


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "render_seconds",
        ),
        (
            "{% for c in 'x' * 90000 %}{% for d in 'x' * 90000 %}{% endfor %}{% endfor %}",
            "render_seconds",
        ),
        (
            "{% macro m(n) %}{% if n < 40 %}{{ m(n+1) }}{{ m(n+1) }}{% endif %}{% endmacro %}{{ m(0) }}",
            "render_seconds",
        ),
        (
            "{% for i in range(9) recursive %}{% if loop.depth < 30 %}{{ loop(range(9)) }}{% endif %}{% endfor %}",
            "render_seconds",
        ),
        (
            "{% for i in range(9) recursive %}{% if loop.depth < 30 %}{{ loop('abcdefghi') }}{% endif %}{% endfor %}",
            "render_seconds",
        ),
        ("{% for i in range(9000) %}{{ 'x' * 50 }}{% endfor %}", "output_bytes"),
        (
            "{% set x %}{% for i in range(9000) %}{{ 'y' * 9000 }}{% endfor %}{% endset %}",
            "output_bytes",
        ),
        (
            "{% macro m() %}{% for i in range(9000) %}{{ 'y' * 9000 }}{% endfor %}{% endmacro %}"
            "{{ m() | length }}",
            "output_bytes",
        ),
        (
            "{% filter length %}{% for i in range(9000) %}{{ 'y' * 9000 }}{% endfor %}{% endfilter %}",
            "output_bytes",
        ),
        (
            "{% set x %}{% for i in range(9000) %}" + "z" * 9000 + "{% endfor %}{% endset %}",
            "value_size",
        ),
        ("{{ ('a' * 10**8) | length }}", "value_size"),
        ("{{ [0] * 10**8 }}", "value_size"),
        ("{{ range(10**8) | length }}", "value_size"),
        ("{{ 2 ** 100000000 }}", "value_size"),
        ("{{ (10**4000) * (10**4000) * (10**4000) * (10**4000) * (10**4000) }}", "value_size"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "value_size",
        ),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "value_size",
        ),
        (
            "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns.s }}",
            "value_size",
        ),
        ("{% set a = [0] * 9999 %}{% set b = [a] * 9999 %}{{ b | sort | length }}", "value_size"),
        (
            "{% set a = [0] * 9999 %}{{ [a, a, a, a, a, a, a, a, a, a, a, a] | string }}",
            "value_size",
        ),
        ("{{ 'a' | center(10**9) }}", "value_size"),
        ("{{ 'a'.rjust(10**9) }}", "value_size"),
        ("{{ '{:>1000000000}'.format(1) }}", "value_size"),
        ("{{ '{0:{1}}'.format(1, 10**9) }}", "value_size"),
        ("{{ '%.1000000000f' % 1 }}", "value_size"),
        ("{{ '%*d' % (10**9, 1) }}", "value_size"),
        ("{{ '%1000000000d' | format(1) }}", "value_size"),
        ("{{ ('x' * 9000) | replace('x', 'y' * 9000) }}", "value_size"),
        ("{{ ('x' * 9000).replace('x', 'y' * 9000) }}", "value_size"),
        ("{{ ('x\n' * 9000) | indent(9000) }}", "value_size"),
        ("{{ ('\t' * 9000).expandtabs(9000) }}", "value_size"),
        ("{{ ('x' * 9000) | wordwrap(1, wrapstring='y' * 9000) }}", "value_size"),
        ("{{ ('y' * 9000).join(['x'] * 9000) }}", "value_size"),
        ("{{ (['x' * 9000] * 90) | join('y') }}", "value_size"),
        ("{{ [1] | batch(10**9, 0) | list }}", "value_size"),
        ("{{ lipsum(10**6) }}", "value_size"),
        ("{% set a = [[0] * 9] * 9999 %}{{ a | sum(start=[]) | length }}", "value_size"),
    ],
)
def test_bombs_stop_at_the_limit_they_hit(source: str, limit: str) -> None:
    started = time.monotonic()
    with pytest.raises(RenderBudgetError) as caught:
        run(source)

    assert caught.value.limit == f"security.template_{limit}"
    assert time.monotonic() - started < 1.5


def test_ordinary_templates_render_as_before() -> None:
    source = (
        "{% for i in items %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},"
        "{% endif %}{% endfor %} {{ items | join('-') }} {{ '%5.1f' | format(3.14159) }} "
        "{{ '{:>4}'.format('x') }} {{ 'ab' * 2 }} {{ 2 ** 10 }} {{ 'a' ~ 1 }} "
        "{{ {'k': [1, 2]} | tojson }} {% set a, b = 1, 2 %}{{ a + b }}"
    )
    assert run(source) == '1/5,2/5,3/5,4/5,5/5 0-1-2-3-4   3.1    x abab 1024 a1 {"k": [1, 2]} 3'


def test_the_sandbox_still_refuses_internals() -> None:
    with pytest.raises(Exception, match=r"unsafe|not safely"):
        run("{{ ''.__class__.__mro__[1].__subclasses__() }}")
