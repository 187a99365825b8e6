"""templates/management.yaml, deployed by hand in the management account when the hub is a
delegated administrator: exactly a rule forwarding the hub's member StackSet instance
events to the hub's bus and the role EventBridge needs for it, and nothing wider. The
forwarded event's way to the sweep on local AWS: tests/integration/test_org_sweep.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import lint_file

from tests.infrastructure.test_template import MANAGEMENT_TEMPLATE, as_list, load, load_template

MANAGEMENT_RESOURCES = {
    "ForwardStackSetEventsRole": "AWS::IAM::Role",
    "ForwardStackSetInstancesRule": "AWS::Events::Rule",
}
STACK_SET = "ses-pool-enforcer-member"
STACK_SET_ID = f"{STACK_SET}:8f14e45f-ceea-467f-a0e6-3c2d1b0a9f87"
MANAGEMENT = "111111111111"
HUB = "123456789012"

# The hub bus's name, from its ARN: it names this template's rule (tests/infrastructure/
# test_service_principals evaluates the trust against the rule's ARN).
BUS_NAME = {"Fn::Select": [1, {"Fn::Split": [":event-bus/", {"Ref": "HubEventBusArn"}]}]}


def load_management() -> dict[str, Any]:
    return load(MANAGEMENT_TEMPLATE)


@pytest.fixture
def management() -> dict[str, Any]:
    return load_management()


@pytest.fixture
def resources(management: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = management["Resources"]
    return found


def wildcard_matches(pattern: str, value: str) -> bool:
    """EventBridge's ``wildcard`` filter: ``*`` is any run of characters, nothing else is
    special (the pattern here holds no escapes)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value) is not None


def resolved_wildcard(rule: dict[str, Any], region: str = "us-east-1") -> str:
    """The rule's stack-set-arn wildcard, as CloudFormation resolves it in ``region`` with
    the hub's StackSet name."""
    [condition] = rule["EventPattern"]["detail"]["stack-set-arn"]
    assert set(condition) == {"wildcard"}
    text: str = condition["wildcard"]["Fn::Sub"]
    for name, value in {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "MemberStackSetName": STACK_SET,
    }.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, text
    return text


def stack_set_arn(account: str, stack_set_id: str = STACK_SET_ID, region: str = "us-east-1") -> str:
    return f"arn:aws:cloudformation:{region}:{account}:stackset/{stack_set_id}"


def test_the_management_template_holds_exactly_a_rule_and_its_role(
    management: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert {name: r["Type"] for name, r in resources.items()} == MANAGEMENT_RESOURCES
    assert not {"Outputs", "Conditions", "Transform", "Mappings"} & set(management)
    for resource in resources.values():
        assert set(resource) == {"Type", "Properties"}  # no condition, no DependsOn, ...
    # Two parameters, both from the hub's outputs, neither with a default to forget
    assert set(management["Parameters"]) == {"HubEventBusArn", "MemberStackSetName"}
    for parameter in management["Parameters"].values():
        assert parameter["Type"] == "String" and "Default" not in parameter
    assert set(load_template()["Outputs"]) >= set(management["Parameters"])


def test_the_role_may_only_put_events_on_the_hub_bus(resources: dict[str, Any]) -> None:
    role = resources["ForwardStackSetEventsRole"]["Properties"]
    assert not {"ManagedPolicyArns", "RoleName", "PermissionsBoundary"} & set(role)
    # Trusted by EventBridge of this (the management) account only: the confused deputy
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnEquals": {
                "aws:SourceArn": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${Rule}",
                        {"Rule": BUS_NAME},
                    ]
                }
            },
        },
    }
    # One grant: PutEvents, on the hub's bus, nothing else
    [policy] = role["Policies"]
    [statement] = as_list(policy["PolicyDocument"]["Statement"])
    assert set(statement) == {"Sid", "Effect", "Action", "Resource"}
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["events:PutEvents"]
    assert statement["Resource"] == {"Ref": "HubEventBusArn"}


def test_the_rule_forwards_to_the_hub_bus_as_it_is(resources: dict[str, Any]) -> None:
    rule = resources["ForwardStackSetInstancesRule"]["Properties"]
    assert "EventBusName" not in rule  # the default bus, where CloudFormation reports
    assert rule["State"] == "ENABLED"
    # to the hub's bus, through the role, the event unchanged: the hub's rule reads it
    assert rule["Targets"] == [
        {
            "Id": "HubEventBus",
            "Arn": {"Ref": "HubEventBusArn"},
            "RoleArn": {"Fn::GetAtt": ["ForwardStackSetEventsRole", "Arn"]},
        }
    ]


