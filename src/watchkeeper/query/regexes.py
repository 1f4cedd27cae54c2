"""Every regex in a parsed query compiled with RE2 at parse time, as Prometheus' parser does.

`promql-parser` validates selector regexes with Rust's `regex` crate, which accepts patterns
Go (and so Prometheus) refuses, e.g. `a{2000}`, and does not look at `label_replace`'s pattern
at all. Checking here makes such a query a `bad_data` error (400) wherever it is parsed: the
query API, rule validation, `match[]`, instead of a failure at each evaluation.
"""

from __future__ import annotations

import promql_parser as pp

from watchkeeper.domain.regex import RegexError, compile_anchored
from watchkeeper.query.errors import bad_data

_REGEX_OPS = (pp.MatchOp.Re, pp.MatchOp.NotRe)


def check_regexes(root: pp.Expr) -> None:
    """Raise `bad_data` naming the first regex in `root` that RE2 refuses or a limit rejects."""
    stack: list[pp.Expr | None] = [root]  # a loop, not recursion: nesting depth is the caller's
    while stack:
        node = stack.pop()
        if isinstance(node, pp.MatrixSelector):
            node = node.vector_selector
        if isinstance(node, pp.VectorSelector):
            for m in node.matchers.matchers:
                if any(m.op == op for op in _REGEX_OPS):
                    _compile(m.value, captures=False, where=f"matcher {m.name}")
        elif isinstance(node, pp.Call):
            args = list(node.args)
            if node.func.name == "label_replace" and len(args) == 5:
                pattern = args[4]
                while isinstance(pattern, pp.ParenExpr):
                    pattern = pattern.expr
                if isinstance(pattern, pp.StringLiteral):
                    _compile(pattern.val, captures=True, where="label_replace()")
            stack.extend(args)
        elif isinstance(node, pp.BinaryExpr):
            stack.extend((node.lhs, node.rhs))
        elif isinstance(node, pp.AggregateExpr):
            stack.extend((node.expr, node.param))
        elif isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
            stack.append(node.expr)


def _compile(pattern: str, *, captures: bool, where: str) -> None:
    try:
        compile_anchored(pattern, captures=captures)
    except RegexError as exc:
        raise bad_data(f"parse error: {where}: {exc}") from None
