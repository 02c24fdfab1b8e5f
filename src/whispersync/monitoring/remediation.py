"""Remediation handlers, looked up by name from an alarm action ``remediation:NAME``.

    registry = RemediationRegistry()
    registry.register("scale_up", lambda request: {"concurrency": 100})
    registry.run("scale_up", alarm="HighQueueDepth", state="ALARM", ...)   # -> the handler's result
    registry.calls   # every call, with its outcome

The plan's §8 rule ("queue depth > 1000 for 2 periods → scale workers up to
MAX_CONCURRENCY") is the ``HighQueueDepth`` alarm with the action
``remediation:scale_up``. The default ``scale_up`` handler only records that it
was asked; the scaling itself arrives with a later issue, which registers a
handler under the same name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RemediationRegistry", "RemediationRequest", "default_registry"]


@dataclass(frozen=True)
class RemediationRequest:
    """What a handler is told: which alarm changed to which state, and why."""

    handler: str
    alarm: str
    state: str
    previous_state: str
    reason: str
    at_ms: int


Handler = Callable[[RemediationRequest], Any]


class RemediationRegistry:
    """Handlers by name; ``run`` calls one and keeps a record of the call (the last ``keep``)."""

    def __init__(self, *, keep: int = 1000) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._keep = keep
        self.calls: list[dict[str, Any]] = []

    def register(self, name: str, handler: Handler) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a remediation handler needs a non-empty name")
        if not callable(handler):
            raise TypeError(f"remediation handler {name!r} is not callable")
        with self._lock:
            self._handlers[name] = handler

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def run(self, name: str, *, alarm: str, state: str, previous_state: str, reason: str, at_ms: int) -> Any:
        """Call handler ``name``; raise KeyError when none is registered. The call is recorded either way."""
        handler = self._handlers.get(name)
        request = RemediationRequest(name, alarm, state, previous_state, reason, at_ms)
        record: dict[str, Any] = {**asdict(request), "called_at": time.time()}
        try:
            if handler is None:
                raise KeyError(f"no remediation handler named {name!r}; registered: {', '.join(self.names()) or 'none'}")
            result = handler(request)
            record.update(ok=True, result=result)
            return result
        except Exception as exc:
            record.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            with self._lock:
                self.calls.append(record)
                del self.calls[:-self._keep]


def _record_only_scale_up(request: RemediationRequest) -> dict[str, Any]:
    # The actual scale-up (raise the worker pool to MAX_CONCURRENCY) comes with a
    # later issue; until then the call itself, recorded in the alarm history, is the effect.
    return {"scaled": False, "note": "scale-up not implemented yet; call recorded",
            "alarm": request.alarm, "state": request.state}


def default_registry() -> RemediationRegistry:
    """A registry with the plan's handlers: ``scale_up``."""
    registry = RemediationRegistry()
    registry.register("scale_up", _record_only_scale_up)
    return registry
