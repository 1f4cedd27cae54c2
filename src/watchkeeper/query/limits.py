"""Bounds on PromQL text checked before it reaches the parser (a Rust extension).

`promql_parser` and the evaluator both recurse once per level of the expression tree: a
query nested a few thousand levels deep overflows the parser's native stack and kills the
process (no Python exception to catch), and a few hundred levels exhaust the evaluator's
Python recursion limit. So every caller-supplied expression passes `check_query_text`, a
single linear scan that bounds its length and an upper bound of its tree depth, before
`syntax.parse` hands it to the parser.

The depth bound: within one bracket group (the whole query, a parenthesis, a function's or
an aggregation's arguments) a flat sequence of operands joined by k operators parses into a
tree at most k levels high whatever the precedence, and each bracket group adds one level
(ParenExpr, Call, AggregateExpr). So depth(group) <= operators in its longest argument +
1 + the deepest group inside it. Unary signs count as operators and `[` (a range or a
subquery) as one more level; label matchers in `{...}` are leaves and are not counted.
A leaf alone is depth 0. The estimate is never below the real depth (the number of nodes
above the deepest leaf) and equals it for the shapes that matter (`((((1))))`,
`a + a + a ...`, `abs(abs(...))`).
"""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.query.errors import QueryError, bad_data

NESTING_DEPTH_CAP = 128
"""The highest `query.max_nesting_depth` an operator may configure: the evaluator spends at
most five Python frames per level (eval, dispatch, call, typed argument, ...), so 128 levels
stay far under Python's default recursion limit of 1000 on any thread. The parser itself
handles about 2,000 levels of a binary chain before overflowing an 8 MiB stack."""

DEFAULT_MAX_QUERY_LENGTH = 65_536
DEFAULT_MAX_NESTING_DEPTH = 100

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}
_OPERATOR_CHARS = frozenset("+-*/%^=!<>")
_KEYWORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")


@dataclass(frozen=True)
class QueryLimits:
    """What one PromQL expression may be: `query.max_query_length`, `query.max_nesting_depth`."""

    max_query_length: int = DEFAULT_MAX_QUERY_LENGTH
    max_nesting_depth: int = DEFAULT_MAX_NESTING_DEPTH

    def __post_init__(self) -> None:
        if not 1 <= self.max_nesting_depth <= NESTING_DEPTH_CAP:
            raise ValueError(f"max_nesting_depth must be between 1 and {NESTING_DEPTH_CAP}")


@dataclass
class _Group:
    closer: str
    operators: int = 0  # in the current argument
    widest: int = 0  # most operators in one argument so far
    deepest_child: int = 0


def nesting_depth(text: str, stop_above: int | None = None) -> int:
    """An upper bound of the depth of `text`'s expression tree, in one pass (see module doc).

    Unbalanced brackets are left to the parser's error message; strings and comments are
    skipped as the PromQL lexer skips them. With `stop_above`, the scan stops as soon as the
    depth is certain to exceed it (open parentheses and one group's operators are each a lower
    bound of the result) and returns `stop_above + 1`: a hostile 20,000-character nest is
    refused after its first hundred characters instead of costing a full pure-Python pass
    (which holds the GIL and slows every other request).
    """
    stack = [_Group(closer="")]
    parens = 0
    i, n = 0, len(text)
    while i < n:
        if stop_above is not None and (parens > stop_above or stack[-1].operators > stop_above):
            return stop_above + 1
        c = text[i]
        top = stack[-1]
        if c in "\"'`":
            i = _string_end(text, i)
            continue
        if c == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        if c in _OPEN:
            if c == "[":
                top.operators += 1  # a range or subquery wraps its operand
            stack.append(_Group(closer=_OPEN[c]))
            parens += c == "("
        elif c in _CLOSE:
            if len(stack) > 1 and c == top.closer:
                stack.pop()
                parens -= c == ")"
                _close(stack[-1], top)
        elif top.closer in ("}", "]"):
            pass  # label matchers and durations are leaves
        elif c == ",":
            top.widest = max(top.widest, top.operators)
            top.operators = 0
        elif c in _OPERATOR_CHARS:
            top.operators += 1
            while i + 1 < n and text[i + 1] in _OPERATOR_CHARS and text[i + 1] not in "+-":
                i += 1  # one token: <=, >=, ==, !=, =~
        elif c in _IDENT_START:
            start = i
            while i + 1 < n and text[i + 1] in _IDENT_CHARS:
                i += 1
            if text[start : i + 1].lower() in _KEYWORD_OPERATORS:
                top.operators += 1
        i += 1
    while len(stack) > 1:  # unclosed: count what was opened, the parser will refuse it
        group = stack.pop()
        _close(stack[-1], group)
    root = stack[0]
    return max(root.widest, root.operators) + root.deepest_child


def _close(parent: _Group, group: _Group) -> None:
    # `{...}` and `[...]` add no level of their own (matchers and durations are leaves, `[`
    # is counted as an operator), but whatever was opened inside them still counts.
    own = 1 if group.closer == ")" else 0
    depth = own + max(group.widest, group.operators) + group.deepest_child
    parent.deepest_child = max(parent.deepest_child, depth)


def _string_end(text: str, start: int) -> int:
    """The index after the string literal opening at `start` (or the end of the text)."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and quote != "`":
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    return len(text)


def check_query_text(text: str, limits: QueryLimits) -> None:
    """Refuse (bad_data, HTTP 400) an expression too long or too deeply nested to parse safely."""
    if len(text) > limits.max_query_length:
        raise bad_data(
            f"query is {len(text):,} characters long; the limit is "
            f"{limits.max_query_length:,} (query.max_query_length)"
        )
    depth = nesting_depth(text, stop_above=limits.max_nesting_depth)
    if depth > limits.max_nesting_depth:
        raise _too_deep(limits.max_nesting_depth)


def _too_deep(limit: int) -> QueryError:
    return bad_data(
        f"query nests more than {limit} levels deep (query.max_nesting_depth). "
        "Each parenthesis, function call, aggregation, range/subquery and each operator in a "
        "chain such as a + b + c adds a level"
    )
