"""Imported logs get the same secret redaction as our own log lines."""

from __future__ import annotations

import orjson

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.store import TelemetryStore


class TestImportRedaction:
    def test_secrets_in_imported_lines_are_masked_before_they_are_stored(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        lines = [
            {"timestamp": "2026-11-27T12:00:00.000Z", "level": "INFO", "message": "calling",
             "api_key": "sk-live-123456"},
            {"timestamp": 1795780800000, "logStreamName": "s",
             "message": "Authorization: Bearer abcdef0123456789abcdef"},
        ]
        report = import_logs(store, b"".join(orjson.dumps(line) + b"\n" for line in lines))
        assert report.imported == 2
        stored = orjson.dumps(store.logs()).decode()
        assert "sk-live-123456" not in stored
        assert "abcdef0123456789abcdef" not in stored
        store.close()


def _events_file(events: list[dict]) -> bytes:
    return orjson.dumps({"events": events}, option=orjson.OPT_INDENT_2)


class TestImportIsIdempotent:
    """Importing the same file twice stores each event once (issue 9 §4)."""

    def test_cloudwatch_events_are_known_by_their_event_id(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        events = [{"timestamp": 1795780800000 + i, "message": f'{{"level": "INFO", "n": {i}}}',
                   "logStreamName": "s", "eventId": f"3700000000000000000000000000000000000000000000000{i}"}
                  for i in range(3)]
        first = import_logs(store, _events_file(events), log_group="/aws/lambda/x")
        again = import_logs(store, _events_file(events), log_group="/aws/lambda/x")
        # A later export overlapping the first: only the new event is stored.
        later = events[1:] + [{**events[0], "eventId": "38", "message": "new"}]
        third = import_logs(store, b"\n".join(orjson.dumps(e) for e in later))
        assert (first.imported, first.already_imported) == (3, 0)
        assert (again.imported, again.already_imported) == (0, 3)
        assert (third.imported, third.already_imported) == (1, 2)
        assert len(store.logs(start_ms=0)) == 4
        store.close()

    def test_plain_lines_are_known_by_content_and_repeated_lines_count_apart(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        line = {"timestamp": "2026-11-27T12:00:00.000Z", "level": "INFO", "message": "heartbeat"}
        data = b"".join(orjson.dumps(x) + b"\n" for x in [line, line, {**line, "message": "other"}])
        assert import_logs(store, data).imported == 3  # two identical lines are two events
        again = import_logs(store, data)
        assert (again.imported, again.already_imported) == (0, 3)
        grown = data + orjson.dumps(line) + b"\n"  # the file grew: one more heartbeat
        assert import_logs(store, grown).imported == 1
        assert len(store.logs(start_ms=0)) == 4
        store.close()

    def test_it_survives_the_store_being_reopened(self, tmp_path) -> None:
        data = orjson.dumps({"timestamp": 1795780800000, "level": "INFO", "message": "once"}) + b"\n"
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, data)
        store.close()
        store = TelemetryStore(tmp_path / "telemetry")
        assert import_logs(store, data).already_imported == 1
        assert len(store.logs(start_ms=0)) == 1
        store.close()

    def test_a_large_reimport_is_fast(self, tmp_path) -> None:
        import time

        store = TelemetryStore(tmp_path / "telemetry")
        data = b"".join(orjson.dumps({"timestamp": 1795780800000 + i, "level": "INFO", "message": f"m{i}"}) + b"\n"
                        for i in range(20_000))
        import_logs(store, data)
        started = time.monotonic()
        report = import_logs(store, data)
        assert report.already_imported == 20_000 and report.imported == 0
        assert time.monotonic() - started < 10  # one indexed lookup per batch, no scan of the logs
        store.close()


class TestImportCommandsAreIdempotent:
    """`logs import` and `metrics import` run twice over one file store each event once, and say so."""

    @staticmethod
    def _cli(tmp_path):
        from typer.testing import CliRunner

        from whispersync.cli._common import app

        runner = CliRunner()
        return lambda *args: runner.invoke(app, ["--home", str(tmp_path / "home"), *args])

    def test_logs_import_twice(self, tmp_path) -> None:
        cli = self._cli(tmp_path)
        path = tmp_path / "events.json"
        path.write_bytes(_events_file([{"timestamp": 1795780800000 + i, "message": f"line {i}", "eventId": f"e{i}"}
                                       for i in range(3)]))
        first = cli("logs", "import", str(path), "--json")
        again = cli("logs", "import", str(path))
        assert first.exit_code == 0 and again.exit_code == 0, again.output
        assert orjson.loads(first.stdout) == {"imported": 3, "already_imported": 0, "without_timestamp": [], "errors": []}
        assert "imported 0 log events, skipped 3 already imported" in " ".join(again.stdout.split())
        count = cli("logs", "query", "stats count(*) as n", "--start", "2026-11-27T11:00:00Z",
                    "--end", "2026-11-27T13:00:00Z", "--json")
        assert orjson.loads(count.stdout)["rows"] == [[3]]

    def test_metrics_import_twice_with_lambda_lines_and_exported_events(self, tmp_path) -> None:
        cli = self._cli(tmp_path)
        doc = {"_aws": {"Timestamp": 1767225630000, "CloudWatchMetrics": [
            {"Namespace": "WhisperSync/T", "Dimensions": [["Fn"]],
             "Metrics": [{"Name": "Duration", "Unit": "Milliseconds"}]}]}, "Fn": "a", "Duration": 10}
        lambda_line = b"2026-01-01T00:00:30.000Z\t8f5b0c4e-1d2a-4f3b-9c7d-000000000001\t" + orjson.dumps(doc)
        event = {"timestamp": 1767225690000, "eventId": "e1",
                 "message": orjson.dumps({**doc, "_aws": {**doc["_aws"], "Timestamp": 1767225690000}}).decode()}
        path = tmp_path / "lambda-emf.log"
        path.write_bytes(b"\n".join([orjson.dumps(doc), lambda_line, orjson.dumps(event)]) + b"\n")
        first = cli("metrics", "import", str(path), "--json")
        again = cli("metrics", "import", str(path), "--json")
        assert first.exit_code == 0 and again.exit_code == 0, again.output
        assert orjson.loads(first.stdout) == {"imported": 3, "already_imported": 0, "skipped": []}
        assert orjson.loads(again.stdout) == {"imported": 0, "already_imported": 3, "skipped": []}
        got = cli("metrics", "get", "WhisperSync/T", "Duration", "--dim", "Fn=a", "--stat", "SampleCount",
                  "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T00:05:00Z", "--json")
        assert sum(orjson.loads(got.stdout)["values"]) == 3


def _flow_log_events(*lines: str, start_ms: int = 1795780800000) -> bytes:
    """Flow log records as `aws logs filter-log-events` returns them from a flow log's group."""
    return orjson.dumps({"events": [
        {"timestamp": start_ms + i * 1000, "message": line, "logStreamName": "eni-0123456789abcdef0-all",
         "eventId": f"flow{i}"} for i, line in enumerate(lines)]})


class TestVpcFlowLogFields:
    """Default-format VPC flow log records get the fields CloudWatch discovers
    (CWL_AnalyzeLogData-discoverable-fields.html), whatever their log group is called."""

    ACCEPT = ("2 123456789010 eni-0123456789abcdef0 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
              "1418530010 1418530070 ACCEPT OK")
    NODATA = "2 123456789010 eni-0123456789abcdef0 - - - - - - - 1431280876 1431280934 - NODATA"

    def test_each_value_becomes_its_discovered_field(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, _flow_log_events(self.ACCEPT), log_group="my-network-logs")
        from whispersync.monitoring.logs.insights import run_query

        names = ["version", "accountId", "interfaceId", "srcAddr", "dstAddr", "srcPort", "dstPort", "protocol",
                 "packets", "bytes", "startTime", "endTime", "action", "logStatus"]
        result = run_query(store, "fields " + ", ".join(names), start_ms=1795780800000, end_ms=1795780900000)
        assert result["rows"] == [[2, "123456789010", "eni-0123456789abcdef0", "172.31.16.139", "172.31.16.21",
                                   20641, 22, 6, 20, 4249, 1418530010, 1418530070, "ACCEPT", "OK"]]
        # Numbers compare and add up as numbers; the raw line stays @message.
        assert run_query(store, "filter dstPort = 22 and bytes > 4000 | fields packets + 1, @message",
                         start_ms=1795780800000, end_ms=1795780900000)["rows"] == [[21, self.ACCEPT]]
        store.close()

    def test_a_dash_is_a_value_the_record_does_not_have(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, _flow_log_events(self.ACCEPT, self.NODATA))
        from whispersync.monitoring.logs.insights import run_query

        rows = run_query(store, "filter logStatus = 'NODATA' | fields ispresent(srcAddr), ispresent(action), startTime",
                         start_ms=1795780800000, end_ms=1795780900000)["rows"]
        assert rows == [[0, 0, 1431280876]]
        store.close()

    def test_lines_of_another_shape_get_no_flow_log_fields(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, _flow_log_events(
            self.ACCEPT.rsplit(" ", 1)[0],  # no log-status: not a default-format record
            "3 123456789010 eni-0123456789abcdef0 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",  # another version
            "2 123456789010 eni-0123456789abcdef0 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ALLOW OK",  # no such action
        ))
        from whispersync.monitoring.logs.insights import run_query

        rows = run_query(store, "stats count(*), count(srcAddr), count(logStatus)",
                         start_ms=1795780800000, end_ms=1795780900000)["rows"]
        assert rows == [[3, 0, 0]]
        store.close()


class TestRoute53QueryLogFields:
    """Route 53 DNS query log lines get the fields CloudWatch discovers
    (CWL_AnalyzeLogData-discoverable-fields.html); the lines are the Route 53 guide's example."""

    LINES = (
        "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -",
        "1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com AAAA NOERROR TCP IAD12 192.168.3.1 192.168.222.0/24",
        "1.0 2017-12-13T08:16:03.983Z Z123412341234 example.com ANY NOERROR UDP FRA6 2001:db8::1234 2001:db8:abcd::/48",
        "1.0 2017-12-13T08:15:50.342Z Z123412341234 bad.example.com A NXDOMAIN UDP IAD12 192.168.3.1 192.168.111.0/24",
    )

    def test_each_value_becomes_its_discovered_field(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, _flow_log_events(self.LINES[0]), log_group="/aws/route53/example.com")
        from whispersync.monitoring.logs.insights import run_query

        names = ["version", "queryTimestamp", "hostZoneId", "queryName", "queryType", "responseCode", "protocol",
                 "edgeLocation", "resolverIp"]
        result = run_query(store, "fields " + ", ".join(names), start_ms=1795780800000, end_ms=1795780900000)
        assert result["rows"] == [["1.0", "2017-12-13T08:16:02.130Z", "Z123412341234", "example.com", "A", "NOERROR",
                                   "UDP", "FRA6", "192.168.1.1"]]
        store.close()

    def test_the_documented_sample_queries_count_them(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, _flow_log_events(*self.LINES))
        from whispersync.monitoring.logs.insights import run_query

        rows = run_query(store, "stats count(*) as n by resolverIp | sort n desc, resolverIp",
                         start_ms=1795780800000, end_ms=1795780900000)["rows"]
        assert rows == [["192.168.3.1", 2], ["192.168.1.1", 1], ["2001:db8::1234", 1]]
        rows = run_query(store, 'filter responseCode = "NXDOMAIN" | stats count(*) by queryName, queryType',
                         start_ms=1795780800000, end_ms=1795780900000)["rows"]
        assert rows == [["bad.example.com", "A", 1]]
        store.close()

    def test_lines_of_another_shape_get_no_route53_fields(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        import_logs(store, _flow_log_events(
            self.LINES[0].rsplit(" ", 1)[0],  # no EDNS client subnet column
            self.LINES[0].replace("UDP", "SCTP"),  # no such protocol
            "1.0 yesterday Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -",  # no query time
        ))
        from whispersync.monitoring.logs.insights import run_query

        rows = run_query(store, "stats count(*), count(queryName), count(resolverIp)",
                         start_ms=1795780800000, end_ms=1795780900000)["rows"]
        assert rows == [[3, 0, 0]]
        store.close()