@pytest.mark.parametrize("hub_rule", ["NewMemberAccountRule", "HubNewMemberAccountRule"])
def test_the_rule_forwards_what_the_hubs_rules_act_on(
    resources: dict[str, Any], hub_rule: str
) -> None:
    mine = resources["ForwardStackSetInstancesRule"]["Properties"]["EventPattern"]
    hub = load_template()["Resources"][hub_rule]["Properties"]["EventPattern"]
    # The same events, by source, type and status; the StackSet, by name here and by
    # id at the hub (what each knows)
    assert set(mine) == set(hub) == {"source", "detail-type", "detail"}
    assert mine["source"] == hub["source"] == ["aws.cloudformation"]
    assert mine["detail-type"] == hub["detail-type"]
    assert mine["detail-type"] == ["CloudFormation StackSet StackInstance Status Change"]
    assert set(mine["detail"]) == set(hub["detail"]) == {"stack-set-arn", "status-details"}
    assert mine["detail"]["status-details"] == hub["detail"]["status-details"]
    assert mine["detail"]["status-details"] == {
        "status": ["CURRENT"],
        "detailed-status": ["SUCCEEDED"],
    }


def test_the_pattern_matches_the_hubs_stack_set_only(resources: dict[str, Any]) -> None:
    rule = resources["ForwardStackSetInstancesRule"]["Properties"]
    pattern = resolved_wildcard(rule)
    # The hub's StackSet, whichever account its ARN names (AWS does not document which)
    assert wildcard_matches(pattern, stack_set_arn(MANAGEMENT))
    assert wildcard_matches(pattern, stack_set_arn(HUB))
    # Not another StackSet, whose name begins or ends like it
    for other in (
        "someone-elses:8f14e45f",
        f"{STACK_SET}-copy:8f14e45f",
        f"x{STACK_SET}:8f14e45f",
        f"x-{STACK_SET}:8f14e45f",
        STACK_SET,  # no id: not a StackSet ARN
    ):
        assert not wildcard_matches(pattern, stack_set_arn(MANAGEMENT, other)), other
    # Not a StackSet of that name in another region (the template goes in the hub's)
    assert not wildcard_matches(pattern, stack_set_arn(MANAGEMENT, region="eu-west-1"))
    # Not a stack, nor another service's ARN carrying the name
    assert not wildcard_matches(
        pattern, f"arn:aws:cloudformation:us-east-1:{MANAGEMENT}:stack/{STACK_SET}:x"
    )
    # The sample instance event's StackSet is the hub's (tests of the hub use it)
    sample = json.loads(
        (MANAGEMENT_TEMPLATE.parents[1] / "events" / "stackset_instance_current.json").read_text()
    )
    assert wildcard_matches(pattern, sample["detail"]["stack-set-arn"])


def test_the_parameters_cannot_widen_the_rule_or_the_grant(management: dict[str, Any]) -> None:
    name = management["Parameters"]["MemberStackSetName"]["AllowedPattern"]
    assert re.fullmatch(name, STACK_SET)
    assert re.fullmatch(name, "a" * 128) and not re.fullmatch(name, "a" * 129)
    # no wildcard, no id, no ARN: only a StackSet's name
    for wider in ("*", "ses-*", STACK_SET_ID, stack_set_arn(MANAGEMENT), "", "1abc", "a b"):
        assert not re.fullmatch(name, wider), wider
    bus = management["Parameters"]["HubEventBusArn"]["AllowedPattern"]
    hub_bus = f"arn:aws:events:us-east-1:{HUB}:event-bus/ses-pool-enforcer-hub"
    assert re.fullmatch(bus, hub_bus)
    for wider in ("*", f"arn:aws:events:us-east-1:{HUB}:event-bus/*", "arn:aws:events:*"):
        assert not re.fullmatch(bus, wider), wider


def test_cfn_lint_finds_nothing_in_the_management_template() -> None:
    matches = lint_file(MANAGEMENT_TEMPLATE)
    assert not matches, "\n".join(str(match) for match in matches)
