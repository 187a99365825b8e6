"""local_aws counts the requests it receives, per service and action, every service: how a
benchmark learns what a client in another process cost in calls without counting inside it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import local_aws
from local_aws import faults


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local_aws.install()
    with mock_aws(config=local_aws.MOTO_CONFIG):
        yield


def _since(before: dict[str, int]) -> dict[str, int]:
    after = faults.request_counts()
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


@pytest.mark.usefixtures("aws")
def test_every_request_is_counted_once_by_service_and_action() -> None:
    # Given a count taken before
    before = faults.request_counts()
    ses = boto3.client("sesv2", region_name="us-east-1")
    ssm = boto3.client("ssm", region_name="us-east-1")
    # When a client makes requests of two services, one of them refused
    ses.create_configuration_set(ConfigurationSetName="a")
    ses.get_configuration_set(ConfigurationSetName="a")
    ssm.put_parameter(Name="/p", Value="v", Type="String")
    with pytest.raises(ClientError):
        ses.get_configuration_set(ConfigurationSetName="missing")
    # Then each is counted once, the refused one too (AWS counts what it receives)
    assert _since(before) == {
        "sesv2:CreateConfigurationSet": 1,
        "sesv2:GetConfigurationSet": 2,
        "ssm:PutParameter": 1,
    }
