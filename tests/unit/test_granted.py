"""tests/granted.py itself: a request is granted only on the resources the template
names, as IAM would match them (the integration tests record real requests)."""

from __future__ import annotations

import pytest

from local_aws.stack import LocalStack
from tests import granted
from tests.granted import Request

HUB, MEMBER = "123456789012", "210987654321"
STACK = LocalStack(
    region="us-east-1",
    policy_parameter="/ses-pool-enforcer/policy",
    alert_topic_arn=f"arn:aws:sns:us-east-1:{HUB}:ses-pool-enforcer-alerts",
    alert_queue_url=f"https://sqs.us-east-1.amazonaws.com/{HUB}/ses-pool-enforcer-alerts-inbox",
    alert_fallback_queue_url=f"https://sqs.us-east-1.amazonaws.com/{HUB}/ses-pool-enforcer-alerts-undelivered",
    work_queue_url=f"https://sqs.us-east-1.amazonaws.com/{HUB}/ses-pool-enforcer-events",
    dead_letter_queue_url=f"https://sqs.us-east-1.amazonaws.com/{HUB}/ses-pool-enforcer-events-dlq",
    inventory_table="ses-pool-enforcer-inventory",
    identity_table="ses-pool-enforcer-identities",
    state_table="ses-pool-enforcer-state",
    report_bucket="ses-pool-enforcer-reports",
    account_id=HUB,
)
TABLE = f"arn:aws:dynamodb:us-east-1:{HUB}:table/ses-pool-enforcer"


@pytest.fixture(autouse=True)
def hub_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    # The functions' environment, as a hub's template sets it
    monkeypatch.setenv("POLICY_PARAMETER", STACK.policy_parameter)
    monkeypatch.setenv("ORGANIZATION_ID", "o-abcdefghij")
    monkeypatch.setenv("MEMBER_ROLE_NAME", "ses-pool-enforcer-member")


def hub(action: str, resource: str) -> Request:
    return Request(action, resource, HUB)


def test_the_state_table_is_scanned_only_by_a_hub() -> None:
    scan = hub("dynamodb:Scan", f"{TABLE}-state")
    assert granted.refused([scan], "SweepFunctionRole", set(), STACK) == [scan]
    assert granted.refused([scan], "SweepFunctionRole", {"IsHub"}, STACK) == []
    # (the inventory's scan is granted either way)
    assert not granted.refused(
        [hub("dynamodb:Scan", f"{TABLE}-inventory")], "SweepFunctionRole", set(), STACK
    )


def test_a_query_is_granted_on_its_index_only() -> None:
    pool = hub("dynamodb:Query", f"{TABLE}-inventory/index/by-expected-pool")
    lane = hub("dynamodb:Query", f"{TABLE}-inventory/index/by-lane")
    table = hub("dynamodb:Query", f"{TABLE}-inventory")
    assert granted.refused([pool, lane, table], "EventFunctionRole", set(), STACK) == [table, lane]
    assert granted.refused([pool, lane], "SweepFunctionRole", set(), STACK) == [pool]


def test_reports_are_written_under_their_prefix_and_the_policy_read_by_its_name() -> None:
    report = hub("s3:PutObject", "arn:aws:s3:::ses-pool-enforcer-reports/reports/2026-01-01/a.json")
    elsewhere = hub("s3:PutObject", "arn:aws:s3:::ses-pool-enforcer-reports/other/a.json")
    policy = hub(
        "ssm:GetParameter", f"arn:aws:ssm:us-east-1:{HUB}:parameter/ses-pool-enforcer/policy"
    )
    other = hub("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{HUB}:parameter/other")
    refused = granted.refused([report, elsewhere, policy, other], "SweepFunctionRole", set(), STACK)
    assert refused == [elsewhere, other]


def test_the_template_parameters_come_from_the_environment_or_are_given() -> None:
    role = f"arn:aws:iam::{MEMBER}:role/ses-pool-enforcer-member"
    assume = hub("sts:AssumeRole", role)
    assert not granted.refused([assume], "EventFunctionRole", {"IsHub"}, STACK)
    given = {"MemberRoleName": "another"}
    assert granted.refused([assume], "EventFunctionRole", {"IsHub"}, STACK, parameters=given) == [
        assume
    ]
    # And DescribeAccount is granted on the organization's accounts, whoever manages it
    account = f"arn:aws:organizations::{HUB}:account/o-abcdefghij/{MEMBER}"
    stranger = f"arn:aws:organizations::{HUB}:account/o-zzzzzzzzzz/{MEMBER}"
    described = [hub("organizations:DescribeAccount", a) for a in (account, stranger)]
    assert granted.refused(described, "EventFunctionRole", {"IsHub"}, STACK) == described[1:]


def test_the_member_role_acts_on_its_own_account_in_any_region() -> None:
    own = [
        Request(
            "ses:PutConfigurationSetDeliveryOptions",
            f"arn:aws:ses:{r}:{MEMBER}:configuration-set/s",
            MEMBER,
        )
        for r in ("us-east-1", "eu-west-1")
    ]
    # (a set of another account, reached on this account's role)
    other = Request(
        "ses:PutConfigurationSetDeliveryOptions",
        f"arn:aws:ses:eu-west-1:{HUB}:configuration-set/s",
        MEMBER,
    )
    assert granted.refused([*own, other], "MemberRole", set(), STACK, member=True) == [other]


def test_an_action_recorded_on_everything_needs_a_statement_on_everything() -> None:
    listed = hub("ses:ListConfigurationSets", "*")
    described = hub("dynamodb:DescribeTable", "*")
    assert granted.refused([listed, described], "SweepFunctionRole", set(), STACK) == [described]


@pytest.mark.parametrize(
    ("pattern", "arn", "matched"),
    [
        ("arn:aws:iam::*:role/r", "arn:aws:iam::123456789012:role/r", True),
        ("arn:aws:ses:*:1:identity/*", "arn:aws:ses:eu-west-1:1:identity/a.example.com", True),
        ("arn:aws:ses:*:1:identity/*", "arn:aws:ses:eu-west-1:2:identity/a", False),
        # a * in the ARN's first five segments spans no colon
        ("arn:aws:ses:*:identity/*", "arn:aws:ses:eu-west-1:1:identity/a", False),
        ("arn:aws:s3:::b/reports/*", "arn:aws:s3:::b/reports/2026/x.json", True),
        ("arn:aws:s3:::b/reports/*", "arn:aws:s3:::b/x.json", False),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/x", True),
        ("arn:aws:s3:::b/[x]", "arn:aws:s3:::b/x", False),  # (no character classes)
        ("arn:aws:sns:r:1:Topic", "arn:aws:sns:r:1:topic", False),  # (case-sensitive)
        ("*", "anything", True),
    ],
)
def test_resources_are_matched_with_iams_wildcards(pattern: str, arn: str, matched: bool) -> None:
    assert granted.matches(pattern, arn) is matched
