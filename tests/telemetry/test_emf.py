from __future__ import annotations

import copy
import io

import orjson
import pytest

from whispersync.telemetry import StdoutSink, Telemetry, Unit, emf_document, parse_emf

# The valid example from AWS's "Specification: Embedded metric format".
SPEC_EXAMPLE = {
    "_aws": {
        "Timestamp": 1574109732004,
        "CloudWatchMetrics": [
            {
                "Namespace": "lambda-function-metrics",
                "Dimensions": [["functionVersion"]],
                "Metrics": [{"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}],
            }
        ],
    },
    "functionVersion": "$LATEST",
    "time": 100,
    "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
}


def record(name="TranscriptsProcessed", value=1.0, unit="Count", dimensions=None, timestamp=1574109732004,
           namespace="WhisperSync/Business"):
    return {"timestamp": timestamp, "namespace": namespace, "name": name, "unit": unit, "value": value,
            "dimensions": {"AgentType": "work", "Status": "Success"} if dimensions is None else dimensions}


class TestParseValid:
    def test_the_specification_example_parses(self):
        assert parse_emf(SPEC_EXAMPLE) == [
            {
                "timestamp": 1574109732004,
                "namespace": "lambda-function-metrics",
                "name": "time",
                "unit": "Milliseconds",
                "value": 100.0,
                "dimensions": {"functionVersion": "$LATEST"},
            }
        ]

    def test_an_array_target_gives_one_record_per_value(self):
        doc = copy.deepcopy(SPEC_EXAMPLE)
        doc["time"] = [1, 2.5, 3]
        assert [r["value"] for r in parse_emf(doc)] == [1.0, 2.5, 3.0]

    def test_each_dimension_set_gives_its_own_metric(self):
        doc = copy.deepcopy(SPEC_EXAMPLE)
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [["functionVersion"], []]
        assert [r["dimensions"] for r in parse_emf(doc)] == [{"functionVersion": "$LATEST"}, {}]

    def test_the_unit_defaults_to_none(self):
        doc = copy.deepcopy(SPEC_EXAMPLE)
        del doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"]
        assert parse_emf(doc)[0]["unit"] == "None"


def broken(mutate):
    doc = copy.deepcopy(SPEC_EXAMPLE)
    mutate(doc)
    return doc


def directive(doc):
    return doc["_aws"]["CloudWatchMetrics"][0]


class TestParseInvalid:
    """Each rule of the specification, broken once, is rejected with a reason naming it."""

    @pytest.mark.parametrize(
        "doc,reason",
        [
            ([SPEC_EXAMPLE], "root node must be a JSON object"),
            (broken(lambda d: d.pop("_aws")), "missing the _aws"),
            (broken(lambda d: d.update(_aws=[])), "_aws must be an object"),
            (broken(lambda d: d["_aws"].pop("Timestamp")), "Timestamp is required"),
            (broken(lambda d: d["_aws"].update(Timestamp="2019-11-18")), "Timestamp must be an integer"),
            (broken(lambda d: d["_aws"].pop("CloudWatchMetrics")), "CloudWatchMetrics is required"),
            (broken(lambda d: d["_aws"].update(CloudWatchMetrics={})), "must be an array"),
            (broken(lambda d: directive(d).pop("Namespace")), "Namespace is required"),
            (broken(lambda d: directive(d).update(Namespace="")), "Namespace must be 1-1024"),
            (broken(lambda d: directive(d).pop("Dimensions")), "Dimensions is required"),
            (broken(lambda d: directive(d).update(Dimensions=[])), "at least one DimensionSet"),
            (broken(lambda d: directive(d).update(Dimensions=["functionVersion"])), "array of dimension keys"),
            (broken(lambda d: directive(d).update(Dimensions=[[f"D{i}" for i in range(31)]])), "at most 30"),
            (broken(lambda d: d.pop("functionVersion")), "'functionVersion' has no target member"),
            (broken(lambda d: d.update(functionVersion=7)), "must be a string"),
            (broken(lambda d: d.update(functionVersion="v" * 1025)), "exceeds 1024"),
            (broken(lambda d: directive(d).pop("Metrics")), "Metrics is required"),
            (broken(lambda d: directive(d).update(Metrics=[{"Name": f"m{i}"} for i in range(101)])), "at most 100"),
            (broken(lambda d: directive(d)["Metrics"][0].pop("Name")), "Name is required"),
            (broken(lambda d: directive(d)["Metrics"][0].update(Unit="ms")), "not a CloudWatch standard unit"),
            (broken(lambda d: directive(d)["Metrics"][0].update(StorageResolution=30)), "StorageResolution"),
            (broken(lambda d: d.pop("time")), "'time' has no target member"),
            (broken(lambda d: d.update(time="100")), "number or an array of numbers"),
            (broken(lambda d: d.update(time=True)), "number or an array of numbers"),
            (broken(lambda d: d.update(time=[1, "2"])), "array of numbers"),
            (broken(lambda d: d.update(time=list(range(101)))), "at most 100"),
            (broken(lambda d: d.update(time=[])), "empty array"),
            (broken(lambda d: d.update(time={"nested": 1})), "number or an array of numbers"),
        ],
    )
    def test_it_names_the_broken_rule(self, doc, reason):
        with pytest.raises(ValueError, match="invalid EMF document") as info:
            parse_emf(doc)
        assert reason in str(info.value)

    def test_targets_are_not_nested_paths(self):
        """A reference "A.a" matches the root member "A.a", never {"A": {"a": ...}}."""
        doc = broken(lambda d: directive(d)["Metrics"][0].update(Name="A.a"))
        doc["A"] = {"a": 1}
        with pytest.raises(ValueError, match="no target member"):
            parse_emf(doc)
        doc["A.a"] = 1
        assert parse_emf(doc)[0]["name"] == "A.a"


class TestRender:
    def test_round_trip(self):
        """Records rendered by emf_document come back unchanged from parse_emf."""
        records = [record(), record(name="ProcessingDuration", unit="Milliseconds", value=812.5)]
        assert parse_emf(emf_document(records)) == records

    def test_repeated_names_become_a_value_array(self):
        records = [record(value=v) for v in (1.0, 2.0, 3.0)]
        doc = emf_document(records)
        assert doc["TranscriptsProcessed"] == [1.0, 2.0, 3.0]
        assert parse_emf(doc) == records

    def test_it_follows_the_specification_layout(self):
        doc = emf_document([record()])
        assert doc == {
            "_aws": {
                "Timestamp": 1574109732004,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "WhisperSync/Business",
                        "Dimensions": [["AgentType", "Status"]],
                        "Metrics": [{"Name": "TranscriptsProcessed", "Unit": "Count"}],
                    }
                ],
            },
            "AgentType": "work",
            "Status": "Success",
            "TranscriptsProcessed": 1.0,
        }

    def test_no_dimensions_is_one_empty_dimension_set(self):
        assert emf_document([record(dimensions={})])["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]

    @pytest.mark.parametrize(
        "records",
        [
            [],
            [record(), record(namespace="Other")],
            [record(), record(timestamp=1)],
            [record(), record(dimensions={"AgentType": "memory", "Status": "Success"})],
            [record(), record(unit="Milliseconds")],
            [record(value=float(i)) for i in range(101)],
            [record(name="AgentType")],
        ],
    )
    def test_records_that_cannot_share_a_document_are_rejected(self, records):
        with pytest.raises(ValueError):
            emf_document(records)


class TestStdoutSink:
    def test_metrics_are_written_as_emf_lines(self):
        out = io.StringIO()
        telemetry = Telemetry(StdoutSink(out), clock_ns=lambda: 1_574_109_732_004_000_000)
        telemetry.metrics.put("WhisperSync/Business", "TranscriptsProcessed", 1, unit=Unit.COUNT,
                              dimensions={"AgentType": "work", "Status": "Success"})
        (line,) = out.getvalue().splitlines()
        assert parse_emf(orjson.loads(line)) == [record()]


class TestLambdaLogLines:
    """Issue 9 §5: EMF documents behind a Lambda runtime's "timestamp<TAB>request id<TAB>" prefix."""

    DOC = {"_aws": {"Timestamp": 1574109732004, "CloudWatchMetrics": [
        {"Namespace": "lambda-function-metrics", "Dimensions": [["functionVersion"]],
         "Metrics": [{"Name": "time", "Unit": "Milliseconds"}]}]},
        "functionVersion": "$LATEST", "time": 100}

    @pytest.mark.parametrize("prefix", [
        "", "2026-12-02T03:08:37.969Z\t5b1f6a0e-8c9d-4c44-9f0e-2c7d1f0b3a11\t",
        "2026-12-02T03:08:37.969Z\t5b1f6a0e-8c9d-4c44-9f0e-2c7d1f0b3a11\tINFO\t",
        # The Python runtime's logging handler (awslambdaric's bootstrap) writes
        # "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s".
        "[INFO]\t2026-12-02T03:08:37.969Z\t5b1f6a0e-8c9d-4c44-9f0e-2c7d1f0b3a11\t",
        "[WARNING]\t2026-12-02T03:08:37.969Z\t5b1f6a0e-8c9d-4c44-9f0e-2c7d1f0b3a11\t",
    ])
    def test_the_document_after_the_prefix_is_extracted(self, prefix):
        line = prefix + orjson.dumps(self.DOC).decode() + "\n"
        (rec,) = parse_emf(line)
        assert (rec["name"], rec["value"], rec["unit"]) == ("time", 100, "Milliseconds")
        assert parse_emf(line.encode()) == [rec]

    @pytest.mark.parametrize("line", [
        "START RequestId: 5b1f Version: $LATEST", "2026-12-02T03:08:37.969Z\tabc\t{oops",
        '[INFO]\t{"_aws": {}}',  # a bracketed level alone is not the Python runtime's prefix
        '[INFO]\tnot-a-request-id!\t{"_aws": {}}', 'some text {"_aws": {}}',
    ])
    def test_other_lines_are_refused_with_a_reason(self, line):
        with pytest.raises(ValueError, match="invalid EMF document"):
            parse_emf(line)


class TestStorageResolution:
    """MetricDefinition.StorageResolution (EMF specification): 1 marks a high-resolution
    metric, 60 (the default) a standard one; it survives parse and render."""

    def test_one_marks_the_records_high_resolution(self):
        doc = copy.deepcopy(SPEC_EXAMPLE)
        doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["StorageResolution"] = 1
        [rec] = parse_emf(doc)
        assert rec["storage_resolution"] == 1
        assert "storage_resolution" not in parse_emf(SPEC_EXAMPLE)[0]  # 60: standard, not marked

    def test_round_trip(self):
        records = [{**record(), "storage_resolution": 1}, record(name="Other")]
        doc = emf_document(records)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
            {"Name": "TranscriptsProcessed", "Unit": "Count", "StorageResolution": 1},
            {"Name": "Other", "Unit": "Count"},
        ]
        assert parse_emf(doc) == records

