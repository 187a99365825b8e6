"""Issue 11: outcomes as AWS Security Hub findings (ASFF), pure: the finding, when a
change needs one, and what a sweep's finish sends again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ses_pool_enforcer.compliance.security_hub import (
    Product,
    Status,
    finding,
    on_change,
    resync,
    status_change,
)
from ses_pool_enforcer.model import Outcome, OutcomeRecord

PRODUCT = Product("123456789012", "eu-west-1")
SET_ARN = "arn:aws:ses:eu-west-1:123456789012:configuration-set/tx-reset"
T0 = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def record(
    outcome: Outcome = Outcome.VIOLATION,
    current: str | None = "marketing",
    expected: str | None = "transactional",
    rule: str | None = "receipts",
    reason: str = "on marketing, expected transactional (rule is in audit mode)",
    checked: dt.datetime = T1,
    name: str = "tx-reset",
) -> OutcomeRecord:
    return OutcomeRecord(name, outcome, current, expected, rule, reason, checked, policy_version=7)


def row(rec: OutcomeRecord, **extra: str) -> dict[str, str]:
    """The inventory row a look that concluded ``rec`` leaves."""
    fields = {k: v for k, v in rec.to_dict().items() if v is not None and k != "previous_pool"}
    return {k: str(v) for k, v in fields.items()} | extra


def test_a_violation_is_one_failed_active_finding_for_the_set_with_the_rule_pools_and_reason() -> (
    None
):
    # Given a set on the wrong pool under an audit rule, first seen at T0
    # When it becomes a finding
    item = finding(record(), PRODUCT, Status.FAILED, created_at=T0, updated_at=T1)

    # Then it is a stable-id finding of the account's default product, for the set's ARN
    assert item["Id"] == SET_ARN + "/pool-policy"
    assert item["ProductArn"] == (
        "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
    )
    assert item["AwsAccountId"] == "123456789012"
    assert item["GeneratorId"] == "ses-pool-enforcer/pool-policy/receipts"
    assert item["SchemaVersion"] == "2018-10-08"
    assert item["Types"][0].startswith("Software and Configuration Checks/")
    assert item["Resources"] == [
        {
            "Type": "Other",
            "Id": SET_ARN,
            "Partition": "aws",
            "Region": "eu-west-1",
            "Details": {
                "Other": {"ConfigurationSetName": "tx-reset", "SendingPoolName": "marketing"}
            },
        }
    ]
    # And it fails, is new and active, dated by when the problem began and when it was seen
    assert item["Compliance"] == {"Status": "FAILED"}
    assert item["Workflow"] == {"Status": "NEW"}
    assert item["RecordState"] == "ACTIVE"
    assert (item["CreatedAt"], item["UpdatedAt"]) == (
        "2026-11-26T12:00:00.000Z",
        "2026-11-26T13:00:00.000Z",
    )
    # And it says which rule, pools, policy version and why, for people and for filters
    assert item["Severity"] == {"Label": "MEDIUM", "Original": "violation"}
    assert item["FindingProviderFields"] == {"Severity": item["Severity"], "Types": item["Types"]}
    assert item["ProductFields"] == {
        "ses-pool-enforcer/Outcome": "violation",
        "ses-pool-enforcer/Rule": "receipts",
        "ses-pool-enforcer/RequiredPool": "transactional",
        "ses-pool-enforcer/CurrentPool": "marketing",
        "ses-pool-enforcer/PolicyVersion": "7",
        "ses-pool-enforcer/Reason": "on marketing, expected transactional (rule is in audit mode)",
    }
    assert (
        item["Title"]
        == "SES configuration set tx-reset is on the wrong pool (audit mode: not moved)"
    )
    assert item["Description"] == (
        "violation: on marketing, expected transactional (rule is in audit mode). "
        "Current pool: marketing; required pool: transactional; rule: receipts; "
        "policy version: 7."
    )


@pytest.mark.parametrize(
    ("outcome", "label"),
    [(Outcome.VIOLATION, "MEDIUM"), (Outcome.ERROR, "HIGH"), (Outcome.FLAPPING, "HIGH")],
)
def test_errors_and_flaps_are_more_severe_than_violations(outcome: Outcome, label: str) -> None:
    item = finding(record(outcome), PRODUCT, Status.FAILED, created_at=T0, updated_at=T1)
    assert item["Severity"]["Label"] == label
    assert item["FindingProviderFields"]["Severity"]["Label"] == label


def test_a_passed_finding_is_archived_informational_and_leaves_the_workflow_alone() -> None:
    # Given the set back on its pool
    item = finding(
        record(Outcome.REMEDIATED, current="transactional", reason="moved"),
        PRODUCT,
        Status.PASSED,
        created_at=T0,
        updated_at=T1,
    )

    # Then the same finding passes and is archived
    assert item["Id"] == SET_ARN + "/pool-policy"
    assert item["Compliance"] == {"Status": "PASSED"}
    assert item["RecordState"] == "ARCHIVED"
    assert item["Severity"] == {"Label": "INFORMATIONAL", "Original": "remediated"}
    assert "Workflow" not in item  # Security Hub's users own it once the finding exists
    assert item["Title"] == "SES configuration set tx-reset was moved to its required pool"


def test_long_or_missing_values_stay_within_asff_limits() -> None:
    # Given an error with a very long reason and no pools or rule
    long = record(Outcome.ERROR, current=None, expected=None, rule=None, reason="x" * 5000)

    # When it becomes a finding
    item = finding(long, PRODUCT, Status.FAILED, created_at=T0, updated_at=T1)

    # Then every text is within its ASFF limit and no map holds an empty value
    assert len(item["Description"]) == 1024 and item["Description"].endswith("…")
    assert len(item["Title"]) <= 256
    assert len(item["ProductFields"]["ses-pool-enforcer/Reason"]) == 2048
    assert "ses-pool-enforcer/Rule" not in item["ProductFields"]
    assert item["Resources"][0]["Details"]["Other"] == {"ConfigurationSetName": "tx-reset"}
    assert item["GeneratorId"] == "ses-pool-enforcer/pool-policy/no-rule"


def test_arns_follow_the_partition() -> None:
    china = Product("123456789012", "cn-north-1", "aws-cn")
    item = finding(record(), china, Status.FAILED, created_at=T0, updated_at=T1)
    assert item["ProductArn"].startswith("arn:aws-cn:securityhub:cn-north-1:")
    assert item["Resources"][0]["Id"].startswith("arn:aws-cn:ses:cn-north-1:")
    assert item["Resources"][0]["Partition"] == "aws-cn"


# --------------------------------------------------------------------------- transitions

VIOLATION = row(record(), problem_since="2026-11-26T12:00:00+00:00")
COMPLIANT = row(record(Outcome.COMPLIANT, current="transactional", reason="on transactional"))


@pytest.mark.parametrize(
    ("concluded", "previous", "expected"),
    [
        # a new problem, on a set never seen or seen compliant
        (record(), {}, Status.FAILED),
        (record(), COMPLIANT, Status.FAILED),
        # the same problem seen again: nothing to import
        (record(), VIOLATION, None),
        # a changed problem: another pool, another rule, another outcome
        (record(current="ses-shared-pool"), VIOLATION, Status.FAILED),
        (record(rule="receipts-v2"), VIOLATION, Status.FAILED),
        (record(Outcome.ERROR), VIOLATION, Status.FAILED),
        # the problem went away, however it did
        (record(Outcome.REMEDIATED, current="transactional"), VIOLATION, Status.PASSED),
        (record(Outcome.COMPLIANT, current="transactional"), VIOLATION, Status.PASSED),
        (record(Outcome.EXEMPT, expected=None, rule=None), VIOLATION, Status.PASSED),
        (record(Outcome.UNMANAGED, expected=None, rule=None), VIOLATION, Status.PASSED),
        (record(Outcome.DELETED, current=None, expected=None, rule=None), VIOLATION, Status.PASSED),
        # compliant all along: Security Hub hears nothing
        (record(Outcome.COMPLIANT, current="transactional"), COMPLIANT, None),
        (record(Outcome.REMEDIATED, current="transactional"), {}, None),
        (record(Outcome.DELETED, current=None), COMPLIANT, None),
    ],
)
def test_only_a_change_of_compliance_needs_a_finding(
    concluded: OutcomeRecord, previous: dict[str, str], expected: Status | None
) -> None:
    assert status_change(concluded, previous) is expected


def test_a_finding_keeps_the_time_its_problem_began_whatever_the_problem_becomes() -> None:
    # Given a set in violation since T0, now found in error
    # When the look's change becomes a finding
    item = on_change(record(Outcome.ERROR), VIOLATION, PRODUCT)

    # Then it is created when the problem began and updated when the set was looked at
    assert item is not None
    assert (item["CreatedAt"], item["UpdatedAt"]) == (
        "2026-11-26T12:00:00.000Z",
        "2026-11-26T13:00:00.000Z",
    )
    # And a look that changed nothing gives nothing to import
    assert on_change(record(), VIOLATION, PRODUCT) is None


# --------------------------------------------------------------------------- resync


def open_finding(
    name: str, created: str = "2026-01-01T00:00:00.000Z", **extra: Any
) -> dict[str, Any]:
    """A finding of this enforcer that Security Hub holds as failing."""
    item = finding(record(name=name), PRODUCT, Status.FAILED, created_at=T0, updated_at=T0)
    return item | {"CreatedAt": created} | extra


def test_a_resync_sends_every_problem_again_and_closes_what_no_longer_fails() -> None:
    # Given the inventory: one set in violation, one compliant, one never judged
    rows = [
        row(record(name="tx-bad"), problem_since="2026-11-26T12:00:00+00:00"),
        row(record(Outcome.COMPLIANT, current="transactional", name="tx-fixed")),
        row(record(Outcome.COMPLIANT, current="transactional", name="tx-quiet")),
        {"configuration_set": "tx-claimed-never-judged"},
    ]
    # And Security Hub holding open findings for the fixed set and for one gone from the
    # inventory, and findings that are not this enforcer's or not open
    held = [
        open_finding("tx-fixed"),
        open_finding("tx-gone", created="2026-02-02T00:00:00.000Z"),
        open_finding("tx-other", GeneratorId="someone-else/check"),
        open_finding("tx-closed", RecordState="ARCHIVED"),
        open_finding("tx-foreign", ProductArn="arn:aws:securityhub:eu-west-1::product/x/y"),
    ]
    as_of = T1 + dt.timedelta(minutes=5)

    # When the finish resyncs
    sent = {f["Id"].split("/")[-2]: f for f in resync(rows, held, PRODUCT, as_of)}

    # Then the problem is sent again as it stands, the fixed and the gone sets are closed,
    # and nothing else is touched
    assert set(sent) == {"tx-bad", "tx-fixed", "tx-gone"}
    assert sent["tx-bad"]["Compliance"] == {"Status": "FAILED"}
    assert sent["tx-bad"]["CreatedAt"] == "2026-11-26T12:00:00.000Z"
    assert sent["tx-fixed"]["Compliance"] == {"Status": "PASSED"}
    assert sent["tx-fixed"]["RecordState"] == "ARCHIVED"
    assert sent["tx-fixed"]["CreatedAt"] == "2026-01-01T00:00:00.000Z"  # as Security Hub has it
    assert sent["tx-gone"]["RecordState"] == "ARCHIVED"
    assert sent["tx-gone"]["ProductFields"]["ses-pool-enforcer/Outcome"] == "deleted"
    assert sent["tx-gone"]["Title"] == "SES configuration set tx-gone no longer exists"
    # And each is dated by the look it reports, so a newer update from an event wins
    assert (
        sent["tx-bad"]["UpdatedAt"] == sent["tx-fixed"]["UpdatedAt"] == "2026-11-26T13:00:00.000Z"
    )
    assert sent["tx-gone"]["UpdatedAt"] == "2026-11-26T13:05:00.000Z"
