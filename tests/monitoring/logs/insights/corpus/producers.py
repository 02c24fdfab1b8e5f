"""Log lines in the shapes their producers write, wrapped as CloudWatch log events.

Every dataset is a `aws logs filter-log-events --output json` response, the way a
user takes events out of CloudWatch before `whispersync logs import FILE --log-group G`.
Each producer's line format is cited where it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # every dataset lives on 2026-11-27, 11:00-14:00 UTC
ACCOUNT = "123456789012"


def at(hh: int, mm: int, ss: float = 0) -> int:
    """Epoch milliseconds of 2026-11-27 hh:mm:ss UTC."""
    when = T0.replace(hour=hh, minute=mm) + timedelta(seconds=ss)
    return int(when.timestamp() * 1000)


def shown(hh: int, mm: int, ss: float = 0) -> str:
    """The same instant as a query result shows it (`YYYY-MM-DD HH:MM:SS.mmm`, UTC)."""
    ms = at(hh, mm, ss)
    when = datetime.fromtimestamp(ms / 1000, UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


@dataclass(frozen=True)
class Event:
    """One CloudWatch log event: its time (epoch ms), stream and raw message."""

    ms: int
    stream: str
    message: str

    @property
    def shown(self) -> str:
        when = datetime.fromtimestamp(self.ms / 1000, UTC)
        return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{self.ms % 1000:03d}"


def filter_log_events(events: list[Event], id_prefix: str) -> bytes:
    """The events as FilterLogEvents returns them (eventId, ingestionTime and all)."""
    return orjson.dumps({"events": [
        {"logStreamName": e.stream, "timestamp": e.ms, "message": e.message, "ingestionTime": e.ms + 800,
         "eventId": f"{id_prefix}{i:04d}"}
        for i, e in enumerate(events)
    ], "searchedLogStreams": []}, option=orjson.OPT_INDENT_2)


def json_line(**fields) -> str:
    """A JSON object on one line, keys in the order given, as JSON loggers write it."""
    return orjson.dumps(fields).decode()


# --- AWS Lambda platform lines (Lambda Developer Guide, "Using CloudWatch Logs with Lambda":
# START/END/REPORT, tab-separated REPORT values, memory in MB, durations in ms).

def lambda_start(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST\n"


def lambda_end(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def lambda_report(request_id: str, duration: float, billed: int, memory_mb: int, max_used_mb: int,
                  init: float | None = None) -> str:
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {memory_mb} MB\tMax Memory Used: {max_used_mb} MB\t")
    if init is not None:
        line += f"Init Duration: {init:.2f} ms\t"
    return line + "\n"


# --- VPC flow log record, default format version 2 (VPC User Guide, "Flow log records"):
# version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes
# start end action log-status; "-" where a NODATA/SKIPDATA record has no value.

def flow_record(eni: str, src: str, dst: str, sport: int, dport: int, protocol: int, packets: int,
                size: int, start_s: int, action: str = "ACCEPT") -> str:
    return (f"2 {ACCOUNT} {eni} {src} {dst} {sport} {dport} {protocol} {packets} {size} "
            f"{start_s} {start_s + 60} {action} OK")


def flow_gap(eni: str, start_s: int, status: str) -> str:
    """A NODATA or SKIPDATA record: only the window and the status are known."""
    return f"2 {ACCOUNT} {eni} - - - - - - - {start_s} {start_s + 60} - {status}"


# --- Route 53 public DNS query log (Route 53 Developer Guide, "Public DNS query logging"):
# version, query timestamp, hosted zone id, query name, query type, response code,
# protocol, edge location, resolver IP, EDNS client subnet ("-" when absent).

def route53_query(ms: int, name: str, qtype: str, rcode: str, protocol: str, edge: str, resolver: str) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return f"1.0 {stamp} Z123412341234 {name} {qtype} {rcode} {protocol} {edge} {resolver} -"


# --- CloudTrail record as CloudTrail delivers it to CloudWatch Logs: one JSON event a message
# (CloudTrail User Guide, "CloudTrail record contents").

def cloudtrail_record(ms: int, source: str, name: str, region: str, *, tls: str = "TLSv1.3",
                      cipher: str = "TLS_AES_128_GCM_SHA256", agent: str = "aws-cli/2.15.0",
                      **extra) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL",
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/ops", "accountId": ACCOUNT, "userName": "ops"},
        "eventTime": when, "eventSource": source, "eventName": name, "awsRegion": region,
        "sourceIPAddress": "192.0.2.200", "userAgent": agent,
        **extra,
        "eventID": f"{ms:x}-{name}", "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": ACCOUNT, "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": tls, "cipherSuite": cipher, "clientProvidedHostHeader": source},
    }
    return orjson.dumps(record).decode()


# --- API Gateway access log in the JSON format of the API Gateway Developer Guide
# ("CloudWatch log formats for API Gateway"): every $context value is written inside quotes,
# so status and latencies arrive as strings ("404", "130").

def apigw_access(ms: int, ip: str, method: str, path: str, status: int, response_latency: int,
                 integration_latency: int, request_id: str) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return json_line(requestId=request_id, ip=ip, requestTime=when, httpMethod=method, path=path,
                     status=str(status), protocol="HTTP/1.1", responseLength="128",
                     responseLatency=str(response_latency), integrationLatency=str(integration_latency))


# --- Apache httpd with JSON LogFormat/ErrorLogFormat (mod_log_config: %a remote IP, %U URL path,
# %m method, %>s status, %f filename, %{Referer}i; ErrorLogFormat %-m:%l module:level, %P pid, %M).

def apache_access(ms: int, ip: str, request: str, method: str, status: int, referrer: str, filename: str) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.000000")
    return json_line(time=when, remoteIP=ip, host="www.example.com", request=request, query="", method=method,
                     status=str(status), userAgent="Mozilla/5.0", referrer=referrer, filename=filename,
                     bytes_sent="512")


def apache_error(ms: int, function: str, pid: int, message: str) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.000000")
    return json_line(time=when, function=function, process=f"[pid {pid}]", message=message)


# --- EventBridge event, as a rule targeting a CloudWatch log group stores it
# (EventBridge User Guide, "Amazon EventBridge events": version, id, detail-type, source ...).

def eventbridge_event(ms: int, detail_type: str, source: str, detail: dict) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json_line(**{"version": "0", "id": f"{ms:x}-evt", "detail-type": detail_type, "source": source,
                        "account": ACCOUNT, "time": when, "region": "us-east-1", "resources": [],
                        "detail": detail})
