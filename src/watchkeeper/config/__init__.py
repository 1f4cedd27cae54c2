"""Configuration: one validated `Settings` built at start-up from a YAML file and the
environment, the checks each profile adds, and run-time changes (`PUT /admin/config`).

The names below are the package's interface; import them from `watchkeeper.config`.
"""

from watchkeeper.config.durations import parse_duration_ms, parse_duration_or_seconds_ms
from watchkeeper.config.loading import load_settings
from watchkeeper.config.patching import (
    apply_patch,
    changed_keys,
    deep_merge,
    keys_set_by_environment,
    persist_patch,
)
from watchkeeper.config.problems import ConfigError, ConfigProblem, problems_from_validation
from watchkeeper.config.profile import (
    check_profile,
    decode_encryption_key,
    filesystem_type,
    is_weak_secret,
    serving_problems,
    sqlite_path,
)
from watchkeeper.config.redaction import REDACTED
from watchkeeper.config.sections.alerting import (
    AlertingSettings,
    IncidentSettings,
    NotificationSettings,
    RealtimeSettings,
)
from watchkeeper.config.sections.data import (
    DownsampleTier,
    MetricsSettings,
    QuerySettings,
    ScrapeTarget,
    StorageSettings,
)
from watchkeeper.config.sections.detection import DetectionSettings, DetectorName, ForecasterName
from watchkeeper.config.sections.retention import BackupSettings, RetentionSettings
from watchkeeper.config.sections.security import RateLimitSettings, SecuritySettings
from watchkeeper.config.sections.server import (
    ROLES,
    ApiSettings,
    AuthSettings,
    ObservabilitySettings,
    Role,
    ServerSettings,
)
from watchkeeper.config.settings import DEV_JWT_SECRET, Profile, Settings
from watchkeeper.config.sources import SECRET_FILE_VARIABLES, read_yaml, secret_from_environment

__all__ = [
    "DEV_JWT_SECRET",
    "REDACTED",
    "ROLES",
    "SECRET_FILE_VARIABLES",
    "AlertingSettings",
    "ApiSettings",
    "AuthSettings",
    "BackupSettings",
    "ConfigError",
    "ConfigProblem",
    "DetectionSettings",
    "DetectorName",
    "DownsampleTier",
    "ForecasterName",
    "IncidentSettings",
    "MetricsSettings",
    "NotificationSettings",
    "ObservabilitySettings",
    "Profile",
    "QuerySettings",
    "RateLimitSettings",
    "RealtimeSettings",
    "RetentionSettings",
    "Role",
    "ScrapeTarget",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "apply_patch",
    "changed_keys",
    "check_profile",
    "decode_encryption_key",
    "deep_merge",
    "filesystem_type",
    "is_weak_secret",
    "keys_set_by_environment",
    "load_settings",
    "parse_duration_ms",
    "parse_duration_or_seconds_ms",
    "persist_patch",
    "problems_from_validation",
    "read_yaml",
    "secret_from_environment",
    "serving_problems",
    "sqlite_path",
]
