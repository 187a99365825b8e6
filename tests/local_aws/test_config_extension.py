"""The local Config extension behaves as Config does for a custom rule's evaluations."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws import config as local_config

RULE = "pool-policy"
T0 = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def evaluation(name: str, compliance: str = "COMPLIANT", **extra: Any) -> dict[str, Any]:
    return {
        "ComplianceResourceType": "AWS::SES::ConfigurationSet",
        "ComplianceResourceId": name,
        "ComplianceType": compliance,
        "OrderingTimestamp": T0,
        **extra,
    }


def details(**filters: Any) -> list[dict[str, Any]]:
    config = boto3.client("config")
    found, token = [], None
    while True:
        page = config.get_compliance_details_by_config_rule(
            ConfigRuleName=RULE, **filters, **({"NextToken": token} if token else {})
        )
        found += page["EvaluationResults"]
        token = page.get("NextToken")
        if not token:
            return found


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_evaluations_are_kept_per_resource_newest_first_and_read_back(local_aws: None) -> None:
    # Given a token issued for the rule, and evaluations sent in two calls
    config = boto3.client("config")
    token = local_config.issue_result_token(RULE)
    config.put_evaluations(
        ResultToken=token,
        Evaluations=[evaluation("a", Annotation="why a"), evaluation("b", "NON_COMPLIANT")],
    )
    # And a later evaluation of b, then an older one that must not win
    later = evaluation("b", "COMPLIANT", OrderingTimestamp=T0 + dt.timedelta(hours=1))
    config.put_evaluations(ResultToken=token, Evaluations=[later])
    config.put_evaluations(ResultToken=token, Evaluations=[evaluation("b", "NOT_APPLICABLE")])

    # Then each resource has its newest evaluation, annotation kept
    results = {r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]: r
               for r in details()}  # fmt: skip
    assert {k: r["ComplianceType"] for k, r in results.items()} == {
        "a": "COMPLIANT",
        "b": "COMPLIANT",
    }
    assert results["a"]["Annotation"] == "why a" and "Annotation" not in results["b"]
    assert local_config.put_evaluation_calls() == [2, 1, 1]
    # And they can be filtered by compliance
    assert details(ComplianceTypes=["NON_COMPLIANT"]) == []


def test_it_refuses_what_config_refuses(local_aws: None) -> None:
    config = boto3.client("config")
    token = local_config.issue_result_token(RULE)

    def put(evaluations: list[dict[str, Any]], result_token: str = token) -> Any:
        return lambda: config.put_evaluations(ResultToken=result_token, Evaluations=evaluations)

    assert error_code(put([evaluation(f"s{i}") for i in range(101)])) == "ValidationException"
    assert error_code(put([evaluation("a", Annotation="x" * 257)])) == "ValidationException"
    assert error_code(put([evaluation("a", "INSUFFICIENT_DATA")])) == (
        "InvalidParameterValueException"
    )
    assert error_code(put([evaluation("a")], "not-issued")) == "InvalidResultTokenException"
    # And it accepts what Config accepts: 100 at once, 256 characters, nothing at all
    config.put_evaluations(ResultToken=token, Evaluations=[evaluation(f"s{i}") for i in range(100)])
    config.put_evaluations(ResultToken=token, Evaluations=[evaluation("a", Annotation="x" * 256)])
    config.put_evaluations(ResultToken=token, Evaluations=[])
    assert local_config.put_evaluation_calls() == [100, 1, 0]


def test_test_mode_keeps_nothing_and_needs_no_issued_token(local_aws: None) -> None:
    boto3.client("config").put_evaluations(
        ResultToken="anything", Evaluations=[evaluation("a")], TestMode=True
    )
    assert details() == [] and local_config.put_evaluation_calls() == []


def test_results_page_by_at_most_100(local_aws: None) -> None:
    config = boto3.client("config")
    token = local_config.issue_result_token(RULE)
    for start in (0, 100):
        config.put_evaluations(
            ResultToken=token,
            Evaluations=[evaluation(f"s{i:03d}") for i in range(start, start + 100)],
        )
    first = config.get_compliance_details_by_config_rule(ConfigRuleName=RULE)
    assert len(first["EvaluationResults"]) == 100 and "NextToken" in first
    assert len(details()) == 200


# ---------------------------------------------------------------- advanced queries

AGGREGATOR = "org"
SES_QUERY = (
    "SELECT accountId, awsRegion, resourceName, configuration.DeliveryOptions.SendingPoolName, "
    "tags WHERE resourceType = 'AWS::SES::ConfigurationSet'"
)


@pytest.fixture
def aggregator(local_aws: None) -> Any:
    config = boto3.client("config", region_name="us-east-1")
    config.put_configuration_aggregator(
        ConfigurationAggregatorName=AGGREGATOR,
        OrganizationAggregationSource={
            "RoleArn": "arn:aws:iam::123456789012:role/aggregator",
            "AllAwsRegions": True,
        },
    )
    ses = boto3.client("sesv2", region_name="us-east-1")
    for pool in ("marketing", "transactional"):
        ses.create_dedicated_ip_pool(PoolName=pool, ScalingMode="STANDARD")
    ses.create_configuration_set(
        ConfigurationSetName="a",
        DeliveryOptions={"SendingPoolName": "marketing", "TlsPolicy": "REQUIRE"},
        Tags=[{"Key": "stream", "Value": "marketing"}],
    )
    boto3.client("sesv2", region_name="eu-west-1").create_configuration_set(
        ConfigurationSetName="b"
    )
    return config


def select(config: Any, expression: str = SES_QUERY, **extra: Any) -> list[dict[str, Any]]:
    answer = config.select_aggregate_resource_config(
        Expression=expression, ConfigurationAggregatorName=AGGREGATOR, **extra
    )
    return [json.loads(r) for r in answer["Results"]]


def test_an_aggregator_answers_every_sets_recorded_pool_and_tags(aggregator: Any) -> None:
    answer = aggregator.select_aggregate_resource_config(
        Expression=SES_QUERY, ConfigurationAggregatorName=AGGREGATOR, Limit=100
    )
    assert [f["Name"] for f in answer["QueryInfo"]["SelectFields"]] == [
        "accountId", "awsRegion", "resourceName",
        "configuration.DeliveryOptions.SendingPoolName", "tags",
    ]  # fmt: skip
    assert [json.loads(r) for r in answer["Results"]] == [
        {"accountId": "123456789012", "awsRegion": "eu-west-1", "resourceName": "b", "tags": []},
        {
            "accountId": "123456789012",
            "awsRegion": "us-east-1",
            "resourceName": "a",
            "configuration": {"DeliveryOptions": {"SendingPoolName": "marketing"}},
            "tags": [{"key": "stream", "value": "marketing"}],
        },
    ]
    assert "NextToken" not in answer
    # filtered by region, paged one at a time
    only = SES_QUERY + " AND awsRegion IN ('us-east-1')"
    assert [r["resourceName"] for r in select(aggregator, only)] == ["a"]
    first = aggregator.select_aggregate_resource_config(
        Expression=SES_QUERY, ConfigurationAggregatorName=AGGREGATOR, Limit=1
    )
    assert len(first["Results"]) == 1 and first["NextToken"]
    assert [c.limit for c in local_config.select_calls()] == [100, 25, 1]


def test_a_recording_is_stale_until_config_records_again(aggregator: Any) -> None:
    local_config.record()
    boto3.client("sesv2", region_name="us-east-1").put_configuration_set_delivery_options(
        ConfigurationSetName="a", SendingPoolName="transactional"
    )
    recorded = {r["resourceName"]: r for r in select(aggregator)}
    assert recorded["a"]["configuration"]["DeliveryOptions"]["SendingPoolName"] == "marketing"
    local_config.record()
    recorded = {r["resourceName"]: r for r in select(aggregator)}
    assert recorded["a"]["configuration"]["DeliveryOptions"]["SendingPoolName"] == "transactional"


@pytest.mark.parametrize(
    ("expression", "extra", "code"),
    [
        ("SELECT * WHERE resourceType = 'AWS::SES::ConfigurationSet'", {}, "InvalidExpression"),
        ("SELECT resourceName WHERE resourceType = 'AWS::S3::Bucket'", {}, "InvalidExpression"),
        (SES_QUERY + " GROUP BY accountId", {}, "InvalidExpression"),
        ("SELECT resourceName, COUNT(*) WHERE resourceType = 'x'", {}, "InvalidExpression"),
        (SES_QUERY, {"Limit": 101}, "InvalidLimitException"),
        (SES_QUERY, {"ConfigurationAggregatorName": "nope"}, "NoSuchConfigurationAggregator"),
    ],
)
def test_anything_else_is_refused_as_config_refuses_it(
    aggregator: Any, expression: str, extra: dict[str, Any], code: str
) -> None:
    kwargs = {"Expression": expression, "ConfigurationAggregatorName": AGGREGATOR, **extra}
    with pytest.raises(ClientError) as caught:
        aggregator.select_aggregate_resource_config(**kwargs)
    assert caught.value.response["Error"]["Code"].startswith(code)


@pytest.mark.parametrize(
    "handed",
    [
        T0,  # moto 5.2.6 and later: parsed against the service model
        T0.replace(tzinfo=None),  # a naive datetime is UTC, as botocore's parser makes it
        T0.timestamp(),  # moto up to 5.2.5: the wire's epoch number
        str(T0.timestamp()),
        T0.isoformat(),
    ],
)
def test_an_ordering_timestamp_means_one_instant_whatever_shape_moto_hands_it_in(
    handed: Any,
) -> None:
    # Given the shapes moto has handed OrderingTimestamp to the extension in, release to release
    # When the extension reads it
    # Then each is the same instant
    assert local_config._epoch(handed) == T0.timestamp()
