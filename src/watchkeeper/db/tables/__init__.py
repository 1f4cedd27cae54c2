"""The metadata tables, one module per area; every tenant-owned row carries `tenant_id` via
`TenantOwned`. Importing the package registers every table on `Base.metadata` (Alembic's
target), so the names are re-exported here."""

from watchkeeper.db.tables.alerting import (
    AlertDispatchState,
    AlertEvent,
    AlertHandlingConfig,
    AlertInstance,
    AlertRuleGroup,
    AlertTransition,
    SilenceRow,
)
from watchkeeper.db.tables.audit import AuditCheckpoint, AuditRecord
from watchkeeper.db.tables.base import NAMING, Base, TenantOwned, UtcDateTime, new_id
from watchkeeper.db.tables.dashboards import StoredDashboard
from watchkeeper.db.tables.detection import (
    AnomalyFeedback,
    AnomalyRecord,
    DetectionModel,
    TrainingJob,
)
from watchkeeper.db.tables.directory import (
    ApiKey,
    Membership,
    RecoveryCode,
    RefreshToken,
    Tenant,
    TenantRetention,
    User,
    UserTotp,
)
from watchkeeper.db.tables.events import EventRecord, EventSequence
from watchkeeper.db.tables.incidents import (
    AlertnameCooccurrence,
    AlertnameFiring,
    CategoryCorrection,
    CorrelationCursor,
    Incident,
    IncidentAlert,
    IncidentEvent,
)
from watchkeeper.db.tables.leases import WorkerLease
from watchkeeper.db.tables.notify import (
    NotificationBucket,
    NotificationOutbox,
    NotificationReceiver,
    NotificationSuppression,
    QuietHours,
    StoredTemplate,
)
from watchkeeper.db.tables.oncall import EscalationPolicyRow, EscalationState, OnCallSchedule
from watchkeeper.db.tables.slo import SloDefinition

__all__ = [
    "NAMING",
    "AlertDispatchState",
    "AlertEvent",
    "AlertHandlingConfig",
    "AlertInstance",
    "AlertRuleGroup",
    "AlertTransition",
    "AlertnameCooccurrence",
    "AlertnameFiring",
    "AnomalyFeedback",
    "AnomalyRecord",
    "ApiKey",
    "AuditCheckpoint",
    "AuditRecord",
    "Base",
    "CategoryCorrection",
    "CorrelationCursor",
    "DetectionModel",
    "EscalationPolicyRow",
    "EscalationState",
    "EventRecord",
    "EventSequence",
    "Incident",
    "IncidentAlert",
    "IncidentEvent",
    "Membership",
    "NotificationBucket",
    "NotificationOutbox",
    "NotificationReceiver",
    "NotificationSuppression",
    "OnCallSchedule",
    "QuietHours",
    "RecoveryCode",
    "RefreshToken",
    "SilenceRow",
    "SloDefinition",
    "StoredDashboard",
    "StoredTemplate",
    "Tenant",
    "TenantOwned",
    "TenantRetention",
    "TrainingJob",
    "User",
    "UserTotp",
    "UtcDateTime",
    "WorkerLease",
    "new_id",
]
