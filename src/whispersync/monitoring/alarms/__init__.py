"""Alarms with CloudWatch's semantics: evaluation and the engine (``_engine``), composite
rules (``_composite``), PutMetricAlarm/PutCompositeAlarm requests (``_requests``) and
the state store (``_state``). The alarm model itself is the plan's."""

from whispersync.monitoring.alarms._anomalies import find_anomalies
from whispersync.monitoring.alarms._checks import check_alarm, check_references, rule_of
from whispersync.monitoring.alarms._cloudwatch import (
    ImportedAlarm,
    ImportReport,
    describe_alarms,
    import_alarms,
    plan_import,
    read_actions_map,
)
from whispersync.monitoring.alarms._composite import Rule, RuleSyntaxError
from whispersync.monitoring.alarms._detectors import (
    AnomalyDetector,
    AnomalyDetectorStore,
    detector_for_alarm,
    detector_state,
)
from whispersync.monitoring.alarms._engine import (
    AlarmEngine,
    Decision,
    EvaluationResult,
    decide,
    evaluation_window,
)
from whispersync.monitoring.alarms._errors import AlarmError
from whispersync.monitoring.alarms._maintenance import MaintenanceWindows
from whispersync.monitoring.alarms._requests import (
    AlarmInputError,
    parse_alarm_request,
    parse_alarm_requests,
)
from whispersync.monitoring.alarms._state import AlarmStore

__all__ = [
    "AlarmEngine",
    "AlarmError",
    "AlarmInputError",
    "AlarmStore",
    "AnomalyDetector",
    "AnomalyDetectorStore",
    "Decision",
    "EvaluationResult",
    "ImportReport",
    "ImportedAlarm",
    "MaintenanceWindows",
    "Rule",
    "RuleSyntaxError",
    "check_alarm",
    "check_references",
    "decide",
    "describe_alarms",
    "detector_for_alarm",
    "detector_state",
    "evaluation_window",
    "find_anomalies",
    "import_alarms",
    "parse_alarm_request",
    "parse_alarm_requests",
    "plan_import",
    "read_actions_map",
    "rule_of",
]
