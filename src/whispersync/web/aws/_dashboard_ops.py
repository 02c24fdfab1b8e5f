"""CloudWatch's dashboard operations over the dashboards the CLI and console show.

The dashboards are ``app.list_dashboards``' (the plan's, then the stored ones, a stored one
replacing a plan one of its name); PutDashboard and DeleteDashboards change the stored ones
(``app.open_dashboards``, as ``dashboards import`` and ``dashboards delete``). So a plan
dashboard can be replaced by PutDashboard and is back when that one is deleted, but a plan
dashboard itself cannot be deleted: DeleteDashboards refuses it with InvalidParameterValue,
the error of DeleteDashboards' model for a parameter that cannot be honoured (its
ConflictException is about creating what exists, its ResourceNotFound would deny a dashboard
that GetDashboard returns).

Rules are the API Reference's: PutDashboard checks the body and answers
DashboardValidationMessages (``parse_body``'s messages: errors refuse the body with
``InvalidParameterInput``, warnings come back with the stored dashboard); DeleteDashboards
deletes "up to 100 dashboards" and "if there is an error during this call, no dashboards are
deleted"; ListDashboards "returns up to 1000 results on one page".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from whispersync.app import ListedDashboard, Runtime, list_dashboards, open_dashboards
from whispersync.errors import ConfigError
from whispersync.monitoring.dashboards import DashboardBodyError, parse_body, render_body
from whispersync.web.aws._metrics_ops import _fingerprint, _offset, _token
from whispersync.web.aws._protocol import AwsError, invalid

LIST_PAGE = 1000
# The placeholder account of every ARN WhisperSync writes (monitoring.alarms' alarm and topic ARNs too).
ARN_ACCOUNT = "000000000000"
MAX_DELETE = 100


def dashboard_arn(name: str) -> str:
    # Dashboards are global: their ARN has no region (arn:aws:cloudwatch::123456789012:dashboard/NAME).
    return f"arn:aws:cloudwatch::{ARN_ACCOUNT}:dashboard/{name}"


def _dashboards(runtime: Runtime) -> dict[str, ListedDashboard]:
    try:
        return {d.name: d for d in list_dashboards(runtime.settings)}
    except ConfigError as exc:
        raise AwsError("InternalServiceError", str(exc), status=500, sender_fault=False) from None


def _not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Dashboard {name} does not exist", status=404)


def _body_text(dashboard: ListedDashboard) -> str:
    """The body as `dashboards export` writes it (canonical, keys sorted), as a JSON string."""
    try:
        body: Any = render_body(parse_body(dashboard.body, name=dashboard.name, strict=True)[0])
    except DashboardBodyError:
        body = dashboard.body  # a plan file's broken body: shown as it is, as `dashboards list` does
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


def put_dashboard(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    name, body = params["DashboardName"], params["DashboardBody"]
    _, messages = parse_body(body, name=name)
    errors = [m for m in messages if m.level == "error"]
    if errors:
        # DashboardInvalidInputError: "Some part of the dashboard data is invalid."
        shown = "; ".join(f"{m.data_path or '/'}: {m.message}" for m in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise AwsError("InvalidParameterInput", f"The field DashboardBody is invalid: {shown}{more}")
    with open_dashboards(runtime.settings) as store:
        store.put(name, body)
    return {"DashboardValidationMessages": [m.to_aws() for m in messages]}


def get_dashboard(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    name = params["DashboardName"]
    dashboard = _dashboards(runtime).get(name)
    if dashboard is None:
        raise _not_found(name)
    return {"DashboardArn": dashboard_arn(name), "DashboardBody": _body_text(dashboard), "DashboardName": name}


def list_dashboards_op(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("DashboardNamePrefix") or ""
    rows = sorted((d for n, d in _dashboards(runtime).items() if n.startswith(prefix)), key=lambda d: d.name)
    fingerprint = _fingerprint(params)
    offset = _offset(params.get("NextToken"), fingerprint, invalid)
    entries = []
    for d in rows[offset:offset + LIST_PAGE]:
        entry: dict[str, Any] = {"DashboardName": d.name, "DashboardArn": dashboard_arn(d.name),
                                 "Size": len(_body_text(d).encode())}
        if d.updated_ms is not None:  # a plan dashboard has no time it was put
            entry["LastModified"] = datetime.fromtimestamp(d.updated_ms / 1000, UTC)
        entries.append(entry)
    output: dict[str, Any] = {"DashboardEntries": entries}
    if offset + LIST_PAGE < len(rows):
        output["NextToken"] = _token(fingerprint, offset + LIST_PAGE)
    return output


def delete_dashboards(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    names = list(dict.fromkeys(params["DashboardNames"]))
    if len(names) > MAX_DELETE:
        raise invalid(f"The collection DashboardNames must not have a size greater than {MAX_DELETE}.")
    known = _dashboards(runtime)
    for name in names:  # every check before any delete: an error deletes nothing
        if name not in known:
            raise _not_found(name)
        if known[name].source != "stored":
            raise invalid(f"Dashboard {name} is declared in the monitoring plan and cannot be deleted; change or "
                          "remove it in the plan file")
    with open_dashboards(runtime.settings) as store:
        for name in names:
            store.delete(name)
    return {}


OPERATIONS: dict[str, Callable[[Runtime, dict[str, Any]], dict[str, Any]]] = {
    "PutDashboard": put_dashboard,
    "GetDashboard": get_dashboard,
    "ListDashboards": list_dashboards_op,
    "DeleteDashboards": delete_dashboards,
}
