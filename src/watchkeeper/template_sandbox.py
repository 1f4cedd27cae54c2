"""Every tenant template renders here: Jinja2's immutable sandbox with a time and size budget.

The plain sandbox stops a template from reaching Python internals, not from burning a shared
worker: `{% for i in range(100000) %}{% for j in range(400) %}{% endfor %}{% endfor %}` or
`{{ ('a' * 10**8) | length }}` run happily. `BoundedSandbox` adds three kinds of bound, and
`render` is the one way to run a template under them:

- time: a deadline (`template_render_seconds`, or an earlier one the caller passes, e.g. the
  rule group's budget) checked on every loop iteration (each `{% for %}` iterable is wrapped
  at parse time, and `loop(...)` of recursive loops too), on every call (macros calling
  themselves, methods, globals), every intercepted operator, every filter and between output
  chunks. A loop with an empty body yields no output, so checking only between chunks would
  not do.
- intermediate values (`template_value_size`): `*`, `+`, `**` and `%` check their operands'
  sizes *before* computing; `range`, `str.center`/`ljust`/`rjust`/`zfill`/`replace`/`join`/
  `expandtabs`/`translate`, `str.format` field widths, and the growing filters (`center`,
  `indent`, `replace`, `format`, `wordwrap`, `join`, `batch`, `slice`) estimate their result
  first; `~` and every call/filter result is checked after, so repeated doubling stops at
  twice the limit. Containers count nested (`[a] * 10**5` with `a` a 10**5-item list is
  10**10, not 10**5): list, tuple and dict literals, `~` operands, printed values and the
  arguments of filters that turn them into text are weighed (once per object and render)
  before Python turns them into text or sorts them in one uninterruptible call.
- output (`template_output_bytes`): `Template.generate()` is streamed and its chunks counted,
  and every `{{ ... }}` is counted too, since text captured by `{% set %}`/`{% filter %}`
  blocks and macros never reaches the stream; joining a capture is checked before it joins.

Over a limit, `render` raises `RenderBudgetError` naming the setting. Limits come from
`SecuritySettings` through `configure` (called by the composition root); a call may pass its
own.

    limits = RenderLimits(seconds=0.5, output_bytes=10_000, value_size=10_000)
    render(BoundedSandbox().from_string("{{ x }}"), {"x": 1}, limits=limits)  # '1'

Why one module of ~630 lines: every guard here reads the same per-render budget and only the
whole set bounds a template, so it reads (and is reviewed) as one sandbox.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, nodes
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

MAX_INT_BITS = 16_384
"""Largest integer (in bits, about 4,900 digits) `*` and `**` may produce; Python refuses to
print longer ones anyway, and computing `2 ** 10**9` would take seconds."""


@dataclass(frozen=True)
class RenderLimits:
    """The budget of one render (see `SecuritySettings` for what each means)."""

    seconds: float = 1.0
    output_bytes: int = 1_000_000
    value_size: int = 1_000_000


class RenderBudgetError(Exception):
    """A render went over a limit; `limit` is the setting's name, the message says by what."""

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        self.message = message
        super().__init__(f"{message} (limit {limit})")


@dataclass(frozen=True)
class Deadline:
    """An absolute `time.monotonic()` deadline and the setting that set it."""

    at: float
    limit: str
    seconds: float


