"""A tenant's alert handling configuration (route, inhibit_rules, time_intervals, receivers),
and what it says about alerts right now: silenced or inhibited, and where one would go.

The configuration is stored per tenant as the text the user sent (YAML or JSON; JSON is YAML),
so values only YAML can express survive a round trip. A tenant that never set one uses the
file named by `alerting.handling_config_file`, else `DEFAULT_HANDLING`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.alert import silence_store
from watchkeeper.alert.dispatch import AlertExplanation, Dispatcher, HandlingConfig
from watchkeeper.alert.model import Alert, ConfigError
from watchkeeper.alert.mute import Inhibitor, MuteKind, Muter
from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertHandlingConfig, AlertInstance

DEFAULT_HANDLING = """\
# Watchkeeper's built-in alert handling: every alert to receiver "default", one group per
# alertname, Alertmanager's default timers.
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: default
"""

Source = Literal["tenant", "file", "default"]


@dataclass(frozen=True)
class Handling:
    """The configuration in force for a tenant, with where it came from."""

    config: HandlingConfig
    text: str
    source: Source
    updated_at: datetime | None = None
    updated_by: str = ""

    def document(self) -> Any:
        """The text parsed (for a JSON answer); YAML-only values come back as strings."""
        return yaml.safe_load(self.text)


def parse(text: str) -> HandlingConfig:
    """Validate YAML or JSON text; `ConfigError.path` names the bad key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("(yaml)", " ".join(str(exc).split())) from None
    except RecursionError:
        raise ConfigError("(yaml)", "nested too deeply") from None
    try:
        return HandlingConfig.from_dict(data)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        # A shape the validators did not anticipate: still the user's input, never a crash.
        raise ConfigError("(root)", f"invalid configuration: {exc!r}") from None


class HandlingDefaults:
    """The default for tenants without their own: a YAML file (re-read when it changes)."""

    def __init__(self, path: Path | None, base: Path | None = None) -> None:
        if path is not None and not path.is_absolute() and base is not None:
            path = base / path
        self.path = path

    def get(self) -> Handling:
        if self.path is None:
            return _BUILT_IN
        try:
            mtime = self.path.stat().st_mtime
            cached = _FILES.get(self.path)
            if cached is not None and cached[0] == mtime:
                return cached[1]
            text = self.path.read_text()
        except OSError as exc:
            raise ConfigError(str(self.path), f"cannot read: {exc.strerror}") from None
        try:
            config = parse(text)
        except ConfigError as exc:
            raise ConfigError(f"{self.path}: {exc.path}", exc.message) from None
        _FILES[self.path] = (mtime, Handling(config, text, "file"))
        return _FILES[self.path][1]


_FILES: dict[Path, tuple[float, Handling]] = {}


_BUILT_IN = Handling(parse(DEFAULT_HANDLING), DEFAULT_HANDLING, "default")


def load(db: Session, defaults: HandlingDefaults) -> Handling:
    """The tenant's own configuration, else the default."""
    row = db.scalar(select(AlertHandlingConfig))
    if row is None:
        return defaults.get()
    return Handling(parse(row.text), row.text, "tenant", row.updated_at, row.updated_by)


def save(db: Session, text: str, *, now: datetime, actor: str) -> Handling:
    """Replace the tenant's configuration; raises ConfigError (and changes nothing) if invalid."""
    config = parse(text)
    row = db.scalar(select(AlertHandlingConfig))
    if row is None:
        row = AlertHandlingConfig(text=text, updated_at=now, updated_by=actor)
        db.add(row)
    row.text, row.updated_at, row.updated_by = text, now, actor
    db.flush()
    return Handling(config, text, "tenant", now, actor)


def reset(db: Session) -> bool:
    """Drop the tenant's own configuration (back to the default); whether it had one."""
    row = db.scalar(select(AlertHandlingConfig))
    if row is None:
        return False
    db.delete(row)
    return True


def as_alert(row: AlertInstance) -> Alert:
    """An alert row as the handling stages see it (firing rows act as inhibition sources)."""
    started = row.fired_at or row.active_at
    return Alert(
        labels=dict(row.labels),
        starts_at=started.timestamp(),
        annotations=dict(row.annotations),
        generator_url=row.generator_url,
        flapping=row.flapping,
        fingerprint=row.fingerprint,
    )


@dataclass(frozen=True)
class MuteStatus:
    """Alertmanager's alert `status`: silencedBy (silence ids), inhibitedBy (fingerprints)."""

    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    @property
    def suppressed(self) -> bool:
        return bool(self.silenced_by or self.inhibited_by)


def mute_status(
    db: Session, handling: Handling, rows: Sequence[AlertInstance], *, now: float
) -> dict[str, MuteStatus]:
    """Why each row is muted now, by fingerprint: the dispatcher's Muter over the current
    silences and the tenant's firing alerts as inhibition sources."""
    muter = _muter(db, handling, now)
    found: dict[str, MuteStatus] = {}
    for row in rows:
        silenced: list[str] = []
        inhibited: list[str] = []
        for reason in muter.reasons(row.labels, now=now):
            if reason.kind is MuteKind.SILENCE:
                silenced.extend(reason.silence_ids)
            elif reason.kind is MuteKind.INHIBITION and reason.source_fingerprint:
                inhibited.append(reason.source_fingerprint)
        found[row.fingerprint] = MuteStatus(tuple(sorted(silenced)), tuple(sorted(set(inhibited))))
    return found


def _muter(db: Session, handling: Handling, now: float) -> Muter:
    muter = Muter(silence_store.load_current(db, now), Inhibitor(handling.config.inhibit_rules))
    for row in _firing(db):
        muter.observe(as_alert(row))
    return muter


def _firing(db: Session) -> Iterable[AlertInstance]:
    return db.scalars(select(AlertInstance).where(AlertInstance.state == "firing"))


def explain(
    db: Session, handling: Handling, labels: Mapping[str, str], *, clock: Clock
) -> AlertExplanation:
    """Where an alert with these labels would go now, and what would mute it."""
    now = clock.time()
    dispatcher = Dispatcher(
        handling.config, clock=clock, silences=silence_store.load_current(db, now)
    )
    for row in _firing(db):
        dispatcher.muter.observe(as_alert(row))
    return dispatcher.explain(labels)
