"""The alarms over HTTP: the same engine and JSON shapes as `whispersync alarms … --json`.

    GET  /v1/alarms[?state=ALARM]      every alarm with its state; ?format=cloudwatch gives DescribeAlarms'
                                       {"MetricAlarms", "CompositeAlarms"}, as `alarms list --format cloudwatch`
    GET  /v1/alarms/{name}/history     state changes, actions, configuration updates (with next_token)
    POST /v1/alarms/evaluate           one evaluation cycle; body {"at": ISO 8601 | epoch ms, "dry_run"} optional;
                                       a time before an alarm's last state change is a dry run (nothing changes)
    POST /v1/alarms/{name}/state       SetAlarmState; body {"state", "reason", "reason_data"?}
    PUT  /v1/alarms                    PutMetricAlarm / PutCompositeAlarm request JSON (or a list)
    DELETE /v1/alarms/{name}           delete a stored alarm
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime
from whispersync.errors import InputError, NotFound
from whispersync.monitoring.alarms import describe_alarms
from whispersync.plan import STATES
from whispersync.web._json import read_json
from whispersync.web._params import client_time, page


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    def engine():
        if runtime.alarms is None:
            raise NotFound("alarms are not enabled in this process")
        return runtime.alarms

    @router.get("/v1/alarms")
    def list_alarms(state: str | None = None, format: str | None = None) -> dict:
        if state is not None and state not in STATES:
            raise InputError(f"unknown state {state[:40]!r}; one of: {', '.join(STATES)}")
        if format is not None and format != "cloudwatch":
            raise InputError(f"unknown format {format[:40]!r}; leave it out, or format=cloudwatch for "
                             "DescribeAlarms' shape")
        if format == "cloudwatch":
            return describe_alarms(engine(), state)
        return {"alarms": engine().describe(state)}

    @router.get("/v1/alarms/{name}/history")
    def alarm_history(name: str, limit: int = 100, next_token: str | None = None) -> dict:
        try:
            items, token = page(lambda n: engine().history(name, n), limit, next_token)
        except KeyError:
            raise NotFound(f"no alarm named {name!r}") from None
        return {"name": name, "history": items, "next_token": token}

    @router.post("/v1/alarms/evaluate")
    async def evaluate(request: Request) -> dict:
        payload = await read_json(request, required=False)
        if not isinstance(payload, dict) or set(payload) - {"at", "dry_run"}:
            raise InputError("the body is optional; it may hold only {\"at\": ISO 8601 or epoch ms, \"dry_run\": true}")
        at_ms = client_time(payload.get("at"), "at")
        if payload.get("dry_run") not in (None, True, False):
            raise InputError("dry_run must be true or false")
        # A time before an alarm's last state change is a dry run either way (the engine decides).
        dry_run = True if payload.get("dry_run") else None
        # DuckDB and SQLite block: off the event loop.
        results = await run_in_threadpool(lambda: engine().evaluate(at_ms, dry_run=dry_run))
        return {"alarms": [r.to_dict() for r in results], "dry_run": bool(dry_run) or any(r.dry_run for r in results)}

    @router.post("/v1/alarms/{name}/state")
    async def set_state(name: str, request: Request) -> dict:
        payload = await read_json(request, required=True)
        if not isinstance(payload, dict):
            raise InputError("the body must be a JSON object {\"state\", \"reason\", \"reason_data\"?}")
        unknown = set(payload) - {"state", "reason", "reason_data"}
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}; allowed: state, reason, reason_data")
        reason_data = payload.get("reason_data")
        if reason_data is not None and not isinstance(reason_data, dict):
            raise InputError("reason_data must be a JSON object")

        def run() -> None:
            try:
                engine().set_state(name, payload.get("state"), payload.get("reason"), reason_data)
            except KeyError:
                raise NotFound(f"no alarm named {name!r}") from None

        await run_in_threadpool(run)
        return {"name": name, "state": payload["state"], "reason": payload["reason"]}

    @router.put("/v1/alarms")
    async def put_alarms(request: Request) -> dict:
        from whispersync.monitoring.alarms import parse_alarm_requests

        payload = await read_json(request, required=True)
        alarms = parse_alarm_requests(payload)  # AlarmInputError (a 400) naming the field

        def run() -> list[dict]:
            # All or nothing: a list whose third alarm is bad stores none of them.
            replaced = engine().put_all(alarms)
            return [{"name": a.name, "kind": a.kind, "replaced": r} for a, r in zip(alarms, replaced)]

        return {"alarms": await run_in_threadpool(run)}

    @router.delete("/v1/alarms/{name}")
    def delete_alarm(name: str) -> dict:
        deleted = engine().delete(name)
        if not deleted:
            raise NotFound(f"no stored alarm named {name!r}")
        return {"deleted": name}

    return router
