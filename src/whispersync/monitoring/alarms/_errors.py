"""The alarm engine's refusal of a caller's alarm or request."""

from __future__ import annotations

from whispersync.errors import InputError


class AlarmError(InputError):
    """An alarm or a request the engine cannot take: a rule or expression that does not
    parse, a rule naming unknown alarms or closing a cycle, a bad state change, deleting
    an alarm the plan declares or a composite uses."""
