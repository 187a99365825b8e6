"""templates/member.yaml, the StackSet the hub deploys to every member account: exactly
three resources, the hub's event pattern, and no trust or grant wider than the hub's
functions need. Last, the real template deployed as a service-managed StackSet on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cfnlint.api import lint_file
from moto import mock_aws

from tests.infrastructure.test_template import (
    EXPECTED_GRANTS,
    MEMBER_TEMPLATE,
    Grants,
    as_list,
    load,
    load_template,
    merge,
)

# The hub's SES grants (tests/infrastructure/test_template.py) spelled for a member: the
# member's own account, any of the member regions (the role is global; each call is held
# to MemberRegions by aws:RequestedRegion).
HUB_SES = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:"
MEMBER_SES = "arn:${AWS::Partition}:ses:*:${AWS::AccountId}:"
IN_MEMBER_REGIONS = {"StringEquals": {"aws:RequestedRegion": {"Ref": "MemberRegions"}}}
MEMBER_RESOURCES = {
    "ForwardToHubRole": "AWS::IAM::Role",
    "ForwardSesChangesRule": "AWS::Events::Rule",
    "MemberRole": "AWS::IAM::Role",
}

# The hub bus's name, from its ARN: it names this template's rule (tests/infrastructure/
# test_service_principals evaluates the trust against the rule's ARN).
BUS_NAME = {"Fn::Select": [1, {"Fn::Split": [":event-bus/", {"Ref": "HubEventBusArn"}]}]}


def load_member() -> dict[str, Any]:
    return load(MEMBER_TEMPLATE)


@pytest.fixture
def member() -> dict[str, Any]:
    return load_member()


@pytest.fixture
def resources(member: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = member["Resources"]
    return found


def policy_statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from as_list(policy["PolicyDocument"]["Statement"])


def hub_ses_grants() -> Grants:
    """The SES actions of the hub's event and sweep functions, and where."""
    union = merge(EXPECTED_GRANTS["EventFunctionRole"], EXPECTED_GRANTS["SweepFunctionRole"])
    return {
        action: frozenset(r.replace(HUB_SES, MEMBER_SES) for r in where)
        for action, where in union.items()
        if action.startswith("ses:")
    }


def test_the_member_template_holds_exactly_its_three_resources(
    member: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert {name: r["Type"] for name, r in resources.items()} == MEMBER_RESOURCES
    assert "Outputs" not in member and "Transform" not in member
    # IAM is global: the named role exists once per account, in one region's instance.
    assert resources["MemberRole"]["Condition"] == "HoldsMemberRole"
    assert member["Conditions"] == {
        "HoldsMemberRole": {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "MemberRoleRegion"}]}
    }
    assert "Condition" not in resources["ForwardToHubRole"]
    assert "Condition" not in resources["ForwardSesChangesRule"]


def test_the_member_forwards_exactly_the_hubs_event_pattern(resources: dict[str, Any]) -> None:
    hub = load_template()["Resources"]
    rule = resources["ForwardSesChangesRule"]["Properties"]
    assert rule["EventPattern"] == hub["SesChangeRule"]["Properties"]["EventPattern"]
    assert rule["EventPattern"] == hub["HubSesChangeRule"]["Properties"]["EventPattern"]
    assert "EventBusName" not in rule  # the default bus, where CloudTrail delivers
    assert rule["State"] == "ENABLED"
    # to the hub's bus, with the role EventBridge needs for another account or region
    assert rule["Targets"] == [
        {
            "Id": "HubEventBus",
            "Arn": {"Ref": "HubEventBusArn"},
            "RoleArn": {"Fn::GetAtt": ["ForwardToHubRole", "Arn"]},
        }
    ]


def test_the_forwarding_role_may_only_put_events_on_the_hub_bus(
    resources: dict[str, Any],
) -> None:
    role = resources["ForwardToHubRole"]["Properties"]
    assert "ManagedPolicyArns" not in role and "RoleName" not in role
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        # EventBridge of this account only, for its rule only (the confused deputy)
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
    [statement] = policy_statements(resources["ForwardToHubRole"])
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["events:PutEvents"]
    assert statement["Resource"] == {"Ref": "HubEventBusArn"}


