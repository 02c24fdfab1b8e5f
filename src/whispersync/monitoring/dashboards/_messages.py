"""PutDashboard's validation messages, and the error raised when a body has errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from whispersync.errors import InputError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class ValidationMessage:
    """One of PutDashboard's DashboardValidationMessages: ``data_path`` is a JSON pointer
    into the body (``/widgets/3/properties/metrics/0``). An error refuses the body; a
    warning (a property WhisperSync cannot honour) still keeps it."""

    data_path: str
    message: str
    level: str = ERROR

    def to_dict(self) -> dict[str, Any]:
        return {"data_path": self.data_path, "message": self.message, "level": self.level}

    def to_aws(self) -> dict[str, str]:
        """PutDashboard's own field names."""
        return {"DataPath": self.data_path, "Message": self.message}


class DashboardBodyError(InputError):
    """A dashboard body with errors (``parse_body(..., strict=True)``); ``messages`` lists them all."""

    code = "invalid_dashboard_body"

    def __init__(self, messages: Sequence[ValidationMessage]) -> None:
        self.messages = list(messages)
        errors = [m for m in self.messages if m.level == ERROR]
        shown = "; ".join(f"{m.data_path or '/'}: {m.message}" for m in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"the dashboard body is invalid: {shown}{more}")
