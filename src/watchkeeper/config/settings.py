"""The one Settings object: a YAML file plus environment variables, validated once at start-up.

Nothing else in Watchkeeper reads the environment. Names users know from the product brief
(`DATABASE_URL`, `JWT_SECRET_KEY`, ...) work as they are; every other key can be set as
`WATCHKEEPER_<KEY>` (nested with `__`, e.g. `WATCHKEEPER_METRICS__RETENTION_DAYS=30`).
Precedence: environment > .env file > YAML file > defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from watchkeeper.config.redaction import redact
from watchkeeper.config.sections.alerting import (
    AlertingSettings,
    IncidentSettings,
    NotificationSettings,
    RealtimeSettings,
)
from watchkeeper.config.sections.data import MetricsSettings, QuerySettings, StorageSettings
from watchkeeper.config.sections.detection import DetectionSettings
from watchkeeper.config.sections.retention import BackupSettings, RetentionSettings
from watchkeeper.config.sections.security import SecuritySettings
from watchkeeper.config.sections.server import (
    ApiSettings,
    AuthSettings,
    ObservabilitySettings,
    ServerSettings,
)
from watchkeeper.config.sources import SecretFileSource, YamlSource

Profile = Literal["dev", "staging", "production"]

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me"
"""The default secret: fine on a laptop, refused by the production profile."""


def _alias(name: str, *others: str) -> AliasChoices:
    """Accept a key by its field name (YAML) and by the environment names users know."""
    return AliasChoices(name, *others)


class Settings(BaseSettings):
    """Everything Watchkeeper can be configured with. Built by `load_settings`, then passed down."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHKEEPER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        populate_by_name=True,
    )

    profile: Profile = "dev"
    debug: bool = False
    data_dir: Path = Field(Path("data"), description="where the database, metrics and models live")
    database_url: str | None = Field(None, validation_alias=_alias("database_url", "DATABASE_URL"))
    database_pool_size: int = Field(
        5, ge=1, le=200, validation_alias=_alias("database_pool_size", "DATABASE_POOL_SIZE")
    )
    redis_url: str | None = Field(None, validation_alias=_alias("redis_url", "REDIS_URL"))
    redis_password: SecretStr | None = Field(
        None, validation_alias=_alias("redis_password", "REDIS_PASSWORD")
    )
    jwt_secret_key: SecretStr = Field(
        SecretStr(DEV_JWT_SECRET), validation_alias=_alias("jwt_secret_key", "JWT_SECRET_KEY")
    )
    encryption_key: SecretStr | None = Field(
        None, validation_alias=_alias("encryption_key", "ENCRYPTION_KEY")
    )
    slack_webhook_url: SecretStr | None = Field(
        None, validation_alias=_alias("slack_webhook_url", "SLACK_WEBHOOK_URL")
    )
    email_smtp_server: str | None = Field(
        None, validation_alias=_alias("email_smtp_server", "EMAIL_SMTP_SERVER")
    )
    email_smtp_port: int = Field(
        587, ge=1, le=65535, validation_alias=_alias("email_smtp_port", "EMAIL_SMTP_PORT")
    )
    ai_models_path: Path | None = Field(
        None, validation_alias=_alias("ai_models_path", "AI_MODELS_PATH")
    )
    enable_anomaly_detection: bool = Field(
        True, validation_alias=_alias("enable_anomaly_detection", "ENABLE_ANOMALY_DETECTION")
    )
    retrain_interval_hours: float = Field(
        24.0,
        gt=0,
        le=8760,
        validation_alias=_alias("retrain_interval_hours", "RETRAIN_INTERVAL_HOURS"),
    )

    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    rule_files: list[str] = Field(
        default_factory=list,
        description="globs of Prometheus rule files loaded at start (as Prometheus' rule_files)",
    )
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            SecretFileSource(settings_cls),
            dotenv_settings,
            YamlSource(settings_cls),
            file_secret_settings,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'watchkeeper.db').as_posix()}"

    @property
    def docs_enabled(self) -> bool:
        """/docs, /redoc and /openapi.json: as set, else on except in production."""
        if self.api.docs_enabled is not None:
            return self.api.docs_enabled
        return self.profile != "production"

    @property
    def tls_min_version(self) -> Literal["1.2", "1.3"]:
        if self.server.tls_min_version is not None:
            return self.server.tls_min_version
        return "1.3" if self.profile == "production" else "1.2"

    @property
    def drain_seconds(self) -> float:
        """`server.drain_seconds`, by default 5 s in production (behind a load balancer) and
        none elsewhere (a laptop's Ctrl-C stops at once)."""
        if self.server.drain_seconds is not None:
            return self.server.drain_seconds
        return (
            min(5.0, self.server.shutdown_timeout_seconds / 2)
            if self.profile == "production"
            else 0.0
        )

    @property
    def effective_backup_path(self) -> Path:
        return self.backup.folder or self.data_dir / "backups"

    @property
    def effective_models_path(self) -> Path:
        return self.ai_models_path or self.data_dir / "models"

    @property
    def effective_storage_path(self) -> Path:
        return self.storage.path or self.data_dir / "metrics"

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with every secret replaced, for `config show` and the API."""
        redacted: dict[str, Any] = redact(self.model_dump(mode="json"), self)
        return redacted
