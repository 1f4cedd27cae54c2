"""Caller-supplied regular expressions, compiled with RE2 and anchored as Prometheus anchors them.

Every pattern a tenant sends (PromQL `=~`/`!~`, `label_replace`, rule selectors, silences,
inhibition rules, routes) is compiled here, never with Python's `re`: `re` backtracks, so
`(a+)+b` against 27 characters ran for seconds while holding the GIL and froze every request.
RE2 matches in time linear in the input, releases the GIL while it matches, and its syntax is
Go's `regexp` syntax, which is what Prometheus and Alertmanager accept (no backreferences, no
lookarounds, repetition counts up to 1000).

Semantics mirror Prometheus' `NewFastRegexMatcher`, which compiles `^(?s:pattern)$`: the match
is fully anchored and `.` also matches a newline. The pattern is compiled as written and
anchored by RE2's ANCHOR_BOTH rather than by wrapping it in text, so a value such as `a)|(b`
is refused instead of becoming a half-anchored `^(?s:a)|(b)$`. Alertmanager anchors the same
way (without `(?s)`; label values with newlines are the only place this differs).

Bounds: the pattern length (`security.max_regex_length`), the memory of one RE2 program
(`security.max_regex_memory_bytes`, RE2's `max_mem`, which also caps its DFA cache; past it RE2
falls back to its linear NFA) and the number of compiled programs kept (`CACHE_SIZE`). The
composition root calls `configure` with the Settings; until then the defaults apply.

Common shapes skip RE2 for a plain string operation that gives the same answer (as Prometheus'
FastRegexMatcher does): a literal, an alternation of literals, `.*`, `.+`, `prefix.*`,
`.*suffix` and `.*infix.*`; other patterns check their literal prefix before calling RE2. A call
into RE2 costs about twice a call into `re` on a short label value, so these keep selection over
many values as fast as it was (figures in docs/design/query.md).

    >>> compile_anchored("web|db").fullmatch("db")
    True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2
from re2 import _re2  # the bindings' core: one C++ call per match, the GIL released inside

DEFAULT_MAX_LENGTH = 8192
DEFAULT_MAX_MEMORY_BYTES = 1 << 20
CACHE_SIZE = 256
"""Compiled programs kept; each is bounded by max_memory_bytes, so the cache is too."""

_METACHARACTERS = frozenset("\\.+*?()|[]{}^$")
_ANCHOR_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH = (-1, -1)


class RegexError(ValueError):
    """A pattern RE2 refuses (Go regexp syntax) or one over a configured limit."""

    def __init__(self, pattern: str, reason: str) -> None:
        shown = pattern if len(pattern) <= 100 else pattern[:100] + "..."
        super().__init__(f"invalid regex {shown!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


@dataclass(frozen=True)
class RegexLimits:
    max_length: int = DEFAULT_MAX_LENGTH
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES


_limits = RegexLimits()


def configure(limits: RegexLimits) -> None:
    """Set the limits from Settings (start-up and every configuration reload)."""
    global _limits
    _limits = limits


def _encode(value: str) -> bytes:
    # A lone surrogate (possible from JSON "\udc80") must not turn a match into a crash.
    return value.encode("utf-8", "surrogatepass")


def _literal(text: str) -> bool:
    return not _METACHARACTERS.intersection(text)


def _shortcut(pattern: str) -> Callable[[str], bool] | None:
    """A plain string test equal to the anchored, dot-all match of `pattern`, if there is one.

    Shapes: `lit`, `.*`, `.+`, `.*lit.*`, `.*lit`, and alternations of `lit` / `lit.*`
    (optionally in one group, `(a|b.*)`, as dashboards write them).
    """
    for opening in ("(?:", "("):
        inner = pattern[len(opening) : -1]
        if pattern.startswith(opening) and pattern.endswith(")") and not set("()") & set(inner):
            pattern = inner
            break
    if pattern == ".*":
        return lambda value: True
    if pattern == ".+":
        return bool
    if pattern.startswith(".*") and "|" not in pattern:
        middle, _, rest = pattern[2:].partition(".*")
        if not _literal(middle) or rest:
            return None
        if pattern.endswith(".*") and len(pattern) >= 4:
            return lambda value: middle in value
        return lambda value: value.endswith(middle)
    exact: set[str] = set()
    prefixes: list[str] = []
    for alternative in pattern.split("|"):
        if _literal(alternative):
            exact.add(alternative)
        elif alternative.endswith(".*") and _literal(alternative[:-2]):
            prefixes.append(alternative[:-2])
        else:
            return None
    if not prefixes:
        return frozenset(exact).__contains__
    if "" in prefixes:
        return lambda value: True
    starts = tuple(prefixes)
    if not exact:
        return lambda value: value.startswith(starts)
    literals = frozenset(exact)
    return lambda value: value in literals or value.startswith(starts)


def _literal_prefix(pattern: str) -> str:
    """Text every match starts with: the literal run before the first metacharacter, less its
    last character if a quantifier follows (`ab?` only promises `a`); none with a `|`."""
    if "|" in pattern:
        return ""
    end = next((i for i, char in enumerate(pattern) if char in _METACHARACTERS), len(pattern))
    if end < len(pattern) and pattern[end] in "?*+{":
        end -= 1
    return pattern[: max(end, 0)]


def _program_test(program: Any, prefix: str) -> Callable[[str], bool]:
    match = program.Match

    def test(value: str) -> bool:
        text = _encode(value)
        return bool(match(_ANCHOR_BOTH, text, 0, len(text))[0] != _NO_MATCH)

    if not prefix:
        return test
    # Values without the prefix are refused by a string comparison, not a call into RE2.
    return lambda value: value.startswith(prefix) and test(value)


class AnchoredRegex:
    """A compiled pattern that matches a whole label value; safe to share between threads.

    `fullmatch(value)` answers whether all of `value` matches (a plain string test for the
    shapes `_shortcut` knows, else a literal-prefix check and one RE2 call).
    """

    __slots__ = ("_program", "fullmatch", "group_names", "pattern")

    def __init__(self, pattern: str, *, captures: bool, limits: RegexLimits) -> None:
        if len(pattern) > limits.max_length:
            raise RegexError(
                pattern,
                f"pattern is {len(pattern)} characters, over the limit of {limits.max_length} "
                "(security.max_regex_length)",
            )
        options = re2.Options()
        options.dot_nl = True
        options.never_capture = not captures
        options.log_errors = False
        options.max_mem = limits.max_memory_bytes
        program = _re2.RE2(_encode(pattern), options)
        if not program.ok():
            reason = program.error().decode("utf-8", "replace")
            if "too large" in reason or "too big" in reason:
                reason += (
                    f" (its RE2 program needs more than {limits.max_memory_bytes} bytes, "
                    "security.max_regex_memory_bytes)"
                )
            raise RegexError(pattern, reason)
        self.pattern = pattern
        self._program = program
        self.fullmatch: Callable[[str], bool] = (
            None if captures else _shortcut(pattern)
        ) or _program_test(program, _literal_prefix(pattern))
        self.group_names: dict[str, int] = {
            name.decode("utf-8"): index for name, index in program.NamedCapturingGroups()
        }

    def groups(self, value: str) -> list[str | None] | None:
        """The whole match and each capturing group (None if it took no part), or None."""
        text = _encode(value)
        spans: list[tuple[int, int]] = self._program.Match(_ANCHOR_BOTH, text, 0, len(text))
        if spans[0] == _NO_MATCH:
            return None
        return [
            None if span == _NO_MATCH else text[span[0] : span[1]].decode("utf-8", "surrogatepass")
            for span in spans
        ]


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(pattern: str, captures: bool, limits: RegexLimits) -> AnchoredRegex:
    return AnchoredRegex(pattern, captures=captures, limits=limits)


def compile_anchored(pattern: str, *, captures: bool = False) -> AnchoredRegex:
    """The RE2 program for `pattern` (cached), or RegexError naming what is wrong.

    `captures=True` keeps capturing groups for `groups()` (label_replace); without them RE2
    answers a yes/no match with its DFA alone, the fast path for label selection.
    """
    if len(pattern) > _limits.max_length:  # before the cache: an over-long key is not stored
        return AnchoredRegex(pattern, captures=captures, limits=_limits)
    return _compile(pattern, captures, _limits)