class _Budget:
    """What the running render may still spend; found through a context variable."""

    __slots__ = ("deadline", "limits", "produced", "weights")

    def __init__(self, limits: RenderLimits, deadline: Deadline) -> None:
        self.limits = limits
        self.deadline = deadline
        # id -> (the object, kept alive so the id stays its own; its weight): containers are
        # immutable inside the sandbox, so one walk per object and render is enough.
        self.weights: dict[int, tuple[Any, int]] = {}
        self.produced = 0  # characters of every `{{ }}`, streamed or captured by a block

    def produce(self, size: int) -> None:
        self.produced += size
        if self.produced > self.limits.output_bytes:
            raise RenderBudgetError(
                "security.template_output_bytes",
                f"template output (counting text captured by set/filter blocks and macros) "
                f"is over {self.limits.output_bytes}",
            )

    def weight(self, value: Any) -> int:
        """A nested value's size: items at every level plus string lengths, counted up to
        just past `value_size` (a list of 10**5 references to one 10**5-item list is 10**10,
        though `len()` says 10**5: printing, joining or sorting it would take that long)."""
        cached = self.weights.get(id(value))
        if cached is not None and cached[0] is value:
            return cached[1]
        cap, total, stack = self.limits.value_size, 0, [value]
        while stack and total <= cap:
            item = stack.pop()
            kind = type(item)
            if kind is int or kind is float or kind is bool or item is None:
                total += 1
            elif isinstance(item, (str, bytes)):
                total += len(item) + 1
            elif item is not value and (known := self.weights.get(id(item))) and known[0] is item:
                total += known[1]  # checked when it was made: shared references cost nothing
            elif isinstance(item, (list, tuple, set, frozenset)):
                total += len(item) + 1
                stack.extend(item)
            elif isinstance(item, Mapping):
                total += len(item) + 1
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                total += 1
        self.remember(value, total)
        return total

    def remember(self, value: Any, weight: int) -> None:
        if isinstance(value, _CONTAINERS):
            self.weights[id(value)] = (value, weight)

    def nested(self, value: Any, what: str) -> None:
        """Refuse a container whose nested size is over `value_size`."""
        if isinstance(value, _CONTAINERS):
            self.size(self.weight(value), f"{what} (counting nested items)")

    def tick(self) -> None:
        if time.monotonic() > self.deadline.at:
            raise RenderBudgetError(
                self.deadline.limit,
                f"template rendering ran out of time ({self.deadline.seconds:g}s)",
            )

    def size(self, size: int, what: str, *, items: bool = False) -> None:
        """Strings may reach `value_size` characters, sequences a tenth of that in items
        (each item costs Jinja a microsecond or more in a loop, sort or filter)."""
        limit = self.limits.value_size // 10 if items else self.limits.value_size
        if size > limit:
            raise RenderBudgetError(
                "security.template_value_size", f"{what} would be {size} long, more than {limit}"
            )


_DEFAULTS = RenderLimits()
_CURRENT: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "template_budget", default=None
)


def configure(limits: RenderLimits) -> None:
    """Set the process's default limits (from `SecuritySettings`; called at start-up)."""
    global _DEFAULTS
    _DEFAULTS = limits


def default_limits() -> RenderLimits:
    return _DEFAULTS


def limits_from(security: Any) -> RenderLimits:
    """RenderLimits from a `SecuritySettings`."""
    return RenderLimits(
        seconds=security.template_render_seconds,
        output_bytes=security.template_output_bytes,
        value_size=security.template_value_size,
    )


def _budget() -> _Budget:
    """The running render's budget; outside `render` (compile-time folding) sizes still count."""
    budget = _CURRENT.get()
    if budget is None:
        return _Budget(_DEFAULTS, Deadline(float("inf"), "security.template_render_seconds", 0))
    return budget


def render(
    template: Template,
    variables: Mapping[str, Any],
    *,
    limits: RenderLimits | None = None,
    deadline: Deadline | None = None,
) -> str:
    """Render under the budget: raises RenderBudgetError over any limit, else what the
    template raises. `deadline`, when earlier than the render's own, wins (a group budget)."""
    limits = limits or _DEFAULTS
    own = Deadline(
        time.monotonic() + limits.seconds, "security.template_render_seconds", limits.seconds
    )
    budget = _Budget(limits, deadline if deadline is not None and deadline.at < own.at else own)
    token = _CURRENT.set(budget)
    try:
        out: list[str] = []
        size = 0
        for chunk in template.generate(variables):
            size += len(chunk.encode("utf-8", "replace"))
            if size > limits.output_bytes:
                raise RenderBudgetError(
                    "security.template_output_bytes",
                    f"template output is over {limits.output_bytes} bytes",
                )
            out.append(chunk)
            budget.tick()
        return "".join(out)
    finally:
        _CURRENT.reset(token)


