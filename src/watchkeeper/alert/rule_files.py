"""Rule files on disk: the `rule_files` globs read into groups, each with its tenant.

A file is Prometheus' `groups: [...]`; a group belongs to tenant "default" unless it has a
`tenant: <name>` key. A file may also list `slos: [...]` (watchkeeper.slo.spec): each
becomes its generated group `slo:<name>`, read-only like the others. Every file is read before anything is refused, so one error lists
every bad file, group and rule.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.alert.rules import (
    DEFAULT_TENANT,
    CompiledGroup,
    RuleProblem,
    RuleValidationError,
    compile_group,
    group_spec,
    location,
    parse_yaml,
)
from watchkeeper.slo.spec import compile_slo, parse_slo


@dataclass(frozen=True)
class FileGroup:
    """A group read from a rule file, with the tenant (name) it belongs to."""

    tenant: str
    file: str
    group: CompiledGroup


def parse_rule_file(text: str, file: str, *, default_interval: float) -> list[FileGroup]:
    """Every group of one rule file; raises RuleValidationError naming file, group and rule."""
    data = parse_yaml(text, file)
    if (
        not isinstance(data, dict)
        or not ("groups" in data or "slos" in data)
        or not isinstance(data.get("groups", []), list)
        or not isinstance(data.get("slos", []), list)
    ):
        raise RuleValidationError(
            [RuleProblem(file, "a rule file is a mapping with `groups: [...]` (or `slos: [...]`)")]
        )
    problems: list[RuleProblem] = []
    out: list[FileGroup] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(data.get("groups", [])):
        name = str(raw.get("name", "")) if isinstance(raw, dict) else ""
        where = f"{file}: {location(index, name)}"
        try:
            spec = group_spec(raw, group_index=index, prefix=f"{file}: ")
            group = compile_group(spec, default_interval=default_interval, group_index=index)
        except RuleValidationError as exc:
            problems.extend(
                p
                if p.location.startswith(file)
                else RuleProblem(f"{file}: {p.location}", p.message)
                for p in exc.problems
            )
            continue
        tenant = spec.tenant or DEFAULT_TENANT
        if (tenant, spec.name) in seen:
            problems.append(RuleProblem(where, f"group name repeated for tenant {tenant!r}"))
        seen.add((tenant, spec.name))
        out.append(FileGroup(tenant, file, group))
    for index, raw in enumerate(data.get("slos", [])):
        try:
            slo = parse_slo(raw, where=f"{file}: slos[{index}]")
            group = compile_slo(slo, default_interval=default_interval)
        except RuleValidationError as exc:
            problems.extend(exc.problems)
            continue
        tenant = slo.tenant or DEFAULT_TENANT
        if (tenant, group.name) in seen:
            problems.append(
                RuleProblem(f"{file}: slos[{index}]", f"group {group.name} repeated for {tenant!r}")
            )
        seen.add((tenant, group.name))
        out.append(FileGroup(tenant, file, group))
    if problems:
        raise RuleValidationError(problems)
    return out


def load_rule_files(
    globs: Iterable[str], *, default_interval: float, base: Path | None = None
) -> list[FileGroup]:
    """Every group of every file the globs match (relative globs from `base`), sorted by path.

    All files are read before raising, so one error report lists every bad file.
    """
    paths: set[Path] = set()
    for pattern in globs:
        full = pattern if Path(pattern).is_absolute() or base is None else str(base / pattern)
        paths.update(Path(p) for p in glob.glob(full, recursive=True))
    problems: list[RuleProblem] = []
    groups: list[FileGroup] = []
    seen: dict[tuple[str, str], str] = {}
    for path in sorted(paths):
        try:
            loaded = parse_rule_file(path.read_text(), str(path), default_interval=default_interval)
        except RuleValidationError as exc:
            problems.extend(exc.problems)
            continue
        except OSError as exc:
            problems.append(RuleProblem(str(path), f"cannot read: {exc}"))
            continue
        for item in loaded:
            key = (item.tenant, item.group.name)
            if key in seen:
                problems.append(
                    RuleProblem(
                        f"{path}: group {item.group.name}",
                        f"tenant {item.tenant!r} already has this group in {seen[key]}",
                    )
                )
            seen[key] = str(path)
            groups.append(item)
    if problems:
        raise RuleValidationError(problems)
    return groups
