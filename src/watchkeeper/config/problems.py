"""What is wrong with a configuration, said key by key, with secrets never shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from watchkeeper.config.redaction import REDACTED


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: which key, what value, which rule it breaks."""

    key: str
    value: str
    rule: str

    def __str__(self) -> str:
        return f"{self.key}: value {self.value} — {self.rule}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every key that is wrong."""

    def __init__(self, problems: list[ConfigProblem], source: str = "configuration") -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid {source}:\n{lines}")


_SECRET_KEYS = frozenset(
    {
        "jwt_secret_key",
        "encryption_key",
        "redis_password",
        "slack_webhook_url",
        "bearer_token",
        "metrics_token",
    }
)


def _show(key: str, value: Any) -> str:
    if key.rsplit(".", 1)[-1] in _SECRET_KEYS:
        return REDACTED
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(root)"
        rule = item["msg"]
        if item["type"] == "extra_forbidden":
            rule = "unknown key (not a Watchkeeper setting)"
        problems.append(ConfigProblem(key, _show(key, item.get("input")), rule))
    return problems
