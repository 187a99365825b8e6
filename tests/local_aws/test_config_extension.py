"""The local Config extension behaves as Config does for a custom rule's evaluations."""

from __future__ import annotations

import datetime as dt
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
