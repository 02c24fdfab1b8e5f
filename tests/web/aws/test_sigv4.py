"""SigV4 on the CloudWatch API routes: required with an API token, any credentials without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

TOKEN = "0123456789abcdef0123456789abcdef"
PROTOCOLS = ["smithy-rpc-v2-cbor", "json", "query"]
LIST_METRICS = {"X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics",
                "Content-Type": "application/x-amz-json-1.0"}


@pytest.fixture
def signed_server(make_api):
    runtime, server = make_api(api_token=TOKEN)
    return server


def signed_headers(url: str, body: bytes, headers: dict, *, secret: str = TOKEN, key: str = "whispersync",
                   when: datetime | None = None) -> dict:
    """``headers`` plus X-Amz-Date and Authorization, signed as at ``when`` (SigV4, service monitoring)."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    request = AWSRequest(method="POST", url=url, data=body, headers={**headers, "X-Amz-Date": stamp})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key, secret), "monitoring", "us-east-1")
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    names = signer.signed_headers(signer.headers_to_sign(request))
    return {**headers, "X-Amz-Date": stamp,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{stamp[:8]}/us-east-1/monitoring/aws4_request, "
                             f"SignedHeaders={names}, Signature={signature}"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_request_signed_with_the_token_is_served(signed_server, make_cloudwatch, protocol) -> None:
    client = make_cloudwatch(signed_server.url, protocol, key="whispersync", secret=TOKEN)
    client.put_metric_data(Namespace="Signed", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert [m["MetricName"] for m in client.list_metrics(Namespace="Signed")["Metrics"]] == ["m"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("key", "secret", "code", "status"), [
    ("whispersync", "not-the-token-at-all", "SignatureDoesNotMatch", 403),
    ("AKIAIOSFODNN7EXAMPLE", TOKEN, "InvalidClientTokenId", 403),
])
def test_wrong_credentials_are_refused_in_aws_error_shape(signed_server, make_cloudwatch, protocol, key, secret,
                                                          code, status) -> None:
    client = make_cloudwatch(signed_server.url, protocol, key=key, secret=secret)
    with pytest.raises(ClientError) as caught:
        client.list_metrics()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_an_unsigned_request_is_refused(signed_server, make_cloudwatch) -> None:
    client = make_cloudwatch(signed_server.url, "json", signature_version=UNSIGNED)
    with pytest.raises(ClientError) as caught:
        client.list_metrics()
    assert caught.value.response["Error"]["Code"] == "MissingAuthenticationToken"


def post(server, body: bytes, headers: dict) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        return http.post("/", content=body, headers=headers)


def test_the_clock_skew_window_is_five_minutes(signed_server) -> None:
    url = signed_server.url + "/"
    recent = post(signed_server, b"{}", signed_headers(url, b"{}", LIST_METRICS,
                                                       when=datetime.now(UTC) - timedelta(minutes=4)))
    assert recent.status_code == 200, recent.text
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        stale = post(signed_server, b"{}", signed_headers(url, b"{}", LIST_METRICS, when=datetime.now(UTC) + skew))
        assert stale.status_code == 400
        assert orjson.loads(stale.content)["__type"].endswith("RequestExpired")
        assert stale.headers["x-amzn-query-error"] == "RequestExpired;Sender"


def test_a_body_changed_after_signing_is_refused(signed_server) -> None:
    url = signed_server.url + "/"
    headers = signed_headers(url, b'{"Namespace": "A"}', LIST_METRICS)
    tampered = post(signed_server, b'{"Namespace": "B"}', headers)
    assert tampered.status_code == 403
    assert orjson.loads(tampered.content)["__type"].endswith("SignatureDoesNotMatch")
    assert post(signed_server, b'{"Namespace": "A"}', headers).status_code == 200


def test_an_authorization_without_its_signature_is_incomplete(signed_server) -> None:
    url = signed_server.url + "/"
    headers = signed_headers(url, b"{}", LIST_METRICS)
    headers["Authorization"] = headers["Authorization"].rsplit(", Signature=", 1)[0]
    answer = post(signed_server, b"{}", headers)
    assert answer.status_code == 400
    assert orjson.loads(answer.content)["__type"].endswith("IncompleteSignature")


def test_a_query_request_with_the_wrong_secret_gets_an_xml_error(signed_server) -> None:
    url = signed_server.url + "/"
    body = b"Action=ListMetrics&Version=2010-08-01"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    answer = post(signed_server, body, signed_headers(url, body, form, secret="wrong-wrong-wrong"))
    assert answer.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in answer.text
    assert post(signed_server, body, signed_headers(url, body, form)).status_code == 200


def test_without_a_token_any_credentials_or_none_are_accepted(make_api) -> None:
    runtime, server = make_api()
    unsigned = post(server, b"{}", LIST_METRICS)
    assert unsigned.status_code == 200 and orjson.loads(unsigned.content) == {"Metrics": []}
    garbage = post(server, b"{}", {**LIST_METRICS, "Authorization": "AWS4-HMAC-SHA256 nonsense"})
    assert garbage.status_code == 200


def test_cloudwatch_logs_calls_are_checked_too(signed_server) -> None:
    import boto3

    def logs(secret: str):
        return boto3.client("logs", endpoint_url=signed_server.url, region_name="us-east-1",
                            aws_access_key_id="whispersync", aws_secret_access_key=secret)

    assert logs(TOKEN).describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as caught:
        logs("not-the-token-at-all").describe_log_groups()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
