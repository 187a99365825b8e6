"""The policies that let AWS services act for this product: the alert key's policy and
the trust of each role EventBridge assumes. Each names only the services that use it,
and each service only for this account's own sources (aws:SourceAccount, aws:SourceArn:
the confused deputy). The conditions are evaluated as IAM evaluates them
(tests/granted.holds) against the request context each service sends: the rule's or the
alarm's ARN, and its account."""

from __future__ import annotations

from typing import Any

import pytest

from tests import granted
from tests.infrastructure.test_template import (
    MANAGEMENT_TEMPLATE,
    MEMBER_TEMPLATE,
    TEMPLATE,
    as_list,
    load,
)

HUB, MEMBER, STRANGER = "123456789012", "210987654321", "999999999999"
REGION = "eu-west-1"
STACK = "enforcer"
BUS = f"arn:aws:events:{REGION}:{HUB}:event-bus/{STACK}-hub"


def services(document: dict[str, Any]) -> set[str]:
    """Every service principal a policy document names."""
    return {
        service
        for s in document["Statement"]
        for service in as_list(s.get("Principal", {}).get("Service", []))
    }


def admits(
    document: dict[str, Any],
    service: str,
    action: str,
    context: dict[str, str],
    place: granted.Place,
) -> bool:
    """Whether a statement lets ``service`` do ``action`` with this request context."""
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        named = as_list(statement.get("Principal", {}).get("Service", []))
        actions = [granted._pattern(a, case=False) for a in as_list(statement["Action"])]
        if (
            service in named
            and any(a.fullmatch(action) for a in actions)
            and granted.holds(statement.get("Condition", {}), context, place)
        ):
            return True
    return False


def source(arn: str) -> dict[str, str]:
    """The context EventBridge or CloudWatch sends: its source's ARN and account."""
    return {"aws:SourceArn": arn, "aws:SourceAccount": arn.split(":")[4]}


# ---------------------------------------------------------------- the alert key


def test_only_this_stacks_alarms_use_the_alert_key_as_a_service() -> None:
    key = load(TEMPLATE)["Resources"]["AlertKey"]["Properties"]["KeyPolicy"]
    # CloudWatch alone: the functions publish with their roles' grants (the account's
    # statement), no rule targets the topic, and an email subscription needs no key.
    assert services(key) == {"cloudwatch.amazonaws.com"}
    place = granted.Place(HUB, REGION, {}, {}, {}, stack_name=STACK)
    alarm = f"arn:aws:cloudwatch:{REGION}:{HUB}:alarm:{STACK}-sweep-failed"
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert admits(key, "cloudwatch.amazonaws.com", action, source(alarm), place)
    publish = "kms:GenerateDataKey"
    # Not an alarm of another account, nor of another region, nor another source type
    elsewhere = alarm.replace(HUB, STRANGER)
    assert not admits(key, "cloudwatch.amazonaws.com", publish, source(elsewhere), place)
    other_region = alarm.replace(REGION, "us-east-1")
    assert not admits(key, "cloudwatch.amazonaws.com", publish, source(other_region), place)
    dashboard = f"arn:aws:cloudwatch::{HUB}:dashboard/x"
    assert not admits(key, "cloudwatch.amazonaws.com", publish, source(dashboard), place)
    # Not without the source the service sends, nor with the account alone
    assert not admits(key, "cloudwatch.amazonaws.com", publish, {}, place)
    assert not admits(key, "cloudwatch.amazonaws.com", publish, {"aws:SourceAccount": HUB}, place)
    assert not admits(key, "cloudwatch.amazonaws.com", publish, {"aws:SourceArn": alarm}, place)
    # Nor SNS or EventBridge, whatever they send
    for service in ("sns.amazonaws.com", "events.amazonaws.com"):
        assert not admits(key, service, publish, source(alarm), place)
    # Nor any other key action
    assert not admits(key, "cloudwatch.amazonaws.com", "kms:Encrypt", source(alarm), place)


# ---------------------------------------------------------------- roles EventBridge assumes