def test_the_member_role_trusts_only_the_hub_function_roles(
    member: dict[str, Any], resources: dict[str, Any]
) -> None:
    role = resources["MemberRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    assert "ManagedPolicyArns" not in role and "PermissionsBoundary" not in role
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    # No account root, no "*", no service: the two role ARNs the hub passes, nothing else.
    assert trust == {
        "Effect": "Allow",
        "Principal": {"AWS": {"Ref": "HubRoleArns"}},
        "Action": "sts:AssumeRole",
    }
    assert member["Parameters"]["HubRoleArns"]["Type"] == "CommaDelimitedList"
    assert "Default" not in member["Parameters"]["HubRoleArns"]


def test_the_member_role_grants_exactly_the_ses_actions_the_hub_functions_call(
    resources: dict[str, Any],
) -> None:
    granted: dict[str, set[str]] = {}
    for statement in policy_statements(resources["MemberRole"]):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        # held to the member regions, whatever the resource
        assert statement["Condition"] == IN_MEMBER_REGIONS, statement.get("Sid")
        for action in as_list(statement["Action"]):
            assert action.startswith("ses:") and "*" not in action, action
            for resource in as_list(statement["Resource"]):
                where = resource if isinstance(resource, str) else resource["Fn::Sub"]
                granted.setdefault(action, set()).add(where)
    assert {a: frozenset(r) for a, r in granted.items()} == hub_ses_grants()
    assert set(granted) == {
        "ses:ListConfigurationSets", "ses:ListDedicatedIpPools", "ses:ListEmailIdentities",
        "ses:GetConfigurationSet", "ses:PutConfigurationSetDeliveryOptions",
        "ses:GetDedicatedIpPool", "ses:GetDedicatedIps",
        "ses:GetEmailIdentity", "ses:PutEmailIdentityConfigurationSetAttributes",
        "ses:ListTenants", "ses:ListTenantResources", "ses:ListResourceTenants",
        "ses:GetTenant",
    }  # fmt: skip


def test_the_member_role_acts_on_this_accounts_ses_only() -> None:
    # The only "*" is on the list actions, which support no resource-level permission.
    for action, where in hub_ses_grants().items():
        for resource in where:
            assert resource == "*" or resource.startswith(MEMBER_SES), (action, resource)
            if resource == "*":
                assert action.startswith("ses:List"), action


def test_cfn_lint_finds_nothing_in_the_member_template() -> None:
    matches = lint_file(MEMBER_TEMPLATE)
    assert not matches, "\n".join(str(match) for match in matches)


# ---------------------------------------------------------------- deployed on moto

HUB_ACCOUNT = "123456789012"
HUB_ROLES = [f"arn:aws:iam::{HUB_ACCOUNT}:role/event", f"arn:aws:iam::{HUB_ACCOUNT}:role/sweep"]
HUB_BUS = f"arn:aws:events:us-east-1:{HUB_ACCOUNT}:event-bus/ses-pool-enforcer-hub"
ROLE_NAME = "ses-pool-enforcer-member"
REGIONS = ["us-east-1", "eu-west-1"]


def as_account(account: str) -> dict[str, str]:
    """Credentials whose calls land in ``account`` (moto: any role name will do)."""
    credentials = boto3.client("sts", "us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/x", RoleSessionName="test"
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


@mock_aws
def test_the_member_stack_set_governs_every_account_of_the_ou_in_every_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    # Given an organization with an OU of two accounts
    organizations = boto3.client("organizations", "us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="mail")
    ou = unit["OrganizationalUnit"]["Id"]
    members = []
    for name in ("mail-eu", "mail-us"):
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account = status["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        members.append(account)

    # When the real member template is deployed as the hub deploys it: a service-managed
    # StackSet with the hub's parameters, to the OU, in two regions. (moto deploys to the
    # accounts present when the instances are created: it does not auto-deploy to an
    # account added later, which real StackSets do with AutoDeployment. Targeting the root,
    # moto also deploys to the management account, which real service-managed StackSets
    # never do; this test targets an OU.)
    cloudformation = boto3.client("cloudformation", "us-east-1")
    cloudformation.create_stack_set(
        StackSetName="ses-pool-enforcer-member",
        TemplateBody=MEMBER_TEMPLATE.read_text(),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "HubEventBusArn", "ParameterValue": HUB_BUS},
            {"ParameterKey": "HubRoleArns", "ParameterValue": ",".join(HUB_ROLES)},
            {"ParameterKey": "MemberRoleName", "ParameterValue": ROLE_NAME},
            {"ParameterKey": "MemberRegions", "ParameterValue": ",".join(REGIONS)},
            {"ParameterKey": "MemberRoleRegion", "ParameterValue": REGIONS[0]},
        ],
    )
    operation = cloudformation.create_stack_instances(
        StackSetName="ses-pool-enforcer-member",
        DeploymentTargets={"OrganizationalUnitIds": [ou]},
        Regions=REGIONS,
    )

    # Then every instance succeeded, one per member account and region
    status = cloudformation.describe_stack_set_operation(
        StackSetName="ses-pool-enforcer-member", OperationId=operation["OperationId"]
    )["StackSetOperation"]["Status"]
    assert status == "SUCCEEDED"
    instances = cloudformation.list_stack_instances(StackSetName="ses-pool-enforcer-member")
    assert sorted((i["Account"], i["Region"], i["Status"]) for i in instances["Summaries"]) == [
        (account, region, "CURRENT") for account in sorted(members) for region in sorted(REGIONS)
    ]
    for account in members:
        credentials = as_account(account)
        # and each account has the one member role, trusting the hub's two roles only
        iam = boto3.client("iam", "us-east-1", **credentials)
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert sorted(as_list(trust["Principal"]["AWS"])) == sorted(HUB_ROLES)
        names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
        assert names.count(ROLE_NAME) == 1
        # and in each region a rule forwarding the hub's pattern to the hub's bus
        for region in REGIONS:
            events = boto3.client("events", region, **credentials)
            [rule] = events.list_rules()["Rules"]
            pattern = load_template()["Resources"]["SesChangeRule"]["Properties"]["EventPattern"]
            assert json.loads(rule["EventPattern"]) == pattern
            [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            assert target["Arn"] == HUB_BUS
            assert target["RoleArn"].startswith(f"arn:aws:iam::{account}:role/")