# -- size estimates, before the work is done ----------------------------------------------

_SIZED = (str, bytes, list, tuple)
_CONTAINERS = (list, tuple, dict, set, frozenset)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([^a-zA-Z%]*)[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_spec_numbers(spec: str, budget: _Budget) -> None:
    """Widths and precisions in a format spec (`{:>99999}`, `%.99999f`) are output sizes."""
    for number in _NUMBER.findall(spec):
        budget.size(int(number) if len(number) < 20 else 10**20, "a formatted field")


def _check_percent(fmt: str, args: Any, budget: _Budget) -> None:
    specs = [m.group(1) for m in _PERCENT_SPEC.finditer(fmt)]
    for spec in specs:
        _check_spec_numbers(spec, budget)
    if any("*" in spec for spec in specs):  # width/precision taken from the arguments
        values = args if isinstance(args, tuple) else (args,)
        for value in values:
            if _is_int(value):
                budget.size(abs(value), "a formatted field")


def _is_items(value: Any) -> bool:
    return isinstance(value, (list, tuple, range))


def _check_multiply(left: Any, right: Any, budget: _Budget) -> int | None:
    """Refuse an oversized product; returns the product's nested weight when known."""
    if isinstance(right, _SIZED) and _is_int(left):
        left, right = right, left
    if isinstance(left, _SIZED) and _is_int(right):
        times: int = max(right, 0)
        budget.size(len(left) * times, "a repeated sequence", items=_is_items(left))
        if _is_items(left):
            weight = budget.weight(left) * times
            budget.size(weight, "a repeated sequence (nested)")
            return weight
    elif _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise RenderBudgetError(
            "security.template_value_size", f"a product over {MAX_INT_BITS} bits"
        )
    return None


def _check_power(base: Any, exponent: Any) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise RenderBudgetError(
                "security.template_value_size", f"a power over {MAX_INT_BITS} bits"
            )


def _check_result(value: Any, budget: _Budget) -> None:
    if isinstance(value, (*_SIZED, range)):
        budget.size(len(value), "a value", items=_is_items(value))
    budget.nested(value, "a value")


def _joined_size(items: list[Any], separator: str, budget: _Budget) -> None:
    budget.size(len(items), "a joined sequence", items=True)
    total = len(separator) * max(len(items) - 1, 0)
    budget.size(total, "a joined string")
    for item in items:
        total += len(item) if isinstance(item, str) else len(str(item))
        budget.size(total, "a joined string")


def _replaced_size(text: str, old: str, new: str, count: Any, budget: _Budget) -> None:
    hits = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        hits = min(hits, count)
    budget.size(len(text) + hits * max(len(new) - len(old), 0), "a replaced string")


def _check_str_method(text: str, name: str, args: tuple[Any, ...], budget: _Budget) -> None:
    """`str` methods whose result can be far longer than their inputs."""
    if name in ("center", "ljust", "rjust", "zfill") and args and _is_int(args[0]):
        budget.size(args[0], f"str.{name}()")
    elif name == "expandtabs":
        size = args[0] if args and _is_int(args[0]) else 8
        budget.size(len(text) + text.count("\t") * max(size, 0), "str.expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _replaced_size(text, str(args[0]), str(args[1]), args[2] if len(args) > 2 else -1, budget)
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        budget.size(len(text) * max(longest, 1), "str.translate()")


# -- the growing filters, guarded ---------------------------------------------------------


def _value_args(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The filter's own arguments, without the context/environment Jinja passes first."""
    return args[1:] if getattr(func, "jinja_pass_arg", None) is not None else args


def _guard_center(budget: _Budget, value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    if _is_int(width):
        budget.size(width, "center()")


def _guard_indent(budget: _Budget, value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text = str(value)
    step = len(width) if isinstance(width, str) else width if _is_int(width) else 0
    budget.size(len(text) + (text.count("\n") + 1) * max(step, 0), "indent()")


def _guard_replace(
    budget: _Budget, value: Any, old: Any = "", new: Any = "", count: Any = None, **__: Any
) -> None:
    _replaced_size(str(value), str(old), str(new), count, budget)


def _guard_format(budget: _Budget, value: Any, *args: Any, **kwargs: Any) -> None:
    _check_percent(str(value), kwargs or args, budget)


def _guard_wordwrap(
    budget: _Budget,
    value: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    *_: Any,
    **kwargs: Any,
) -> None:
    wrap = kwargs.get("wrapstring", wrapstring)
    budget.size(len(str(value)) * (1 + len(str(wrap or "\n"))), "wordwrap()")


def _guard_count(budget: _Budget, value: Any, count: Any = 1, *_: Any, **__: Any) -> None:
    if _is_int(count):
        budget.size(count, "batch()/slice()", items=True)


_GUARDS: dict[str, Callable[..., None]] = {
    "center": _guard_center,
    "indent": _guard_indent,
    "replace": _guard_replace,
    "format": _guard_format,
    "wordwrap": _guard_wordwrap,
    "batch": _guard_count,
    "slice": _guard_count,
}


def _guard_sum(
    budget: _Budget, value: Any, attribute: Any = None, start: Any = 0, **kwargs: Any
) -> None:
    start = kwargs.get("start", start)
    if isinstance(start, _SIZED):  # sum(start=[]) concatenates every item
        items = list(value) if isinstance(value, Iterable) else []
        total = len(start) + sum(len(i) for i in items if isinstance(i, _SIZED))
        budget.size(total, "sum()", items=True)


_GUARDS["sum"] = _guard_sum

# Filters that take containers apart without printing them; every other filter may turn its
# arguments into text (`upper`, `tojson`, `string`, our own...), so a container argument must
# not be bigger, nested, than `value_size` there.
_CONTAINER_FILTERS = frozenset(
    {
        "attr", "batch", "count", "d", "default", "dictsort", "first", "groupby", "items",
        "join", "last", "length", "list", "map", "max", "min", "random", "reject",
        "rejectattr", "reverse", "select", "selectattr", "slice", "sort", "sum", "unique",
    }
)  # fmt: skip


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    guard = _GUARDS.get(name)
    prints = name not in _CONTAINER_FILTERS

    @functools.wraps(func)  # keeps `jinja_pass_arg`, so Jinja passes the same arguments
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        own = _value_args(func, args)
        if prints:
            for arg in (*own, *kwargs.values()):
                budget.nested(arg, f"the input of {name}()")
        if name == "join" and own and isinstance(own[0], Iterable):
            items = list(own[0])
            separator = own[1] if len(own) > 1 else kwargs.get("d", "")
            _joined_size(items, str(separator), budget)
            args = (*args[: len(args) - len(own)], items, *own[1:])
        elif guard is not None and own:
            guard(budget, *own, **kwargs)
        result = func(*args, **kwargs)
        _check_result(result, budget)
        return result

    return bounded


def _range(*args: int) -> range:
    budget = _budget()
    budget.tick()
    numbers = range(*args)
    budget.size(len(numbers), "range()", items=True)
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    budget = _budget()
    budget.size(n * max, "lipsum()")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates: the iterable, with the deadline checked per item."""
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


def _bounded_concat(value: Any) -> Any:
    """`a ~ b` (and its doubling in a loop) checked after joining."""
    _check_result(value, _budget())
    return value


def _bounded_output(value: Any) -> Any:
    """Every `{{ ... }}`: checked, and counted even when a `{% set %}`/`{% filter %}` block
    or a macro captures it instead of streaming it (`generate()` never sees that text)."""
    budget = _budget()
    _check_result(value, budget)
    if isinstance(value, str):
        budget.produce(len(value))
    elif isinstance(value, _CONTAINERS):
        budget.produce(budget.weight(value))
    else:
        budget.produce(1)
    return value


def _bounded_join(parts: Iterable[str]) -> str:
    """Joins what a block, filter block or macro captured; checked before joining."""
    pieces = list(parts)
    _budget().size(sum(len(p) for p in pieces), "captured block output")
    return "".join(pieces)


def _bounded_value(value: Any) -> Any:
    """A list, tuple or dict literal, an operand of `~` or a printed value: checked nested
    before Python turns it into text (one C call, no deadline inside)."""
    _check_result(value, _budget())
    return value


class _Instrument(NodeTransformer):
    """Rewrites a parsed template (one pass) so loops, `~` and literals go through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("bounded_iter", node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_env_call("bounded_value", operand) for operand in node.nodes]
        return _env_call("bounded_concat", node)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # `{% set a, b = ... %}` targets
            return node
        return _env_call("bounded_value", node)

    visit_List = visit_Dict = visit_Tuple = _literal


def _env_call(name: str, arg: nodes.Node) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), [arg], [], None, None)
    call.set_lineno(arg.lineno)
    return call


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = _budget()
        _check_spec_numbers(format_spec, budget)
        budget.nested(value, "a formatted value")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(SandboxedEscapeFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = _budget()
        _check_spec_numbers(format_spec, budget)
        budget.nested(value, "a formatted value")
        return super().format_field(value, format_spec)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the budget of the running `render` enforced inside it."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        self.bounded_iter = _bounded_iter
        self.bounded_concat = _bounded_concat
        self.bounded_value = _bounded_value
        self.finalize = _bounded_output  # every `{{ ... }}` before it is printed
        self.concat = _bounded_join  # type: ignore[method-assign]  # block captures, macros

    def add_filters(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        """Register more filters; they tick the deadline and have their results checked."""
        self.filters.update({name: _bounded_filter(name, f) for name, f in filters.items()})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # The one place every template (from_string, parse) passes on its way to code.
        tree = _Instrument().visit(super()._parse(source, name, filename))
        assert isinstance(tree, nodes.Template)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.tick()
        weight = None
        if operator == "*":
            weight = _check_multiply(left, right, budget)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
            budget.size(len(left) + len(right), "a concatenation", items=_is_items(left))
            if _is_items(left):
                weight = budget.weight(left) + budget.weight(right)
                budget.size(weight, "a concatenation (nested)")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, right, budget)
            budget.nested(right, "a formatted value")
        result = super().call_binop(context, operator, left, right)
        if weight is not None:
            budget.remember(result, weight)  # known without walking it
        _check_result(result, budget)
        return result

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = _budget()
        budget.tick()
        if isinstance(__obj, LoopContext) and args:  # `loop(children)` in a recursive loop
            args = (_bounded_iter(args[0]), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args:
                items = list(args[0])
                _joined_size(items, owner, budget)
                args = (items, *args[1:])
            else:
                _check_str_method(owner, name, args, budget)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_result(result, budget)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed `str.format`/`format_map`, with field widths bounded."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner: str = value.__self__
        formatter: SandboxedFormatter = (
            _BoundedEscapeFormatter(self, escape=owner.escape)
            if isinstance(owner, Markup)
            else _BoundedFormatter(self)
        )
        is_map = value.__name__ == "format_map"
        kind = type(owner)

        @functools.wraps(value)
        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                result = kind(formatter.vformat(owner, (), args[0]))
            else:
                result = kind(formatter.vformat(owner, args, kwargs))
            _check_result(result, _budget())
            return result

        return bounded