# (template, role, parameters, the ARNs of the rules that use the role)
ROLES = {
    "NewMemberAccountRuleRole": (
        TEMPLATE,
        {},
        [
            f"arn:aws:events:{REGION}:{HUB}:rule/{STACK}-new-member",
            f"arn:aws:events:{REGION}:{HUB}:rule/{STACK}-hub/{STACK}-new-member",
        ],
    ),
    "StartSweepRuleRole": (
        TEMPLATE,
        {},
        [
            f"arn:aws:events:{REGION}:{HUB}:rule/{STACK}-schedule",
            f"arn:aws:events:{REGION}:{HUB}:rule/{STACK}-policy",
        ],
    ),
    "ForwardToHubRole": (
        MEMBER_TEMPLATE,
        {"HubEventBusArn": BUS},
        [f"arn:aws:events:{REGION}:{MEMBER}:rule/{STACK}-hub"],
    ),
    "ForwardStackSetEventsRole": (
        MANAGEMENT_TEMPLATE,
        {"HubEventBusArn": BUS},
        [f"arn:aws:events:{REGION}:{MEMBER}:rule/{STACK}-hub"],
    ),
}
# The rule resources that assume each role: their names must be those the trust admits.
RULES = {
    "NewMemberAccountRuleRole": ["NewMemberAccountRule", "HubNewMemberAccountRule"],
    "StartSweepRuleRole": ["SweepScheduleRule", "PolicyChangeRule"],
    "ForwardToHubRole": ["ForwardSesChangesRule"],
    "ForwardStackSetEventsRole": ["ForwardStackSetInstancesRule"],
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_role_eventbridge_assumes_is_assumed_by_its_own_rules_only(role: str) -> None:
    path, parameters, rules = ROLES[role]
    template = load(path)
    account = rules[0].split(":")[4]
    refs = {"HubEventBus": f"{STACK}-hub"}
    place = granted.Place(account, REGION, parameters, refs, {}, stack_name=STACK)
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    assert services(trust) == {"events.amazonaws.com"}
    assert all("AWS" not in s["Principal"] for s in trust["Statement"])

    # The rules that use the role are named as the trust names them, on the buses it names
    resources = template["Resources"]
    for logical, arn in zip(RULES[role], rules, strict=True):
        rule = resources[logical]["Properties"]
        assert rule["Targets"][0]["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
        bus = f"{place.one(rule['EventBusName'])}/" if "EventBusName" in rule else ""
        assert arn.endswith(f":rule/{bus}{place.one(rule['Name'])}"), logical

    assume = "sts:AssumeRole"
    for arn in rules:
        assert admits(trust, "events.amazonaws.com", assume, source(arn), place), arn
        # Not another rule of this account, nor this rule's name in another account
        other = arn.rsplit("/", 1)[0] + "/someone-elses-rule"
        assert not admits(trust, "events.amazonaws.com", assume, source(other), place)
        stranger = arn.replace(f":{account}:", f":{STRANGER}:")
        assert not admits(trust, "events.amazonaws.com", assume, source(stranger), place)
        # Not without the rule's ARN (the account alone), nor without its account
        only_account = {"aws:SourceAccount": account}
        assert not admits(trust, "events.amazonaws.com", assume, only_account, place)
        only_arn = {"aws:SourceArn": arn}
        assert not admits(trust, "events.amazonaws.com", assume, only_arn, place)
        # Nor any other service
        assert not admits(trust, "lambda.amazonaws.com", assume, source(arn), place)


def test_every_role_eventbridge_assumes_is_checked_above() -> None:
    assumed = {
        name
        for path in (TEMPLATE, MEMBER_TEMPLATE, MANAGEMENT_TEMPLATE)
        for name, resource in load(path)["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and "events.amazonaws.com" in services(resource["Properties"]["AssumeRolePolicyDocument"])
    }
    assert assumed == set(ROLES)
    # And no SAM event source makes a role of its own (SAM's trusts any rule): the
    # functions' and the state machine's triggers are queues and rules of the template
    made_by_sam = {"Schedule", "EventBridgeRule", "CloudWatchEvent", "ScheduleV2"}
    for name, resource in load(TEMPLATE)["Resources"].items():
        if resource["Type"].startswith("AWS::Serverless::"):
            events = resource["Properties"].get("Events", {}).values()
            assert not {e["Type"] for e in events} & made_by_sam, name
