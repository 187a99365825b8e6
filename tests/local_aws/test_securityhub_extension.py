"""The local Security Hub extension behaves as Security Hub does for a finding provider."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws import securityhub as local_hub

ACCOUNT = "123456789012"
PRODUCT = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"


def finding(
    fid: str = "f-1", updated: str = "2026-11-26T12:00:00.000Z", **extra: Any
) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": fid,
        "ProductArn": PRODUCT,
        "GeneratorId": "ses-pool-enforcer/pool-policy/receipts",
        "AwsAccountId": ACCOUNT,
        "CreatedAt": "2026-11-26T12:00:00.000Z",
        "UpdatedAt": updated,
        "Title": "a set on the wrong pool",
        "Description": "why",
        "Resources": [
            {"Type": "Other", "Id": f"arn:aws:ses:us-east-1:{ACCOUNT}:configuration-set/x"}
        ],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
        **extra,
    }


def held() -> dict[str, dict[str, Any]]:
    return {f["Id"]: f for f in boto3.client("securityhub").get_findings()["Findings"]}


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_an_account_without_security_hub_is_refused_as_not_subscribed(local_aws: None) -> None:
    hub = boto3.client("securityhub")
    with pytest.raises(ClientError) as raised:
        hub.batch_import_findings(Findings=[finding()])
    assert raised.value.response["Error"]["Code"] == "InvalidAccessException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert "not subscribed to AWS Security Hub" in str(raised.value)
    assert error_code(hub.get_findings) == "InvalidAccessException"
    # Or, as the user guide has it for a disabled integration, every finding refused
    local_hub.answer_not_enabled_in_failed_findings()
    answer = hub.batch_import_findings(Findings=[finding("a"), finding("b")])
    assert answer["SuccessCount"] == 0
    assert {f["ErrorCode"] for f in answer["FailedFindings"]} == {"InvalidAccess"}
    assert local_hub.import_calls() == []


def test_at_most_100_findings_a_call_and_bad_findings_are_refused_one_by_one(
    local_aws: None,
) -> None:
    hub = boto3.client("securityhub")
    hub.enable_security_hub()
    many = [finding(f"f-{i}") for i in range(101)]
    assert error_code(lambda: hub.batch_import_findings(Findings=many)) == "InvalidInputException"

    # When one good finding goes with ones Security Hub refuses
    answer = hub.batch_import_findings(
        Findings=[
            finding("good"),
            finding("long", Description="x" * 1025),
            finding("fields", ProductFields={f"k{i}": "v" for i in range(51)}),
            finding(
                "other",
                Resources=[{"Type": "Other", "Id": "r", "Details": {"Other": {"k": "v" * 1024}}}],
            ),
        ]
    )

    # Then the good one is kept and each other is refused with why
    assert answer["SuccessCount"] == 1
    assert [(f["Id"], f["ErrorCode"]) for f in answer["FailedFindings"]] == [
        ("long", "InvalidInput"), ("fields", "InvalidInput"), ("other", "InvalidInput"),
    ]  # fmt: skip
    assert set(held()) == {"good"}
    assert local_hub.import_calls() == [4]


def test_an_update_replaces_the_finding_unless_it_is_older_and_keeps_what_users_own(
    local_aws: None,
) -> None:
    hub = boto3.client("securityhub")
    hub.enable_security_hub()
    hub.batch_import_findings(
        Findings=[
            finding(
                Note={"Text": "looking", "UpdatedBy": "ana", "UpdatedAt": "2026-11-26T12:30:00Z"}
            )
        ]
    )

    # When the provider closes it, with a later UpdatedAt and a workflow of its own
    closed = finding(
        updated="2026-11-26T13:00:00.000Z",
        Compliance={"Status": "PASSED"},
        RecordState="ARCHIVED",
        Workflow={"Status": "NEW"},
        FindingProviderFields={"Severity": {"Label": "INFORMATIONAL"}, "Types": ["t"]},
    )
    hub.batch_import_findings(Findings=[closed])

    # Then one finding, closed, the user's note kept, severity from the provider's fields
    [stored] = held().values()
    assert stored["RecordState"] == "ARCHIVED" and stored["Compliance"]["Status"] == "PASSED"
    assert stored["Note"]["Text"] == "looking"
    assert stored["Severity"] == {"Label": "INFORMATIONAL"}

    # When an older update arrives late, it is ignored
    hub.batch_import_findings(Findings=[finding(updated="2026-11-26T12:59:00.000Z")])
    assert held()["f-1"]["RecordState"] == "ARCHIVED"

    # When a user resolved it (moto has no BatchUpdateFindings: set as it would) and it
    # fails again later, it is active again and back to NEW
    from moto.securityhub.models import securityhub_backends

    securityhub_backends[ACCOUNT]["us-east-1"].findings[0].data["Workflow"] = {"Status": "RESOLVED"}
    hub.batch_import_findings(Findings=[finding(updated="2026-11-26T14:00:00.000Z")])
    assert held()["f-1"]["RecordState"] == "ACTIVE"
    assert held()["f-1"]["Workflow"] == {"Status": "NEW"}
    assert local_hub.read_calls() == 4
