"""What the stack and the handlers agree on: where the channel secrets live and what reading them needs."""

from __future__ import annotations

import pytest

from whispersync.deploy.aws.environment import secret_read_statements, secret_store

WHERE = {"partition": "aws", "region": "eu-west-1", "account": "123456789012"}


@pytest.mark.parametrize(("name", "store"), [
    ("/whispersync/channels", "ssm"),
    ("arn:aws:ssm:eu-west-1:123456789012:parameter/whispersync/channels", "ssm"),
    ("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/channels", "ssm"),
    ("whispersync/channels", "secretsmanager"),
    ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:whispersync/channels-AbCdEf", "secretsmanager"),
])
def test_the_name_says_where_the_secrets_live(name, store) -> None:
    assert secret_store(name) == store


def test_an_ssm_parameter_is_read_with_get_parameter_on_that_parameter_only() -> None:
    """The AWS managed key aws/ssm lets every principal of the account decrypt: no kms:Decrypt grant."""
    assert secret_read_statements("/whispersync/channels", **WHERE) == [
        {"actions": ["ssm:GetParameter"],
         "resources": ["arn:aws:ssm:eu-west-1:123456789012:parameter/whispersync/channels"]}]
    arn = "arn:aws:ssm:us-east-1:210987654321:parameter/shared/channels"
    assert secret_read_statements(arn, **WHERE) == [{"actions": ["ssm:GetParameter"], "resources": [arn]}]


def test_a_secrets_manager_secret_is_read_by_its_name_and_random_suffix() -> None:
    assert secret_read_statements("whispersync/channels", **WHERE) == [
        {"actions": ["secretsmanager:GetSecretValue"],
         "resources": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:whispersync/channels-??????"]}]
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:whispersync/channels-AbCdEf"
    assert secret_read_statements(arn, **WHERE) == [{"actions": ["secretsmanager:GetSecretValue"], "resources": [arn]}]
