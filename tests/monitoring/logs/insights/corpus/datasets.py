"""The events each documented query runs on, one small dataset per kind of log.

A query runs on one dataset, as a user runs it on the log groups they select. Each
dataset holds one or more log groups; every group is imported from its own
FilterLogEvents file. The answers in ``queries`` are worked out from these events
by hand: keep them small, and change an event only together with those answers.

Datasets that a ``stats ... by`` query runs on give every event the grouped fields:
the docs do not say whether events without them form a group of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from .producers import (
    Event,
    apache_access,
    apache_error,
    apigw_access,
    at,
    cloudtrail_record,
    eventbridge_event,
    flow_gap,
    flow_record,
    json_line,
    lambda_end,
    lambda_report,
    lambda_start,
    route53_query,
)


@dataclass(frozen=True)
class LogGroup:
    name: str
    events: tuple[Event, ...]


def _group(name: str, stream: str, entries: list[tuple[int, str]]) -> LogGroup:
    return LogGroup(name, tuple(Event(ms, stream, message) for ms, message in entries))


# --- General queries: a JSON application log (server, severity, message) ----------------

APP_STREAM = "web/i-0a1b2c3d"
APP = _group("/whispersync/app", APP_STREAM, [
    (at(11, 10), json_line(server="web-1", severity="INFO", message="GET /health 200")),  # 0
    (at(11, 40), json_line(server="web-2", severity="ERROR", message="NullPointerException in handler")),  # 1
    (at(12, 5), json_line(server="web-1", severity="WARN", message="slow response 1200 ms")),  # 2
    (at(12, 10), json_line(server="web-2", severity="INFO", message="GET /memos 200")),  # 3
    (at(12, 20), json_line(server="web-1", severity="ERROR", message="TimeoutException calling transcriber")),  # 4
    (at(12, 30), json_line(server="web-3", severity="ERROR", message="IllegalStateException: queue closed")),  # 5
    (at(12, 45), json_line(server="web-2", severity="ERROR", message="IOException: disk full")),  # 6
    (at(13, 5), json_line(server="web-3", severity="INFO", message="GET /memos 200")),  # 7
    (at(13, 15), json_line(server="web-1", severity="ERROR", message="SQLException: deadlock")),  # 8
    (at(13, 40), json_line(server="web-2", severity="WARN", message="retrying upload after error")),  # 9
    (at(13, 50), json_line(server="web-3", severity="ERROR", message="RuntimeException: boom")),  # 10
    (at(14, 0), json_line(severity="INFO", message="scheduler started")),  # 11: no server
])

# --- Lambda: platform lines of five invocations (r2 retried), app lines between ---------

LAMBDA_STREAM = "2026/11/27/[$LATEST]0a1b2c3d4e5f"
LAMBDA = _group("/aws/lambda/transcribe", LAMBDA_STREAM, [
    (at(12, 1), lambda_start("r1")),  # 0
    (at(12, 1, 0.05), json_line(level="INFO", message="Processing transcript", function_request_id="r1")),  # 1
    (at(12, 1, 0.2), lambda_end("r1")),  # 2
    (at(12, 1, 0.2), lambda_report("r1", 102.25, 103, 128, 70, init=150.10)),  # 3
    (at(12, 6), lambda_start("r2")),  # 4
    (at(12, 6, 1.5), lambda_end("r2")),  # 5
    (at(12, 6, 1.5), lambda_report("r2", 1500.50, 1501, 128, 90)),  # 6
    (at(12, 7), lambda_start("r3")),  # 7
    (at(12, 7, 2.2), lambda_end("r3")),  # 8
    (at(12, 7, 2.2), lambda_report("r3", 2200.00, 2200, 128, 110)),  # 9
    (at(12, 16), lambda_start("r2")),  # 10: the retry keeps its request id
    (at(12, 16, 1.3), lambda_end("r2")),  # 11
    (at(12, 16, 1.3), lambda_report("r2", 1300.00, 1300, 128, 85)),  # 12
    (at(12, 20), lambda_start("r4")),  # 13
    (at(12, 20, 0.04), lambda_end("r4")),  # 14
    (at(12, 20, 0.04), lambda_report("r4", 40.00, 40, 128, 60)),  # 15
])

# --- VPC flow logs: two ENIs; hosts A, B in 192.0.2.0/24, C and D outside, E in 10.0.1.0/24 -

ENI_1, ENI_2 = "eni-0123456789abcdef0", "eni-0fedcba9876543210"
A, B, C, D, E = "192.0.2.10", "192.0.2.20", "198.51.100.7", "203.0.113.5", "10.0.1.15"


def _flow(hh: int, mm: int, line) -> tuple[int, str]:
    return at(hh, mm), line(at(hh, mm) // 1000)


VPC_RECORDS = [
    _flow(12, 0, lambda s: flow_record(ENI_1, A, C, 49152, 443, 6, 10, 8000, s)),  # 0
    _flow(12, 1, lambda s: flow_record(ENI_1, C, A, 443, 49152, 6, 12, 9000, s)),  # 1
    _flow(12, 2, lambda s: flow_record(ENI_1, A, D, 50000, 53, 17, 2, 150, s)),  # 2
    _flow(12, 3, lambda s: flow_record(ENI_1, B, C, 49200, 443, 6, 40, 32000, s)),  # 3
    _flow(12, 4, lambda s: flow_record(ENI_1, B, D, 50001, 53, 17, 4, 300, s)),  # 4
    _flow(12, 5, lambda s: flow_record(ENI_1, A, C, 49152, 443, 6, 5, 4000, s)),  # 5
    _flow(12, 6, lambda s: flow_record(ENI_2, E, C, 41000, 22, 6, 7, 5000, s, action="REJECT")),  # 6
    _flow(12, 7, lambda s: flow_record(ENI_2, E, D, 50002, 123, 17, 3, 240, s)),  # 7
    _flow(12, 10, lambda s: flow_gap(ENI_1, s, "NODATA")),  # 8
    _flow(12, 20, lambda s: flow_gap(ENI_2, s, "SKIPDATA")),  # 9
    _flow(12, 40, lambda s: flow_gap(ENI_2, s, "SKIPDATA")),  # 10
    _flow(13, 10, lambda s: flow_gap(ENI_1, s, "SKIPDATA")),  # 11
    _flow(13, 15, lambda s: flow_record(ENI_1, D, A, 53, 50000, 17, 1, 90, s)),  # 12
    _flow(13, 20, lambda s: flow_record(ENI_1, A, D, 50003, 53, 17, 3, 210, s)),  # 13
]


def _eni_stream(line: str) -> str:
    return f"{line.split()[2]}-all"  # the flow log service writes one stream per ENI


VPC = LogGroup("/vpc/flow-logs", tuple(Event(ms, _eni_stream(m), m) for ms, m in VPC_RECORDS))
# The records that carry a flow (log-status OK): for the stats ... by srcAddr/dstAddr queries.
VPC_FLOWS = LogGroup("/vpc/flow-logs", tuple(e for e in VPC.events if e.message.endswith(" OK")))

# --- NAT gateway ENI flow logs: NAT 10.0.2.7 in VPC 10.0.0.0/16; instances I1, I2 ----------

NAT_ENI, NAT_IP, I1, I2 = "eni-0aaaabbbbccccdddd", "10.0.2.7", "10.0.1.15", "10.0.3.22"
NAT_RECORDS = [
    _flow(12, 0, lambda s: flow_record(NAT_ENI, I1, NAT_IP, 40001, 443, 6, 10, 5000, s)),  # 0 I1 -> NAT
    _flow(12, 0, lambda s: flow_record(NAT_ENI, NAT_IP, C, 40001, 443, 6, 10, 5000, s)),  # 1 upload
    _flow(12, 1, lambda s: flow_record(NAT_ENI, C, NAT_IP, 443, 40001, 6, 70, 90000, s)),  # 2 download
    _flow(12, 1, lambda s: flow_record(NAT_ENI, NAT_IP, I1, 443, 40001, 6, 70, 90000, s)),  # 3 NAT -> I1
    _flow(12, 2, lambda s: flow_record(NAT_ENI, I2, NAT_IP, 40002, 443, 6, 3, 1200, s)),  # 4
    _flow(12, 2, lambda s: flow_record(NAT_ENI, NAT_IP, D, 40002, 443, 6, 3, 1200, s)),  # 5
    _flow(12, 3, lambda s: flow_record(NAT_ENI, D, NAT_IP, 443, 40002, 6, 4, 3000, s)),  # 6
    _flow(12, 3, lambda s: flow_record(NAT_ENI, NAT_IP, I2, 443, 40002, 6, 4, 3000, s)),  # 7
    _flow(12, 4, lambda s: flow_record(NAT_ENI, I1, NAT_IP, 40003, 443, 6, 2, 800, s)),  # 8
    _flow(12, 4, lambda s: flow_record(NAT_ENI, NAT_IP, C, 40003, 443, 6, 2, 800, s)),  # 9
]
NAT = LogGroup("/vpc/nat-gateway", tuple(Event(ms, _eni_stream(m), m) for ms, m in NAT_RECORDS))

# --- Route 53 public DNS query logs for example.com -------------------------------------

_R53 = [
    (at(12, 1), "example.com", "A", "NOERROR", "UDP", "FRA6", "192.0.2.53"),  # 0
    (at(12, 5), "www.example.com", "AAAA", "NOERROR", "UDP", "FRA6", "192.0.2.53"),  # 1
    (at(12, 10), "api.example.com", "A", "SERVFAIL", "UDP", "IAD12", "198.51.100.53"),  # 2
    (at(12, 30), "example.com", "MX", "NOERROR", "TCP", "IAD12", "198.51.100.53"),  # 3
    (at(12, 45), "api.example.com", "A", "SERVFAIL", "UDP", "FRA6", "203.0.113.53"),  # 4
    (at(13, 5), "www.example.com", "A", "NOERROR", "UDP", "FRA6", "192.0.2.53"),  # 5
    (at(13, 20), "mail.example.com", "A", "SERVFAIL", "UDP", "IAD12", "192.0.2.53"),  # 6
    (at(13, 40), "www.example.com", "AAAA", "NOERROR", "UDP", "FRA6", "198.51.100.53"),  # 7
]
ROUTE53 = LogGroup("/aws/route53/example.com", tuple(
    Event(ms, f"Z123412341234/{edge}", route53_query(ms, name, qtype, rcode, proto, edge, resolver))
    for ms, name, qtype, rcode, proto, edge, resolver in _R53))

# --- CloudTrail management events --------------------------------------------------------

_TRAIL_ERROR = "Unknown trail: arn:aws:cloudtrail:us-east-2:123456789012:trail/old for the user: 123456789012"
CLOUDTRAIL = _group("aws-cloudtrail-logs-123456789012-0a1b2c3d", "123456789012_CloudTrail_us-east-2", [
    (at(12, 0), cloudtrail_record(at(12, 0), "ec2.amazonaws.com", "StartInstances", "us-east-2",
                                  requestParameters={"instancesSet": {"items": [{"instanceId": "i-abcde123"}]}})),  # 0
    (at(12, 5), cloudtrail_record(at(12, 5), "ec2.amazonaws.com", "StopInstances", "us-east-2",
                                  requestParameters={"instancesSet": {"items": [{"instanceId": "i-0f00ba12"}]}})),  # 1
    (at(12, 10), cloudtrail_record(at(12, 10), "ec2.amazonaws.com", "StartInstances", "us-west-2",
                                   requestParameters={"instancesSet": {"items": [{"instanceId": "i-0e57e57e"}]}})),  # 2
    (at(12, 15), cloudtrail_record(at(12, 15), "iam.amazonaws.com", "CreateUser", "us-east-1",
                                   requestParameters={"userName": "ana"},
                                   responseElements={"user": {"userName": "ana",
                                                              "arn": "arn:aws:iam::123456789012:user/ana"}})),  # 3
    (at(12, 20), cloudtrail_record(at(12, 20), "iam.amazonaws.com", "CreateUser", "us-east-1",
                                   tls="TLSv1", cipher="ECDHE-RSA-AES128-SHA", agent="legacy-sdk/1.0",
                                   requestParameters={"userName": "bo"},
                                   responseElements={"user": {"userName": "bo",
                                                              "arn": "arn:aws:iam::123456789012:user/bo"}})),  # 4
    (at(12, 25), cloudtrail_record(at(12, 25), "cloudtrail.amazonaws.com", "UpdateTrail", "us-east-2",
                                   errorCode="TrailNotFoundException", errorMessage=_TRAIL_ERROR)),  # 5
    (at(12, 30), cloudtrail_record(at(12, 30), "cloudtrail.amazonaws.com", "UpdateTrail", "us-east-2",
                                   tls="TLSv1.1", cipher="ECDHE-RSA-AES256-SHA", agent="legacy-sdk/1.0",
                                   errorCode="TrailNotFoundException", errorMessage=_TRAIL_ERROR)),  # 6
    (at(12, 35), cloudtrail_record(at(12, 35), "cloudtrail.amazonaws.com", "UpdateTrail", "us-east-2",
                                   requestParameters={"name": "main"})),  # 7
    (at(12, 40), cloudtrail_record(at(12, 40), "cloudtrail.amazonaws.com", "UpdateTrail", "us-east-2",
                                   errorCode="InvalidTrailNameException", errorMessage="Trail name too short")),  # 8
    (at(12, 45), cloudtrail_record(at(12, 45), "s3.amazonaws.com", "GetBucketAcl", "us-east-2",
                                   tls="TLSv1", cipher="ECDHE-RSA-AES128-SHA", agent="legacy-sdk/1.0")),  # 9
    (at(12, 50), cloudtrail_record(at(12, 50), "s3.amazonaws.com", "GetObject", "us-east-2",
                                   tls="TLSv1.1", cipher="ECDHE-RSA-AES256-SHA", agent="legacy-sdk/1.0")),  # 10
])

# --- API Gateway access logs: (time, ip, method, path, status, responseLatency, integrationLatency)

_APIGW = [
    (at(12, 0, 5), "198.51.100.1", "GET", "/memos", 200, 45, 30),  # 0
    (at(12, 0, 20), "198.51.100.2", "GET", "/memos", 200, 55, 41),  # 1
    (at(12, 0, 40), "198.51.100.3", "POST", "/memos", 201, 130, 110),  # 2
    (at(12, 1, 5), "198.51.100.4", "GET", "/memos/7", 404, 14, 9),  # 3
    (at(12, 1, 15), "198.51.100.1", "GET", "/memos", 200, 60, 52),  # 4
    (at(12, 1, 30), "198.51.100.5", "DELETE", "/memos/7", 403, 8, 5),  # 5
    (at(12, 1, 45), "198.51.100.2", "GET", "/health", 200, 3, 1),  # 6
    (at(12, 2, 0), "198.51.100.6", "GET", "/memos/9", 404, 16, 11),  # 7
    (at(12, 2, 10), "198.51.100.7", "POST", "/memos", 400, 22, 15),  # 8
    (at(12, 2, 20), "198.51.100.1", "GET", "/memos", 500, 3000, 2990),  # 9
    (at(12, 2, 30), "198.51.100.8", "GET", "/memos/1", 404, 13, 10),  # 10
    (at(12, 2, 40), "198.51.100.3", "PUT", "/memos/1", 409, 35, 30),  # 11
    (at(12, 2, 50), "198.51.100.9", "GET", "/admin", 401, 6, 4),  # 12
    (at(12, 3, 0), "198.51.100.4", "GET", "/memos/2", 404, 17, 12),  # 13
    (at(12, 3, 10), "198.51.100.5", "GET", "/memos", 429, 2, 1),  # 14
    (at(12, 3, 20), "198.51.100.6", "GET", "/memos/3", 404, 18, 13),  # 15
    (at(12, 3, 30), "198.51.100.2", "GET", "/memos", 200, 70, 61),  # 16
    (at(12, 3, 40), "198.51.100.7", "POST", "/memos", 422, 25, 20),  # 17
    (at(12, 3, 50), "198.51.100.8", "GET", "/memos/4", 404, 19, 14),  # 18
    (at(12, 4, 0), "198.51.100.9", "GET", "/memos/5", 404, 21, 16),  # 19
]
APIGW = _group("API-Gateway-Access-Logs_abc123/prod", "0123456789abcdef0123456789abcdef", [
    (ms, apigw_access(ms, ip, method, path, status, latency, integration, f"req-{i:02d}"))
    for i, (ms, ip, method, path, status, latency, integration) in enumerate(_APIGW)])

# --- Apache httpd: JSON access log and error log --------------------------------------------

_HOME = "http://34.250.27.141/"
_RESTART = "AH00163: Apache/2.4.58 (Unix) configured -- resuming normal operations"
APACHE_ACCESS = _group("/apache/httpd", "i-0a1b2c3d/access_log", [
    (at(12, 0, 10), apache_access(at(12, 0, 10), "198.51.100.10", "/", "GET", 200, _HOME, "/var/www/html/index.html")),
    (at(12, 0, 20), apache_access(at(12, 0, 20), "198.51.100.11", "/", "GET", 200, _HOME, "/var/www/html/index.html")),
    (at(12, 0, 30), apache_access(at(12, 0, 30), "198.51.100.10", "/", "GET", 200, _HOME, "/var/www/html/index.html")),
    (at(12, 0, 40), apache_access(at(12, 0, 40), "198.51.100.12", "/", "GET", 304, _HOME, "/var/www/html/index.html")),
    (at(12, 0, 50), apache_access(at(12, 0, 50), "198.51.100.13", "/", "POST", 200, _HOME, "/var/www/html/index.html")),
    (at(12, 1, 0), apache_access(at(12, 1, 0), "198.51.100.14", "/", "GET", 200, "-", "/var/www/html/index.html")),
    (at(12, 1, 10), apache_access(at(12, 1, 10), "203.0.113.50", "/admin", "GET", 403, "-", "/var/www/html/admin")),
    (at(12, 1, 20), apache_access(at(12, 1, 20), "203.0.113.51", "/admin", "GET", 200, _HOME, "/var/www/html/admin")),
    (at(12, 1, 30), apache_access(at(12, 1, 30), "203.0.113.50", "/admin/login", "GET", 200, "-",
                                  "/var/www/html/admin/login")),
])
APACHE_ERROR = _group("/apache/httpd", "i-0a1b2c3d/error_log", [
    (at(11, 59), apache_error(at(11, 59), "[mpm_prefork:notice]", 1, _RESTART)),  # 0
    (at(12, 30), apache_error(at(12, 30), "[core:error]", 211, "AH00126: Invalid URI in request GET /%%% HTTP/1.1")),
    (at(13, 0), apache_error(at(13, 0), "[mpm_prefork:notice]", 1, _RESTART)),  # 2
    (at(13, 0, 5), apache_error(at(13, 0, 5), "[core:notice]", 1, "AH00094: Command line: 'httpd -D FOREGROUND'")),
])

# --- EventBridge events delivered to a log group ---------------------------------------------

_S3_DETAIL = {"bucket": {"name": "memos"}, "object": {"key": "audio/1.m4a", "size": 1024}}
_EC2_DETAIL = {"instance-id": "i-0a1b2c3d", "state": "running"}
EVENTBRIDGE = _group("/aws/events/whispersync", "events", [
    (at(12, 0), eventbridge_event(at(12, 0), "Object Created", "aws.s3", _S3_DETAIL)),
    (at(12, 1), eventbridge_event(at(12, 1), "Object Created", "aws.s3", _S3_DETAIL)),
    (at(12, 2), eventbridge_event(at(12, 2), "EC2 Instance State-change Notification", "aws.ec2", _EC2_DETAIL)),
    (at(12, 3), eventbridge_event(at(12, 3), "Object Created", "aws.s3", _S3_DETAIL)),
    (at(12, 4), eventbridge_event(at(12, 4), "Scheduled Event", "aws.events", {})),
    (at(12, 5), eventbridge_event(at(12, 5), "EC2 Instance State-change Notification", "aws.ec2", _EC2_DETAIL)),
])

# --- Plain-text service lines ----------------------------------------------------------------

LATENCY = _group("/app/latency", "api", [  # "user=*, method:*, latency := *"
    (at(12, 0, 1), "user=ana, method:GET, latency := 120"),
    (at(12, 0, 2), "user=ana, method:GET, latency := 80"),
    (at(12, 0, 3), "user=bo, method:GET, latency := 40"),
    (at(12, 0, 4), "user=ana, method:PUT, latency := 300"),
    (at(12, 0, 5), "user=bo, method:PUT, latency := 200"),
    (at(12, 0, 6), "user=bo, method:PUT, latency := 100"),
])
TEXT = _group("/app/service", "svc", [  # "<time> [<LEVEL>] <message>"
    (at(12, 0, 10), "2026-11-27T12:00:10Z [INFO] service started"),  # 0
    (at(12, 0, 20), "2026-11-27T12:00:20Z [DEBUG] cache warm"),  # 1
    (at(12, 0, 30), "2026-11-27T12:00:30Z [ERROR] Failed to do: connect to db"),  # 2
    (at(12, 0, 40), "2026-11-27T12:00:40Z [WARN] slow query"),  # 3
    (at(12, 0, 50), "2026-11-27T12:00:50Z [ERROR] Failed to do: write memo"),  # 4
    (at(12, 1, 0), "2026-11-27T12:01:00Z [INFO] request done"),  # 5
    (at(12, 1, 10), "2026-11-27T12:01:10Z [ERROR] Failed to do: connect to db"),  # 6
])
BRACKETED = _group("/app/worker", "worker", [  # "[<LEVEL>] <message>"
    (at(12, 0, 1), "[INFO] worker started"),
    (at(12, 0, 2), "[ERROR] connect to db failed"),
    (at(12, 0, 3), "[WARN] slow query"),
    (at(12, 0, 4), "[ERROR] write memo failed"),
])
URLS = _group("/app/router", "router", [
    (at(12, 0, 1), "url=/api/v1/users/42"),
    (at(12, 0, 2), "url=/api/v2/users/7"),
    (at(12, 0, 3), "url=/health"),
])
LOGFMT = _group("/app/logfmt", "api", [
    (at(12, 0, 1), 'level=info msg="memo saved" host=web-1 duration=12ms'),
    (at(12, 0, 2), 'level=error msg="transcriber timeout" host=web-2 duration=30000ms'),
    (at(12, 0, 3), 'level=info msg="memo saved" host=web-1 duration=15ms'),
    (at(12, 0, 4), 'level=error msg="disk full" host=web-1 duration=3ms'),
    (at(12, 0, 5), 'level=warn msg="slow upload" host=web-3 duration=2500ms'),
])
CSV_APP = _group("/app/csv", "app", [
    (at(12, 0, 1), "2026-11-27T12:00:01Z,INFO,memo saved"),
    (at(12, 0, 2), "2026-11-27T12:00:02Z,ERROR,transcriber timeout"),
    (at(12, 0, 3), "2026-11-27T12:00:03Z,ERROR,disk full"),
    (at(12, 0, 4), "2026-11-27T12:00:04Z,WARN,slow upload"),
])
CSV_ACCESS = _group("/app/csv-access", "edge", [  # host, method, path, status, duration
    (at(12, 0, 1), "web-1,GET,/memos,200,12"),
    (at(12, 0, 2), "web-2,GET,/memos,200,20"),
    (at(12, 0, 3), "web-1,POST,/memos,201,45"),
    (at(12, 0, 4), "web-2,DELETE,/memos/7,204,9"),
    (at(12, 0, 5), "web-1,POST,/memos,500,75"),
])
AUDIT = _group("/app/audit", "audit", [
    (at(12, 0, 1), 'audit event {"user":{"name":"ana","id":1},"action":"login"}'),
    (at(12, 0, 2), 'audit event {"user":{"name":"bo","id":2},"action":"logout"}'),
    (at(12, 0, 3), "heartbeat ok"),
])

# --- JSON application logs shaped for the per-command pages ---------------------------------


def _json_group(name: str, stream: str, rows: list[tuple[int, dict]]) -> LogGroup:
    return _group(name, stream, [(ms, json_line(**fields)) for ms, fields in rows])


FILTER_PAGE = _json_group("/app/filter-examples", "api", [
    (at(12, 1), {"range": 2500, "accountId": 123456789012, "f1": "ServiceLogSampleApiLogGroup", "f2": "GET", "f3": 1}),
    (at(12, 2), {"range": 3500, "accountId": 123456789012, "requestId": "1234656", "f1": "SampleApiLogGroupServiceLog",
                 "f2": "PUT", "f3": 2}),
    (at(12, 3), {"range": 4000, "accountId": 210987654321, "logGroup": "example_group", "f1": "Exception: boom",
                 "f2": "GET", "f3": 3}),
    (at(12, 4), {"range": 3000, "accountId": 123456789012, "requestId": "123456", "logGroup": "example_group_2",
                 "f1": "an exception, lowercase", "f2": "POST", "f3": 4}),
    (at(12, 5), {"range": 9000, "accountId": 123456789012, "logGroup": "example_group", "f1": "ServiceLog",
                 "f2": "GET", "f3": 5}),
    (at(12, 6), {"accountId": 123456789012, "f1": "all fine", "f2": "HEAD", "f3": 6}),
])
IPADDR = _json_group("/app/edge", "edge", [
    (at(12, 1), {"IPaddress": "198.51.100.0", "action": "allow"}),
    (at(12, 2), {"IPaddress": "198.51.100.1", "action": "allow"}),
    (at(12, 3), {"IPaddress": "198.51.100.0", "action": "deny"}),
    (at(12, 4), {"IPaddress": "198.51.100.2", "action": "allow"}),
])
DURATIONS = _json_group("/app/jobs", "jobs", [
    (at(12, 1), {"job": "a", "duration": 100}), (at(12, 2), {"job": "b", "duration": 250}),
    (at(12, 3), {"job": "c", "duration": 100}), (at(12, 4), {"job": "d", "duration": 40}),
    (at(12, 5), {"job": "e", "duration": 250}), (at(12, 6), {"job": "f", "duration": 100}),
])
MYFIELDS = _json_group("/app/gauges", "gauges", [
    (at(12, 1), {"myfield1": 10, "myfield2": 5, "myfield3": 1}),
    (at(12, 3), {"myfield1": 20, "myfield2": 3, "myfield3": 7}),
    (at(12, 6), {"myfield1": 6, "myfield2": 9, "myfield3": 2}),
])
_PAD = "x" * 1024


def _sized(stream: str, ms: int) -> Event:
    """A JSON line of exactly 1024 bytes: strlen(@message) sums to whole KiB."""
    line = json_line(stream=stream, payload="")
    return Event(ms, stream, json_line(stream=stream, payload=_PAD[: 1024 - len(line)]))


INGEST = LogGroup("/app/ingest", (
    _sized("api", at(12, 1)), _sized("worker", at(12, 2)), _sized("api", at(12, 3)), _sized("worker", at(12, 7)),
    _sized("api", at(12, 11)), _sized("worker", at(12, 12)), _sized("worker", at(12, 16)),
))
SESSIONS = _json_group("/app/web", "web", [  # session s1..s5: ips per session, platform
    (at(12, 1), {"session_id": "s1", "client_ip": "198.51.100.1", "client_platform": "ios"}),
    (at(12, 2), {"session_id": "s1", "client_ip": "198.51.100.2", "client_platform": "ios"}),
    (at(12, 3), {"session_id": "s1", "client_ip": "198.51.100.1", "client_platform": "ios"}),
    (at(12, 4), {"session_id": "s2", "client_ip": "198.51.100.3", "client_platform": "ios"}),
    (at(12, 5), {"session_id": "s2", "client_ip": "198.51.100.3", "client_platform": "ios"}),
    (at(12, 6), {"session_id": "s3", "client_ip": "198.51.100.4", "client_platform": "android"}),
    (at(12, 7), {"session_id": "s3", "client_ip": "198.51.100.5", "client_platform": "android"}),
    (at(12, 8), {"session_id": "s4", "client_ip": "198.51.100.6", "client_platform": "ios"}),
    (at(12, 9), {"session_id": "s4", "client_ip": "198.51.100.7", "client_platform": "ios"}),
    (at(12, 10), {"session_id": "s4", "client_ip": "198.51.100.8", "client_platform": "ios"}),
    (at(12, 11), {"session_id": "s4", "client_ip": "198.51.100.6", "client_platform": "ios"}),
    (at(12, 12), {"session_id": "s5", "client_ip": "198.51.100.9", "client_platform": "web"}),
])
XYZ = _json_group("/app/xyz", "xyz", [
    (at(12, 1), {"x": 1, "y": "a", "z": "p", "Fault": 0, "Operation": "Get"}),
    (at(12, 2), {"x": 2, "y": "a", "z": "p", "Fault": 1, "Operation": "Get"}),
    (at(12, 3), {"x": 10, "y": "b", "z": "p", "Fault": 0, "Operation": "Put"}),
    (at(12, 4), {"x": 5, "y": "a", "z": "q", "Fault": 1, "Operation": "Put"}),
    (at(12, 5), {"x": 4, "y": "b", "z": "q", "Fault": 0, "Operation": "Get"}),
    (at(12, 6), {"x": 3, "y": "b", "z": "q", "Fault": 0, "Operation": "Get"}),
])
STREAMS = LogGroup("/app/fleet", tuple(Event(ms, stream, json_line(message=text)) for ms, stream, text in [
    (at(12, 1), "prod/api/i-0a1/0", "request served"),
    (at(12, 2), "prod/api/i-0a1/0", "request served"),
    (at(12, 3), "prod/api/i-0a2/1", "request served"),
    (at(12, 4), "prod/worker/i-0b1/0", "job done"),
    (at(12, 5), "prod/worker/i-0b1/0", "job done"),
    (at(12, 6), "staging/api/i-0c1/0", "request served"),
]))
PROXY_EVENTS = _json_group("/aws/lambda/api-handler", "2026/11/27/[$LATEST]feedface", [  # the handler logs its event
    (at(12, 1), {"resource": "/memos", "httpMethod": "GET",
                 "requestContext": {"requestId": "q1", "identity": {"sourceIp": "198.51.100.1"}}}),
    (at(12, 2), {"resource": "/memos", "httpMethod": "POST",
                 "requestContext": {"requestId": "q2", "identity": {"sourceIp": "198.51.100.2"}}}),
    (at(12, 3), {"resource": "/memos", "httpMethod": "GET",
                 "requestContext": {"requestId": "q3", "identity": {"sourceIp": "198.51.100.1"}}}),
])
UNNEST_EVENTS = _json_group("/app/unnest-events", "app", [
    (at(12, 1), {"events": [{"name": "exception"}, {"name": "user action"}]}),
])
UNNEST_ACCOUNTS = _json_group("/app/unnest-accounts", "app", [
    (at(12, 1), {"accounts": [{"id": "a1", "type": "internal"}, {"id": "a2", "type": "external"},
                              {"id": "a3", "type": "internal"}]}),
])
UNNEST_SPANS = _json_group("/app/unnest-spans", "collector", [  # trimmedData: a JSON list written as a string
    (at(12, 1), {"trimmedData": '[{"accountId":"111","droppedSpans":5},{"accountId":"222","droppedSpans":2}]'}),
    (at(12, 2), {"trimmedData": '[{"accountId":"111","droppedSpans":4},{"accountId":"333","droppedSpans":1}]'}),
])
OCSF = _json_group("/app/ocsf", "ocsf", [  # an OCSF pipeline writes api.request.data as a JSON string
    (at(12, 1), {"api": {"operation": "ListMemos", "request": {"data": '{"startTime":1234,"endTime":5678}'}}}),
    (at(12, 2), {"api": {"operation": "ListMemos", "request": {"data": '{"startTime":4321,"endTime":8765}'}}}),
])

# --- Several log groups: SOURCE, join, subqueries, appendcols ---------------------------------

GROUPS = [
    _group("namePrefix1-orders", "orders", [(at(12, 1), "order 1 created"), (at(12, 2), "order 2 created")]),
    _group("namePrefix2-payments", "payments", [(at(12, 3), "payment 1 captured")]),
    _group("other-audit", "audit", [(at(12, 4), "audit trail rotated")]),
    _group("/aws/lambda/checkout", "2026/11/27/[$LATEST]c0ffee", [(at(12, 5), "checkout done")]),
    _group("Query-service", "query", [(at(12, 6), "query service ready")]),
]
JOIN_API = [
    _json_group("/aws/apigateway/memos-api", "access", [
        (at(12, 1), {"requestId": "r-a", "status": 502, "latency": 3000}),
        (at(12, 2), {"requestId": "r-b", "status": 200, "latency": 50}),
        (at(12, 3), {"requestId": "r-c", "status": 504, "latency": 29000}),
        (at(12, 4), {"requestId": "r-d", "status": 500, "latency": 120}),
    ]),
    _json_group("/aws/lambda/my-function", "2026/11/27/[$LATEST]abc", [
        (at(12, 1, 1), {"requestId": "r-a", "duration": 2950, "memoryUsed": 120}),
        (at(12, 2, 1), {"requestId": "r-b", "duration": 40, "memoryUsed": 80}),
        (at(12, 3, 1), {"requestId": "r-c", "duration": 28990, "memoryUsed": 128}),
    ]),
]
JOIN_ORDERS = [
    _json_group("/aws/lambda/order-service", "2026/11/27/[$LATEST]ord", [
        (at(12, 1), {"eventType": "ORDER_CREATED", "transactionId": "t1", "orderId": "o1", "customerId": "c1"}),
        (at(12, 2), {"eventType": "ORDER_CREATED", "transactionId": "t2", "orderId": "o2", "customerId": "c2"}),
        (at(12, 3), {"eventType": "ORDER_CREATED", "transactionId": "t3", "orderId": "o3", "customerId": "c3"}),
        (at(12, 4), {"eventType": "ORDER_CREATED", "transactionId": "t4", "orderId": "o4", "customerId": "c4"}),
    ]),
    _json_group("/aws/lambda/payment-service", "2026/11/27/[$LATEST]pay", [
        (at(12, 1, 5), {"eventType": "PAYMENT_PROCESSED", "transactionId": "t1", "paymentStatus": "SUCCESS",
                        "amount": 10}),
        (at(12, 2, 5), {"eventType": "PAYMENT_PROCESSED", "transactionId": "t2", "paymentStatus": "FAILED",
                        "amount": 20}),
        (at(12, 3, 5), {"eventType": "PAYMENT_INITIATED", "transactionId": "t3", "paymentStatus": "PENDING",
                        "amount": 30}),
    ]),
]
SUBQUERY_DB = [
    _json_group("/aws/lambda/api-service", "2026/11/27/[$LATEST]api", [
        (at(12, 1), {"requestId": "q1", "endpoint": "/memos", "userId": "u1", "responseTime": 5000}),
        (at(12, 2), {"requestId": "q2", "endpoint": "/memos/7", "userId": "u2", "responseTime": 80}),
        (at(12, 3), {"requestId": "q3", "endpoint": "/search", "userId": "u1", "responseTime": 5100}),
        (at(12, 4), {"requestId": "q4", "endpoint": "/memos", "userId": "u3", "responseTime": 40}),
    ]),
    _json_group("/aws/lambda/database-service", "2026/11/27/[$LATEST]db", [
        (at(12, 1, 4), {"requestId": "q1", "errorType": "DatabaseConnectionTimeout"}),
        (at(12, 2, 4), {"requestId": "q2", "errorType": "DeadlockDetected"}),
        (at(12, 3, 4), {"requestId": "q3", "errorType": "DatabaseConnectionTimeout"}),
    ]),
]
_CARD, _TIMEOUT, _FRAUD = (("c1", 25, "card declined"), ("c2", 40, "timeout"), ("c3", 99, "fraud check"))
PAYMENTS = _json_group("/aws/lambda/payment-processor", "2026/11/27/[$LATEST]pp", [
    (at(12, minute), {"requestId": request, "status": "FAILED", "customerId": customer, "amount": amount,
                      "failureReason": reason})
    for minute, request, (customer, amount, reason) in [
        (1, "p1", _CARD), (2, "p2", _TIMEOUT), (3, "p1", _CARD), (4, "p3", _FRAUD), (5, "p1", _CARD),
        (6, "p3", _FRAUD), (7, "p2", _TIMEOUT), (8, "p1", _CARD), (9, "p3", _FRAUD), (10, "p3", _FRAUD)]
] + [(at(12, 11), {"requestId": "p1", "status": "SUCCEEDED", "customerId": "c1", "amount": 25})])
APPENDCOLS = [
    _json_group("main", "svc", [(at(12, 1), {"svc": "api"}), (at(12, 2), {"svc": "api"}), (at(12, 3), {"svc": "api"})]),
    _json_group("lg", "svc", [(at(12, 4), {"svc": "api", "latency": 10}), (at(12, 5), {"svc": "api", "latency": 30})]),
]

# --- The newer commands' pages --------------------------------------------------------------

TOTALS_AB = _json_group("/app/totals-ab", "t", [
    (at(12, 1), {"a": 1, "b": 2}), (at(12, 2), {"a": 10, "b": 20}), (at(12, 3), {"a": 4, "b": 6})])
TOTALS_PRICE = _json_group("/app/totals-price", "t", [
    (at(12, 1), {"price": 10, "tax": 2, "qty": 3}), (at(12, 2), {"price": 20, "tax": 4, "qty": 1})])
TOTALS_VAL = _json_group("/app/totals-val", "t", [(at(12, 1), {"val": 7}), (at(12, 2), {"val": 8})])
TOTALS_X = _json_group("/app/totals-x", "t", [(at(12, 1), {"x": 3}), (at(12, 2), {"x": 4}), (at(12, 3), {"x": 5})])
BYTES_SERIES = _json_group("/app/transfer", "t", [
    (at(12, 0, 1), {"bytes": 100}), (at(12, 0, 2), {"bytes": 200}), (at(12, 0, 3), {"bytes": 300}),
    (at(12, 0, 4), {"bytes": 400}), (at(12, 0, 5), {"bytes": 500})])
GAPPY = _json_group("/app/host-metrics", "agent", [
    (at(12, 0, 1), {"host": "web-1", "cpu_user": 10, "cpu_system": 5}),
    (at(12, 0, 2), {"cpu_user": 12}),
    (at(12, 0, 3), {"host": "web-2", "cpu_system": 7}),
    (at(12, 0, 4), {"note": "agent restarted"}),
])
LATENCY_BINS = _json_group("/app/latency-bins", "api", [
    (at(12, 0, 10), {"latency": 100}), (at(12, 0, 40), {"latency": 200}), (at(12, 3, 20), {"latency": 50})])
USAGE = _json_group("/app/usage", "agent", [
    (at(12, 1), {"cpu": 10, "memory": 50}), (at(12, 2), {"cpu": 12, "memory": 52}),
    (at(12, 3), {"cpu": 11, "memory": 51}), (at(12, 4), {"cpu": 13, "memory": 2}),
    (at(12, 5), {"cpu": 95, "memory": 53}), (at(12, 6), {"cpu": 12, "memory": 52})])
USER_DEVICES = _json_group("/app/clicks", "web", [
    (at(12, 0), {"userId": "u1", "deviceId": "d1"}),  # 0 session A
    (at(12, 10), {"userId": "u1", "deviceId": "d2"}),  # 1 session B
    (at(12, 20), {"userId": "u2", "deviceId": "d1"}),  # 2 session C
    (at(12, 30), {"userId": "u1", "deviceId": "d1"}),  # 3 session A: 30 min after 0
    (at(12, 50), {"userId": "u2", "deviceId": "d1"}),  # 4 session C
    (at(14, 0), {"userId": "u1", "deviceId": "d1"}),  # 5 session D: 90 min after 3
])
REQUESTS = _json_group("/app/requests", "edge", [
    (at(12, 1), {"method": "GET", "status": 200}), (at(12, 2), {"method": "GET", "status": 200}),
    (at(12, 3), {"method": "POST", "status": 201}), (at(12, 4), {"method": "GET", "status": 404}),
    (at(12, 5), {"method": "GET", "status": 200}), (at(12, 6), {"method": "POST", "status": 201}),
    (at(12, 7), {"method": "GET", "status": 200})])
BASKETS = _json_group("/app/baskets", "shop", [
    (at(12, 1), {"items": ["apple", "banana", "cherry"], "host": "web-01"}),
    (at(12, 2), {"items": ["apple"], "host": "web-02"}),
    (at(12, 3), {"items": ["apple", "banana"], "host": "web-01"}),
])

# Every dataset a query can name, with the log groups it holds.
DATASETS: dict[str, list[LogGroup]] = {
    "app": [APP], "lambda": [LAMBDA], "vpc": [VPC], "vpc_flows": [VPC_FLOWS], "nat": [NAT], "route53": [ROUTE53],
    "cloudtrail": [CLOUDTRAIL], "apigw": [APIGW], "apache": [APACHE_ACCESS, APACHE_ERROR],
    "eventbridge": [EVENTBRIDGE], "latency": [LATENCY], "text": [TEXT], "bracketed": [BRACKETED], "urls": [URLS],
    "logfmt": [LOGFMT], "csv_app": [CSV_APP], "csv_access": [CSV_ACCESS], "audit": [AUDIT],
    "filter_page": [FILTER_PAGE], "ipaddr": [IPADDR], "durations": [DURATIONS], "myfields": [MYFIELDS],
    "ingest": [INGEST], "sessions": [SESSIONS], "xyz": [XYZ], "streams": [STREAMS], "proxy_events": [PROXY_EVENTS],
    "unnest_events": [UNNEST_EVENTS], "unnest_accounts": [UNNEST_ACCOUNTS], "unnest_spans": [UNNEST_SPANS],
    "ocsf": [OCSF], "groups": GROUPS, "join_api": JOIN_API, "join_orders": JOIN_ORDERS, "subquery_db": SUBQUERY_DB,
    "payments": [PAYMENTS], "appendcols": APPENDCOLS, "totals_ab": [TOTALS_AB], "totals_price": [TOTALS_PRICE],
    "totals_val": [TOTALS_VAL], "totals_x": [TOTALS_X], "bytes_series": [BYTES_SERIES], "gappy": [GAPPY],
    "latency_bins": [LATENCY_BINS], "usage": [USAGE], "user_devices": [USER_DEVICES], "requests": [REQUESTS],
    "baskets": [BASKETS],
}
