"""One rule's alerts through one evaluation: the pending/firing/resolved state machine.

It follows Prometheus' rules/alerting.go, with what Alertmanager users lack:

    inactive -> pending            the condition holds (a new active_at)
    pending  -> firing             it held for `for` (startsAt = that evaluation's time)
    pending  -> inactive           it stopped holding before `for` passed (no notification)
    firing   -> resolved           it stopped holding, and neither hysteresis nor
                                   keep_firing_for keeps it (endsAt = that time)

- Hysteresis: a firing alert whose series still appears in `resolve_expr` stays firing.
- keep_firing_for: a firing alert stays firing this long after the condition last held.
- Flapping: each change into firing or resolved is counted; more than `max_changes` within
  `window_seconds` marks the alert flapping, which queues one "flapping" notification and
  silences the firing/resolved ones until the count falls back; then the current state is
  notified if it differs from the last state notified (`state.Transitions`).
- An annotation template that fails or goes over its budget renders Prometheus'
  `<error expanding template: ...>` and the alert still fires; its rule is marked unhealthy.
"""

from __future__ import annotations

from datetime import datetime

from watchkeeper.alert.candidates import Candidate, RuleOutcome
from watchkeeper.alert.rules import CompiledRule
from watchkeeper.alert.state import Transitions, load_by_fingerprint
from watchkeeper.alert.templates import Template, TemplateError
from watchkeeper.db.tables import AlertInstance
from watchkeeper.template_sandbox import Deadline


def expansion_error(error: str) -> str:
    """The text a failed template expands to, as Prometheus writes it."""
    return f"<error expanding template: {error}>"


def _since(start: datetime, now: datetime) -> float:
    """Seconds between two stored times (datetimes, so no float rounding at microseconds)."""
    return (now - start).total_seconds()


class AlertStateMachine:
    """One rule's alerts through one evaluation (see the module docstring)."""

    def __init__(
        self,
        transitions: Transitions,
        group: str,
        rule: CompiledRule,
        url: str,
        deadline: Deadline | None = None,
    ) -> None:
        self.t = transitions
        self.group = group
        self.rule = rule
        self.url = url
        self.deadline = deadline

    def run(self, rows: dict[str, AlertInstance], outcome: RuleOutcome) -> None:
        if outcome.error:  # as in Prometheus: a failed evaluation changes no alert
            return
        t, spec = self.t, self.rule.spec
        reused = load_by_fingerprint(
            t.db, self.group, [k for k in outcome.candidates if k not in rows]
        )
        for key, candidate in outcome.candidates.items():
            row = rows.get(key) or reused.get(key)
            if row is None:
                row = self._new_row(key, candidate)
                t.db.add(row)
            rows[key] = row
            self._update(row, candidate, outcome)
            row.keep_firing_since = None
            if row.state not in ("pending", "firing"):
                t.change(row, "pending")
                row.active_at, row.fired_at, row.ends_at = t.now, None, None
            if row.state == "pending" and _since(row.active_at, t.now) >= spec.for_:
                row.fired_at = t.now
                t.change(row, "firing")
        for key, row in rows.items():
            if row.rule_name != self.rule.name:
                continue
            if key not in outcome.candidates:
                row.last_evaluation = t.now
                if row.state == "pending":
                    t.change(row, "inactive")
                elif row.state == "firing" and not self._held(row, key, outcome):
                    row.ends_at = t.now
                    t.change(row, "resolved")
            t.flap_expiry(row)

    def _new_row(self, key: str, candidate: Candidate) -> AlertInstance:
        return AlertInstance(
            group_name=self.group,
            rule_name=self.rule.name,
            fingerprint=key,
            labels=candidate.labels,
            annotations={},
            state="inactive",
            value=candidate.value,
            active_at=self.t.now,
            last_evaluation=self.t.now,
            flapping=False,
            changes=[],
            generator_url=self.url,
        )

    def _update(self, row: AlertInstance, candidate: Candidate, outcome: RuleOutcome) -> None:
        """Current value and rendered annotations (what a notification will carry)."""
        row.value = candidate.value
        row.last_evaluation = self.t.now
        row.rule_name = self.rule.name
        row.labels = candidate.labels
        row.generator_url = self.url
        annotations = {
            key: self._expand(key, template, candidate, outcome)
            for key, template in self.rule.annotations.items()
        }
        explanation = candidate.extra.get("explanation")
        if explanation is not None:
            row.explanation = explanation
            annotations.setdefault("explanation", str(explanation.get("sentence", "")))
        for key in (
            "predicted_crossing_at",
            "predicted_crossing_in_seconds",
            "predicted_crossing_earliest80",
            "predicted_crossing_latest80",
        ):
            if key in candidate.extra:
                annotations.setdefault(key, str(candidate.extra[key]))
        if annotations != row.annotations:
            row.annotations = annotations

    def _expand(
        self, key: str, template: Template, candidate: Candidate, outcome: RuleOutcome
    ) -> str:
        """One annotation; a failure expands to Prometheus' error text, noted on the rule."""
        try:
            return template.render(
                labels=candidate.series, value=candidate.value, deadline=self.deadline
            )
        except TemplateError as exc:
            problem = f"annotation {key}: {exc}"
            if problem not in outcome.template_errors and len(outcome.template_errors) < 3:
                outcome.template_errors.append(problem)
            if exc.limit and not outcome.budget_error:
                outcome.budget_error = problem
            return expansion_error(str(exc))

    def _held(self, row: AlertInstance, key: str, outcome: RuleOutcome) -> bool:
        """Whether hysteresis or keep_firing_for keeps a firing alert firing."""
        if outcome.resolve is not None and key in outcome.resolve:
            row.keep_firing_since = None
            return True
        keep = self.rule.spec.keep_firing_for
        if keep <= 0:
            return False
        if row.keep_firing_since is None:
            row.keep_firing_since = self.t.now
        return _since(row.keep_firing_since, self.t.now) < keep
