"""A real server, and boto3 CloudWatch clients forced onto each wire protocol.

How a protocol is forced: botocore picks the first protocol of its own priority list
(`botocore.utils.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS`) that the service model's
`metadata.protocols` names; botocore 1.44 picks `json` for CloudWatch. A fresh botocore
session's loader caches the model dict it loaded, and clients of that session are built
from that same dict, so narrowing `metadata.protocols` (and `protocol`) to one entry
before creating the client makes every call of that client speak that protocol.
"""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from botocore.config import Config

PROTOCOLS = ["smithy-rpc-v2-cbor", "json", "query"]


def cloudwatch_client(endpoint: str, protocol: str, *, key: str = "anything", secret: str = "anything",
                      validate: bool = True, **config):
    session = botocore.session.get_session()
    data = session.get_component("data_loader").load_service_model("cloudwatch", "service-2")
    data["metadata"]["protocols"] = [protocol]
    data["metadata"]["protocol"] = protocol
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}, **config))
    assert client.meta.service_model.resolved_protocol == protocol
    return client


@pytest.fixture
def cw_server(make_api):
    runtime, server = make_api()
    return runtime, server


@pytest.fixture(params=PROTOCOLS)
def cw(request, cw_server):
    """(runtime, client) with the client speaking one protocol."""
    runtime, server = cw_server
    return runtime, cloudwatch_client(server.url, request.param)


@pytest.fixture
def make_cloudwatch():
    """The client factory, for tests that choose protocol, credentials or validation themselves."""
    return cloudwatch_client
