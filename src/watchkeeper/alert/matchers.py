"""Alertmanager's matcher syntax: `name="value"`, `!=`, `=~`, `!~`, and `{a="b", c=~"d.*"}`.

Parsing follows Alertmanager's matcher grammar (docs "Labels > Matchers"): a list may be wrapped
in braces and separated by commas (a trailing comma is fine); label names are identifiers or
double-quoted strings; values are double-quoted (with `\\"`, `\\\\`, `\\n`, `\\t` escapes) or, as
in Alertmanager's classic parser, bare text up to the next comma or brace. Regexes are fully
anchored (`=~"web"` does not match `webserver`), RE2 (Go regexp) syntax, and an absent label
matches as the empty string, all as in Prometheus (see `watchkeeper.domain.regex`). Matching reuses `watchkeeper.domain.series.Matcher`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from watchkeeper.alert.model import ConfigError
from watchkeeper.domain.regex import RegexError
from watchkeeper.domain.series import Matcher, MatchOp

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPS = ("=~", "!~", "!=", "=")  # longest first
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_BARE_STOP = frozenset(',{}"')


class MatcherParseError(ValueError):
    """A matcher string that does not parse; `position` is the 0-based offset of the problem."""

    def __init__(self, text: str, position: int, message: str) -> None:
        super().__init__(f"{message} at position {position} in {text!r}")
        self.text = text
        self.position = position
        self.message = message


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> MatcherParseError:
        return MatcherParseError(self.text, self.pos, message)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1  # opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped not in _ESCAPES:
                    raise self.error(f"invalid escape sequence '\\{escaped}'")
                out.append(_ESCAPES[escaped])
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1
        self.pos = start
        raise self.error("unterminated quoted string")

    def name(self) -> str:
        self.skip_space()
        if self.peek() == '"':
            name = self.quoted()
            if not name:
                raise self.error("empty label name")
            return name
        match = _NAME_RE.match(self.text, self.pos)
        if match is None:
            raise self.error("expected a label name")
        self.pos = match.end()
        return match.group()

    def op(self) -> MatchOp:
        self.skip_space()
        for op in _OPS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return MatchOp(op)
        raise self.error("expected one of =, !=, =~, !~")

    def value(self) -> str:
        self.skip_space()
        if self.peek() == '"':
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _BARE_STOP:
            self.pos += 1
        return self.text[start : self.pos].strip()


def _checked(scanner: _Scanner, name: str, op: MatchOp, value: str, start: int) -> Matcher:
    matcher = Matcher(name, op, value)
    if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
        try:
            _ = matcher.regex
        except RegexError as exc:
            raise MatcherParseError(
                scanner.text, start, f"invalid regex {value!r}: {exc.reason}"
            ) from None
    return matcher


def parse_matchers(text: str) -> list[Matcher]:
    """Every matcher in `a="b", c=~"d.*"` or `{a="b", c=~"d.*"}` (an empty `{}` gives none)."""
    scanner = _Scanner(text)
    scanner.skip_space()
    braced = scanner.peek() == "{"
    if braced:
        scanner.pos += 1
    matchers: list[Matcher] = []
    while True:
        scanner.skip_space()
        if braced and scanner.peek() == "}":
            scanner.pos += 1
            break
        if scanner.at_end():
            if braced:
                raise scanner.error("missing closing '}'")
            break
        start = scanner.pos
        name = scanner.name()
        op = scanner.op()
        value = scanner.value()
        matchers.append(_checked(scanner, name, op, value, start))
        scanner.skip_space()
        if scanner.peek() == ",":
            scanner.pos += 1
        elif not (scanner.at_end() or (braced and scanner.peek() == "}")):
            raise scanner.error("expected ',' between matchers")
    scanner.skip_space()
    if not scanner.at_end():
        raise scanner.error("unexpected text after matchers")
    if not braced and not matchers:
        raise scanner.error("no matcher")
    return matchers


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher, e.g. `severity=~"warn|crit"`."""
    matchers = parse_matchers(text)
    if len(matchers) != 1:
        raise MatcherParseError(text, 0, f"expected one matcher, found {len(matchers)}")
    return matchers[0]


def matchers_from_config(path: str, value: object) -> list[Matcher]:
    """A config list of matcher strings; errors name the item, e.g. `route.matchers[1]`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(path, f"expected a list of matcher strings, got {type(value).__name__}")
    matchers: list[Matcher] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{path}[{index}]", f"expected a matcher string, got {item!r}")
        try:
            matchers.extend(parse_matchers(item))
        except MatcherParseError as exc:
            raise ConfigError(f"{path}[{index}]", str(exc)) from None
    return matchers


def legacy_matchers(path: str, config: Mapping[str, object], prefix: str = "") -> list[Matcher]:
    """Alertmanager's deprecated `match:` / `match_re:` maps (or `source_match:`...) as matchers."""
    matchers: list[Matcher] = []
    for suffix, op in ((f"{prefix}match", MatchOp.EQUAL), (f"{prefix}match_re", MatchOp.REGEX)):
        table = config.get(suffix)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"{path}.{suffix}", "expected a map of label name to value")
        for name, raw in table.items():
            matcher = Matcher(str(name), op, str(raw))
            if op is MatchOp.REGEX:
                try:
                    _ = matcher.regex
                except RegexError as exc:
                    raise ConfigError(
                        f"{path}.{suffix}.{name}", f"invalid regex: {exc.reason}"
                    ) from None
            matchers.append(matcher)
    return matchers


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether a label set satisfies every matcher (an absent label is the empty string)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_matcher(matcher: Matcher) -> str:
    """The canonical text of a matcher; `parse_matcher(format_matcher(m)) == m`."""
    name = matcher.name if _NAME_RE.fullmatch(matcher.name) else _quote(matcher.name)
    return f"{name}{matcher.op.value}{_quote(matcher.value)}"


def format_matchers(matchers: Sequence[Matcher]) -> str:
    return "{" + ", ".join(format_matcher(m) for m in matchers) + "}"
