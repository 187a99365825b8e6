"""template.yaml against the code it deploys: least privilege, encryption at rest, and no
drift from the package (settings, CloudTrail event names, metric names) or from
``local_aws`` (table schemas)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml

from local_aws import replay, stack
from ses_pool_enforcer import lanes, sweep
from ses_pool_enforcer.adapters.inventory import EXPECTED_POOL_INDEX, IDENTITIES, LANE_INDEX
from ses_pool_enforcer.config import Settings, Switch
from ses_pool_enforcer.events import EVENT_TARGETS, SES_EVENT_SOURCE
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.observability import NAMESPACE, SERVICE
from ses_pool_enforcer.policy import Mode
from tests import reference

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

Grants = dict[str, frozenset[str]]  # IAM action -> resources, as `resource_name` spells them


@cache
def load(path: Path) -> dict[str, Any]:
    """A template as data. cfn-lint's loader reads the short tags (!Ref, !Sub, !GetAtt)
    into their long form; the JSON round trip leaves plain dicts, lists and strings."""
    data: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return data


def load_template() -> dict[str, Any]:
    return load(TEMPLATE)


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: res for name, res in resources.items() if res["Type"] == kind}


def resource_name(value: Any) -> str:
    """A policy resource as one comparable string: "*", a Ref'd logical id, "Name.Attr"
    for GetAtt, or the text of a Sub."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return att if isinstance(att, str) else ".".join(att)
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        assert isinstance(sub, str), f"use the one-string form of Fn::Sub in policies: {sub}"
        return sub
    raise AssertionError(f"unexpected resource expression {value}")


# ---------------------------------------------------------------- IAM, declared as data

SES = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:"
CONFIGURATION_SETS = SES + "configuration-set/*"
POOLS = SES + "dedicated-ip-pool/*"
IDENTITIES_ARN = SES + "identity/*"
TENANTS = SES + "tenant/*"
POLICY_PARAMETER = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${PolicyParameterName}"
)
INVENTORY_INDEX = "${InventoryTable.Arn}/index/" + stack.INVENTORY_INDEX
IDENTITY_INDEX = "${IdentityTable.Arn}/index/" + stack.IDENTITY_INDEX
INVENTORY_LANE_INDEX = "${InventoryTable.Arn}/index/" + stack.LANE_INDEX
IDENTITY_LANE_INDEX = "${IdentityTable.Arn}/index/" + stack.LANE_INDEX
REPORTS = "${ReportBucket.Arn}/reports/*"
LANE_RESULTS = "${ReportBucket.Arn}/reports/lane-results/*"
SWEEP_VIEWS = "${ReportBucket.Arn}/sweeps/*"
STATES = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
SWEEP_MACHINE = STATES + "stateMachine:${AWS::StackName}-sweep"
SWEEP_CHILDREN = STATES + "execution:${AWS::StackName}-sweep/*"

# Actions that support no resource-level permission: the only ones granted on "*".
SES_LISTS = (
    "ses:ListConfigurationSets",
    "ses:ListDedicatedIpPools",
    "ses:ListEmailIdentities",
    "ses:ListTenants",  # TenantDirectory: the tenants' sending status
)
LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
XRAY = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
CONFIG_EVALUATIONS = ("config:PutEvaluations",)
# adapters/organizations.Organization: the account's OUs, when the policy names some.
ORGANIZATION_PARENTS = ("organizations:ListParents",)
# A hub's sweep walks the member OUs down to their accounts: the OU and root ARNs hold the
# management account's id, unknown to a delegated administrator's stack.
ORGANIZATION_WALK = (
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
)
RESOURCE_STAR_ONLY = frozenset(
    (
        *SES_LISTS,
        *LOG_DELIVERY,
        *XRAY,
        *CONFIG_EVALUATIONS,
        *ORGANIZATION_PARENTS,
        *ORGANIZATION_WALK,
    )
)


def on(resource: str, *actions: str) -> Grants:
    return {action: frozenset({resource}) for action in actions}


def merge(*parts: Grants) -> Grants:
    merged: dict[str, set[str]] = {}
    for part in parts:
        for action, where in part.items():
            merged.setdefault(action, set()).update(where)
    return {action: frozenset(where) for action, where in merged.items()}


# Reconciling one set, whichever entry point calls the reconciler.
RECONCILE = merge(
    # adapters/ses.py: Ses.get_configuration_set, Ses.reassign
    on(CONFIGURATION_SETS, "ses:GetConfigurationSet", "ses:PutConfigurationSetDeliveryOptions"),
    # PoolDirectory asks SES about a pool it has no fresh answer for (Ses.pool_exists).
    # ... and a pool's state for rules with pool_health (Ses.pool_state).
    on(POOLS, "ses:GetDedicatedIpPool", "ses:GetDedicatedIps"),
    # IAM authorises a request on every resource it names (the Service Authorization
    # Reference's resource types, tests/reference.py): a reassignment on the pool it
    # names too, an identity's default set on the set too.
    on(POOLS, "ses:PutConfigurationSetDeliveryOptions"),
    on(CONFIGURATION_SETS, "ses:PutEmailIdentityConfigurationSetAttributes"),
    on(POLICY_PARAMETER, "ssm:GetParameter"),  # policy_store.load_policy (Powertools)
    on("AlertTopic", "sns:Publish"),  # alerts.Alerts.publish
    on("AlertKey.Arn", "kms:GenerateDataKey", "kms:Decrypt"),  # ... to a KMS-encrypted topic
    on("AlertFallbackQueue.Arn", "sqs:SendMessage"),  # ... parked when SNS refuses
    # adapters/inventory.Inventory, for sets and for identities: claim (in a
    # transaction, authorised per item), fenced writes (UpdateItem), a vanished entry
    # deleted (DeleteItem), the item read before a move and a set looked up (GetItem)
    on("InventoryTable.Arn", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    on("IdentityTable.Arn", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    # adapters/ses.py: Ses.get_email_identity, Ses.set_default_configuration_set
    on(IDENTITIES_ARN, "ses:GetEmailIdentity", "ses:PutEmailIdentityConfigurationSetAttributes"),
    # adapters/budget.SharedBudget.reserve; adapters/state.note_view_changed (events)
    on("StateTable.Arn", "dynamodb:UpdateItem"),
    # adapters/work_queue.WorkQueue: work put back for later, a flapping hold's wake-up
    on("EventQueue.Arn", "sqs:SendMessage"),
    # adapters/organizations.Organization.ancestry: a policy naming organizational_units
    # (sts:GetCallerIdentity, its fallback for the account id, needs no grant)
    on("*", *ORGANIZATION_PARENTS),
)


# Every function runs as a role of its own, with no managed policy: SAM's
# AWSLambdaSQSQueueExecutionRole and basic execution role grant on every resource.
def running(function: str) -> Grants:
    return merge(
        on(f"{function}LogGroup.Arn", "logs:CreateLogStream", "logs:PutLogEvents"),
        on("*", "xray:PutTraceSegments", "xray:PutTelemetryRecords"),  # Tracing: Active
    )


EXPECTED_GRANTS: dict[str, Grants] = {
    "EventFunctionRole": merge(
        RECONCILE,
        running("EventFunction"),
        # the SQS event source mapping polls with the function's role
        on("EventQueue.Arn", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
        on(INVENTORY_INDEX, "dynamodb:Query"),  # Inventory.sets_expecting (pool fan-out)
        # TenantDirectory on the event path: one set's (or identity's) tenants, and their
        # sending status
        on(CONFIGURATION_SETS, "ses:ListResourceTenants"),
        on(IDENTITIES_ARN, "ses:ListResourceTenants"),
        on("*", "ses:ListTenants"),
        on(TENANTS, "ses:GetTenant"),  # Ses.tenant_status: a status ListTenants left out
        # Inventory.indexed: the identities a deleted set leaves without a default
        on(IDENTITY_INDEX, "dynamodb:Query"),
        # event_path.tenant_members (Inventory.rows): a deleted tenant's sets and
        # identities, this lane's by a scan, a member lane's by its index
        on("InventoryTable.Arn", "dynamodb:Scan"),
        on("IdentityTable.Arn", "dynamodb:Scan"),
        on(INVENTORY_LANE_INDEX, "dynamodb:Query"),
        on(IDENTITY_LANE_INDEX, "dynamodb:Query"),
    ),
    "SweepFunctionRole": merge(
        RECONCILE,
        running("SweepFunction"),
        # Ses.configuration_set_pages; PoolDirectory.listed (Ses.list_dedicated_pools);
        # TenantDirectory.listed (Ses.tenant_statuses, Ses.tenant_resources)
        on("*", *SES_LISTS),
        on(TENANTS, "ses:ListTenantResources", "ses:GetTenant"),
        # Inventory.rows, Inventory.remove_unseen, for sets and identities
        on("InventoryTable.Arn", "dynamodb:Scan"),
        on("IdentityTable.Arn", "dynamodb:Scan"),
        # the same for a member lane: its own entries, by lane (Inventory._items)
        on(INVENTORY_LANE_INDEX, "dynamodb:Query"),
        on(IDENTITY_LANE_INDEX, "dynamodb:Query"),
        # adapters/state.StateTable: the sweep's lock and checkpoint
        on("StateTable.Arn", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"),
        on(REPORTS, "s3:PutObject"),  # adapters/reports.ReportStore.store, put_lanes
        on(LANE_RESULTS, "s3:GetObject"),  # ReportStore.lane_results (the ResultWriter's)
        on(SWEEP_VIEWS, "s3:PutObject", "s3:GetObject"),  # ReportStore.keep_view, view
    ),
    "ConfigRuleFunctionRole": merge(
        running("ConfigRuleFunction"),
        on("InventoryTable.Arn", "dynamodb:Scan"),  # Inventory.rows
        on("*", *CONFIG_EVALUATIONS),  # adapters/config.ConfigEvaluations.put
    ),
    "SweepStateMachine": merge(
        on("*", *LOG_DELIVERY),  # execution logs to CloudWatch Logs
        # the Distributed Map: its children, its ItemReader, its ResultWriter
        on(SWEEP_MACHINE, "states:StartExecution"),
        on(SWEEP_CHILDREN, "states:DescribeExecution", "states:StopExecution"),
        on("${ReportBucket.Arn}/reports/lanes/*", "s3:GetObject"),
        on(
            LANE_RESULTS,
            "s3:PutObject",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:AbortMultipartUpload",
        ),
    ),
    # (a hub's, DeploysMembers) the new-account rule starts the sweep, and nothing else
    "NewMemberAccountRuleRole": on("SweepStateMachine", "states:StartExecution"),
    # the schedule's and the policy change's rules start the sweep, and nothing else
    "StartSweepRuleRole": on("SweepStateMachine", "states:StartExecution"),
}

SECURITY_HUB = "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:"
# BatchImportFindings on the account's default product only: findings of this account.
SECURITY_HUB_PRODUCT = SECURITY_HUB + "product/${AWS::AccountId}/default"
SECURITY_HUB_HUB = SECURITY_HUB + "hub/default"
IMPORT_FINDINGS = on(SECURITY_HUB_PRODUCT, "securityhub:BatchImportFindings")

# A hub acts in member accounts through the member role, by its name only (and only in
# accounts of the organization: the statement's condition, checked below), and names the
# member accounts in alerts and reports.
MEMBER_ROLES = "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"
ORGANIZATION_ACCOUNTS = "arn:${AWS::Partition}:organizations::*:account/${OrganizationId}/*"
ACT_IN_MEMBERS = merge(
    on(MEMBER_ROLES, "sts:AssumeRole"),
    on(ORGANIZATION_ACCOUNTS, "organizations:DescribeAccount"),
)

# An aggregator's ARN ends in an id Config generates, not its name: this account's and
# region's aggregators.
CONFIG_AGGREGATORS = (
    "arn:${AWS::Partition}:config:${AWS::Region}:${AWS::AccountId}:config-aggregator/*"
)

# Granted only when a deploy parameter turns an integration on: condition -> principal ->
# grants (Fn::If with AWS::NoValue: nothing at all when it is off).
CONDITIONAL_GRANTS: dict[str, dict[str, Grants]] = {
    "HasSecurityHub": {
        # adapters/security_hub.SecurityHubFindings.flush: findings of changed sets
        "EventFunctionRole": IMPORT_FINDINGS,
        "SweepFunctionRole": merge(
            IMPORT_FINDINGS,
            # SecurityHubFindings.open_findings: the finish closes stale findings
            on(SECURITY_HUB_HUB, "securityhub:GetFindings"),
        ),
    },
    # drift.py: the Config aggregator's recorded sets (adapters/aggregator.Aggregator)
    "HasDriftCheck": {
        "SweepFunctionRole": on(CONFIG_AGGREGATORS, "config:SelectAggregateResourceConfig")
    },
    "IsHub": {
        # lanes.departed: a member role refused, has the account left the member OUs?
        "EventFunctionRole": merge(ACT_IN_MEMBERS, on("*", *ORGANIZATION_WALK)),
        # the sweep also finds the accounts of the member OUs, and the lanes the state
        # table keeps items for, whose entries it removes once they are governed no more
        # (lanes.prune_departed); the Config rule's function reads only the inventory and
        # gets nothing
        "SweepFunctionRole": merge(
            ACT_IN_MEMBERS,
            on("*", *ORGANIZATION_WALK),
            on("StateTable.Arn", "dynamodb:Scan"),
            on("InventoryTable.Arn", "dynamodb:BatchWriteItem"),
            on("IdentityTable.Arn", "dynamodb:BatchWriteItem"),
        ),
    },
}

# SAM policy templates (expanded by SAM into scoped statements): allowed only as listed.
EXPECTED_POLICY_TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "SweepStateMachine": [{"LambdaInvokePolicy": {"FunctionName": {"Ref": "SweepFunction"}}}],
}

PRINCIPAL_TYPES = {
    "AWS::Serverless::Function",
    "AWS::Serverless::StateMachine",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
}


def policy_entries(resource: dict[str, Any]) -> list[Any]:
    props = resource.get("Properties", {})
    if resource["Type"] == "AWS::IAM::Role":
        return [entry["PolicyDocument"] for entry in props.get("Policies", [])]
    if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return [props["PolicyDocument"]]
    return as_list(props.get("Policies", []))


NO_VALUE = {"Ref": "AWS::NoValue"}


def conditional(statement: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A statement and the condition it is granted under (None: always). A conditional
    statement is ``Fn::If`` that grants nothing when its condition is false."""
    if "Fn::If" not in statement:
        return None, statement
    condition, when_true, when_false = statement["Fn::If"]
    assert when_false == NO_VALUE, f"{condition}: the false branch must be AWS::NoValue"
    return str(condition), when_true


def statements(resource: dict[str, Any], condition: str | None = None) -> list[dict[str, Any]]:
    """The statements granted under ``condition`` (None: the unconditional ones)."""
    return [
        statement
        for entry in policy_entries(resource)
        if isinstance(entry, dict) and "Statement" in entry
        for when, statement in map(conditional, as_list(entry["Statement"]))
        if when == condition
    ]


def conditions(resource: dict[str, Any]) -> set[str]:
    return {
        when
        for entry in policy_entries(resource)
        if isinstance(entry, dict) and "Statement" in entry
        for when, _ in map(conditional, as_list(entry["Statement"]))
        if when is not None
    }


def principals(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Whatever holds permissions: roles, and functions or state machines SAM makes a
    role for (a function given a Role holds none of its own)."""
    for name, resource in resources.items():
        if resource["Type"] in PRINCIPAL_TYPES and "Role" not in resource.get("Properties", {}):
            yield name, resource


@pytest.mark.parametrize("function", ["EventFunction", "SweepFunction", "ConfigRuleFunction"])
def test_each_function_runs_as_its_own_role_without_sam_policies(
    resources: dict[str, Any], function: str
) -> None:
    props = resources[function]["Properties"]
    assert props["Role"] == {"Fn::GetAtt": [f"{function}Role", "Arn"]}
    assert "Policies" not in props
    role = resources[f"{function}Role"]["Properties"]
    assert "ManagedPolicyArns" not in role
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}


def all_statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every principal, whatever condition it is granted under."""
    for name, resource in principals(resources):
        for condition in (None, *sorted(conditions(resource))):
            for statement in statements(resource, condition):
                yield name, statement


def granted(resource: dict[str, Any], condition: str | None = None) -> Grants:
    """What ``resource`` grants under ``condition`` (None: unconditionally)."""
    return merge(
        *(
            {
                action: frozenset(resource_name(r) for r in as_list(statement["Resource"]))
                for action in as_list(statement["Action"])
            }
            for statement in statements(resource, condition)
            if statement["Effect"] == "Allow"
        )
    )


def everything_granted(resource: dict[str, Any]) -> Grants:
    return merge(*(granted(resource, c) for c in (None, *sorted(conditions(resource)))))


def test_every_principal_has_declared_grants(resources: dict[str, Any]) -> None:
    assert {name for name, _ in principals(resources)} == set(EXPECTED_GRANTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_GRANTS))
def test_each_principal_is_granted_exactly_what_its_code_needs(
    resources: dict[str, Any], name: str
) -> None:
    # Given what the code calls, When reading the template's grants
    expected = EXPECTED_GRANTS[name]
    actual = granted(resources[name])
    # Then nothing is missing and nothing is extra, action by action and resource by resource
    missing = {a: sorted(r - actual.get(a, frozenset())) for a, r in expected.items()}
    extra = {a: sorted(r - expected.get(a, frozenset())) for a, r in actual.items()}
    assert {a: r for a, r in missing.items() if r} == {}, "missing grants"
    assert {a: r for a, r in extra.items() if r} == {}, "grants the code does not need"


@pytest.mark.parametrize("name", sorted(EXPECTED_GRANTS))
def test_conditional_grants_are_exactly_what_the_integration_needs(
    resources: dict[str, Any], name: str
) -> None:
    # Given the statements a principal holds only under a condition
    resource = resources[name]
    expected = {c: g[name] for c, g in CONDITIONAL_GRANTS.items() if name in g}
    # Then each condition grants exactly what its integration's code calls, and no other
    # condition grants anything
    assert {c: granted(resource, c) for c in conditions(resource)} == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_GRANTS))
def test_no_managed_policy_and_only_declared_policy_templates(
    resources: dict[str, Any], name: str
) -> None:
    entries = policy_entries(resources[name])
    assert not [e for e in entries if isinstance(e, str)], "no managed or named policies"
    templates = [e for e in entries if isinstance(e, dict) and "Statement" not in e]
    assert templates == EXPECTED_POLICY_TEMPLATES.get(name, [])


def test_no_action_wildcards(resources: dict[str, Any]) -> None:
    for name, statement in all_statements(resources):
        assert statement["Effect"] == "Allow", name
        assert "NotAction" not in statement and "NotResource" not in statement, name
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{name} is granted the wildcard action {action}"


def test_resource_wildcard_only_for_actions_without_resource_level_permissions(
    resources: dict[str, Any],
) -> None:
    for name, resource in principals(resources):
        for action, where in everything_granted(resource).items():
            if "*" in where:
                assert action in RESOURCE_STAR_ONLY, f"{name}: {action} on *"


def test_the_actions_granted_on_everything_support_no_narrower_grant() -> None:
    # The Service Authorization Reference (its pinned copy, tests/reference.py): none of
    # them has a resource type that a grant must name. The Organizations walk has optional
    # ones (the account, OU or root asked about), whose ARNs hold the management
    # account's id, which a delegated administrator's stack does not know.
    for action in RESOURCE_STAR_ONLY:
        types = reference.resource_types(action)
        assert not [t.name for t in types if t.required], action
        if types:
            assert action in (*ORGANIZATION_PARENTS, *ORGANIZATION_WALK), (action, types)


# The only SES writes, and what each may touch: sets and identities of this account and
# region, and the pool or set each names (IAM authorises a write on those too).
SES_WRITES = {
    "ses:PutConfigurationSetDeliveryOptions": {CONFIGURATION_SETS, POOLS},
    "ses:PutEmailIdentityConfigurationSetAttributes": {IDENTITIES_ARN, CONFIGURATION_SETS},
}


def test_ses_writes_only_on_sets_and_identities_of_this_account_and_region(
    resources: dict[str, Any],
) -> None:
    assert "${AWS::Region}:${AWS::AccountId}:configuration-set/" in CONFIGURATION_SETS
    assert "${AWS::Region}:${AWS::AccountId}:identity/" in IDENTITIES_ARN
    assert "${AWS::Region}:${AWS::AccountId}:dedicated-ip-pool/" in POOLS
    for name, resource in principals(resources):
        for action, where in everything_granted(resource).items():
            service, verb = action.split(":", 1)
            if service == "ses" and not verb.startswith(("Get", "List", "Describe")):
                assert where == SES_WRITES[action], f"{name}: {action} on {sorted(where)}"


def test_ssm_reads_only_the_policy_parameter(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # The ARN is "...:parameter" + name, which holds only for names that start with "/".
    parameter = template["Parameters"]["PolicyParameterName"]
    assert parameter["Default"].startswith("/")
    assert parameter["AllowedPattern"].startswith("^/")
    for name, resource in principals(resources):
        for action, where in everything_granted(resource).items():
            if action.startswith("ssm:"):
                assert action == "ssm:GetParameter", name
                assert where == {POLICY_PARAMETER}, name


# ---------------------------------------------------------------- encryption, exposure


def test_topics_queues_tables_and_buckets_are_encrypted(resources: dict[str, Any]) -> None:
    for name, topic in of_type(resources, "AWS::SNS::Topic").items():
        assert topic["Properties"].get("KmsMasterKeyId"), name
    for name, queue in of_type(resources, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), name
    for name, table in of_type(resources, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, name
    for name, bucket in of_type(resources, "AWS::S3::Bucket").items():
        rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithms = {r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules}
        assert algorithms and algorithms <= {"AES256", "aws:kms", "aws:kms:dsse"}, name


def test_tables_have_point_in_time_recovery(resources: dict[str, Any]) -> None:
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert set(tables) == {"InventoryTable", "IdentityTable", "StateTable"}
    for name, table in tables.items():
        pitr = table["Properties"]["PointInTimeRecoverySpecification"]
        assert pitr["PointInTimeRecoveryEnabled"] is True, name


def test_buckets_are_private_and_refuse_plain_http(resources: dict[str, Any]) -> None:
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
        for p in of_type(resources, "AWS::S3::BucketPolicy").values()
    }
    for name, bucket in of_type(resources, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert "AccessControl" not in props, name
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, name
        assert len(props["PublicAccessBlockConfiguration"]) == 4, name
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        denies_http = [
            s
            for s in policies[name]["Statement"]
            if s["Effect"] == "Deny"
            and s["Principal"] == "*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies_http, f"{name} accepts requests without TLS"


def test_alarms_can_publish_to_the_encrypted_topic(resources: dict[str, Any]) -> None:
    topic = resources["AlertTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertKey"}
    key = resources["AlertKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    for_cloudwatch = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if "cloudwatch.amazonaws.com" in as_list(s["Principal"].get("Service", []))
    ]
    assert {a for s in for_cloudwatch for a in as_list(s["Action"])} >= {
        "kms:Decrypt",
        "kms:GenerateDataKey*",
    }
    # ... for this account's alarms of this region only (the confused deputy; evaluated
    # in test_service_principals)
    alarms = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    assert [s["Condition"] for s in for_cloudwatch] == [
        {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": {"Fn::Sub": alarms}},
        }
    ]
    topic_policy = resources["AlertTopicPolicy"]["Properties"]
    assert topic_policy["Topics"] == [{"Ref": "AlertTopic"}]
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and s["Action"] == "sns:Publish"
        for s in topic_policy["PolicyDocument"]["Statement"]
    )


def test_every_alarm_notifies_the_alert_topic(resources: dict[str, Any]) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    watched = set()
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}], name
        metrics = [props] + [
            m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m
        ]
        for metric in metrics:
            watched |= {
                (metric["MetricName"], resource_name(d["Value"]))
                for d in metric.get("Dimensions", [])
            }
    assert watched >= {
        ("ApproximateNumberOfMessagesVisible", "EventDeadLetterQueue.QueueName"),
        ("ApproximateNumberOfMessagesVisible", "AlertFallbackQueue.QueueName"),
        ("ExecutionsFailed", "SweepStateMachine"),
        ("Errors", "EventFunction"),
    }


# ---------------------------------------------------------------- the event path


def test_rule_matches_exactly_the_events_the_code_reads(resources: dict[str, Any]) -> None:
    pattern = resources["SesChangeRule"]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ses"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    detail = pattern["detail"]
    assert detail["eventSource"] == [SES_EVENT_SOURCE]
    assert sorted(detail["eventName"]) == sorted(EVENT_TARGETS)
    # A failed call changed nothing: it is not delivered at all.
    assert detail["errorCode"] == [{"exists": False}]


def test_rule_delivers_to_the_event_queue_and_parks_what_it_cannot(
    resources: dict[str, Any],
) -> None:
    (target,) = resources["SesChangeRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    allowed = {
        resource_name(s["Resource"]): s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for policy in of_type(resources, "AWS::SQS::QueuePolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "events.amazonaws.com"}
    }
    # this account's rule, and the hub's rule only in a hub (nothing at all otherwise)
    rules = [
        {"Fn::GetAtt": ["SesChangeRule", "Arn"]},
        {"Fn::If": ["IsHub", {"Fn::GetAtt": ["HubSesChangeRule", "Arn"]}, NO_VALUE]},
    ]
    assert allowed == {"EventQueue.Arn": rules, "EventDeadLetterQueue.Arn": rules}


def test_event_function_consumes_the_queue_with_partial_batch_failures(
    resources: dict[str, Any],
) -> None:
    function = resources["EventFunction"]["Properties"]
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS"
    source = event["Properties"]
    assert source["Queue"] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
    # The handler answers with batchItemFailures (process_partial_response); without
    # this setting Lambda ignores the answer and deletes the failed messages too.
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BatchSize"] <= 10
    assert source["ScalingConfig"]["MaximumConcurrency"] >= 2  # the minimum Lambda accepts


def test_event_queue_outlasts_its_consumer_and_keeps_failures(resources: dict[str, Any]) -> None:
    queue = resources["EventQueue"]["Properties"]
    dead_letters = resources["EventDeadLetterQueue"]["Properties"]
    # Lambda's advice for SQS sources: visibility at least six times the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * resources["EventFunction"]["Properties"]["Timeout"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] >= 3
    # A standard queue's message expires by its first enqueue time, in the DLQ too.
    assert dead_letters["MessageRetentionPeriod"] >= queue.get("MessageRetentionPeriod", 345600)


# ---------------------------------------------------------------- the sweep


def test_sweep_runs_on_schedule_and_on_policy_change(resources: dict[str, Any]) -> None:
    machine = resources["SweepStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"] == {
        "SweepFunctionArn": {"Fn::GetAtt": ["SweepFunction", "Arn"]},
        "ReportBucketName": {"Ref": "ReportBucket"},
    }
    # its name is what its own grant (the Distributed Map's children) names
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-sweep"}
    # Rules of their own, not SAM events (whose roles would trust any rule): each starts
    # the state machine with StartSweepRuleRole, whose trust names it
    assert "Events" not in machine
    schedule = resources["SweepScheduleRule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert schedule["Name"] == {"Fn::Sub": "${AWS::StackName}-schedule"}
    change = resources["PolicyChangeRule"]["Properties"]
    assert change["EventPattern"] == {
        "source": ["aws.ssm"],
        "detail-type": ["Parameter Store Change"],
        "detail": {"name": [{"Ref": "PolicyParameterName"}], "operation": ["Create", "Update"]},
    }
    assert change["Name"] == {"Fn::Sub": "${AWS::StackName}-policy"}
    for rule, trigger in ((schedule, "schedule"), (change, "policy-change")):
        assert "EventBusName" not in rule and rule["State"] == "ENABLED"
        [target] = rule["Targets"]
        assert target["Arn"] == {"Ref": "SweepStateMachine"}
        assert target["RoleArn"] == {"Fn::GetAtt": ["StartSweepRuleRole", "Arn"]}
        assert json.loads(target["Input"]) == {"trigger": trigger}


# ---------------------------------------------------------------- drift from local_aws


def key_schema(attribute: str) -> list[dict[str, str]]:
    return [{"AttributeName": attribute, "KeyType": "HASH"}]


def assert_lane_index(index: dict[str, Any]) -> None:
    # A member lane's finish reads its own entries, whole (rows and pruning), by lane.
    assert index["IndexName"] == stack.LANE_INDEX == LANE_INDEX
    assert index["KeySchema"] == key_schema(stack.LANE_INDEX_KEY)
    assert index["Projection"] == {"ProjectionType": "ALL"}


def test_inventory_table_matches_the_local_mirror(resources: dict[str, Any]) -> None:
    table = resources["InventoryTable"]
    props = table["Properties"]
    assert props["KeySchema"] == key_schema(stack.INVENTORY_KEY)
    index, by_lane = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == stack.INVENTORY_INDEX == EXPECTED_POOL_INDEX
    assert index["KeySchema"] == key_schema(stack.INVENTORY_INDEX_KEY)
    # Inventory.sets_expecting reads only the table key from the index.
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert_lane_index(by_lane)
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        stack.INVENTORY_KEY: "S",
        stack.INVENTORY_INDEX_KEY: "S",
        stack.LANE_INDEX_KEY: "S",
    }
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_identity_table_matches_the_local_mirror_and_the_adapter(
    resources: dict[str, Any],
) -> None:
    table = resources["IdentityTable"]
    props = table["Properties"]
    assert props["KeySchema"] == key_schema(stack.IDENTITY_KEY) == key_schema(IDENTITIES.key)
    index, by_lane = props["GlobalSecondaryIndexes"]
    assert_lane_index(by_lane)
    assert index["IndexName"] == stack.IDENTITY_INDEX == IDENTITIES.index
    assert index["KeySchema"] == key_schema(stack.IDENTITY_INDEX_KEY)
    assert IDENTITIES.attr(IDENTITIES.index_field) == stack.IDENTITY_INDEX_KEY
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_state_table_matches_the_local_mirror(resources: dict[str, Any]) -> None:
    props = resources["StateTable"]["Properties"]
    assert props["KeySchema"] == key_schema(stack.STATE_KEY)
    assert props["AttributeDefinitions"] == [
        {"AttributeName": stack.STATE_KEY, "AttributeType": "S"}
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": stack.STATE_TTL, "Enabled": True}


# ---------------------------------------------------------------- settings


SETTING_NAMES = {field.upper() for field in Settings.model_fields}

# The organization hub's settings (issue 9), set in Globals for every function. Every value
# is "" in a single-account stack (no OrganizationId): the functions behave as before.
ORGANIZATION_ENVIRONMENT = {
    "ORGANIZATION_ID": {"Ref": "OrganizationId"},
    "MEMBER_ROLE_NAME": {"Fn::If": ["IsHub", {"Ref": "MemberRoleName"}, ""]},
    "MEMBER_REGIONS": {"Fn::If": ["IsHub", {"Fn::Join": [",", {"Ref": "MemberRegions"}]}, ""]},
    "MEMBER_OUS": {
        "Fn::If": ["IsHub", {"Fn::Join": [",", {"Ref": "MemberOrganizationalUnitIds"}]}, ""]
    },
}
# Names a function may be given: the Settings fields, and the organization's, which the
# functions' side of issue 9 adds to Settings (the checks below hold before and after).
KNOWN_NAMES = SETTING_NAMES | set(ORGANIZATION_ENVIRONMENT)

# Where each setting points: a template parameter or a resource (Ref gives a topic's ARN,
# a queue's URL, a table's or bucket's name). Shared settings are set in Globals.
SHARED_ENVIRONMENT = {
    "POLICY_PARAMETER": {"Ref": "PolicyParameterName"},
    "ENFORCEMENT_MODE": {"Ref": "EnforcementMode"},
    "POLICY_CACHE_SECONDS": {"Ref": "PolicyCacheSeconds"},
    "SES_CALLS_PER_SECOND": {"Ref": "SesCallsPerSecond"},
    "LANE_CONCURRENCY": {"Ref": "LaneConcurrency"},
    "ALERT_TOPIC_ARN": {"Ref": "AlertTopic"},
    "ALERT_FALLBACK_QUEUE_URL": {"Ref": "AlertFallbackQueue"},
    "INVENTORY_TABLE": {"Ref": "InventoryTable"},
    "IDENTITY_TABLE": {"Ref": "IdentityTable"},
    "STATE_TABLE": {"Ref": "StateTable"},
    "REPORT_BUCKET": {"Ref": "ReportBucket"},
    "WORK_QUEUE_URL": {"Ref": "EventQueue"},
    "FLAP_THRESHOLD": {"Ref": "FlapThreshold"},
    "FLAP_WINDOW_SECONDS": {"Ref": "FlapWindowSeconds"},
    "SECURITY_HUB": {"Ref": "SecurityHub"},
    "ACCOUNT_ID": {"Ref": "AWS::AccountId"},
}
# What a pseudo parameter resolves to, for settings built from the template.
PSEUDO_PARAMETERS = {"AWS::AccountId": "123456789012"}
# Settings only one function reads, set beside it.
OWN_SETTINGS = {
    "EventFunction": set[str](),
    "SweepFunction": {"SWEEP_STEP_SECONDS", "CONFIG_AGGREGATOR_NAME"},
    "ConfigRuleFunction": set[str](),
}
FUNCTIONS = tuple(OWN_SETTINGS)
# Read by a library, not by Settings (why each: the template's comment above it).
LIBRARY_SETTINGS = {"PYDANTIC_DISABLE_PLUGINS"}


def environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    """A function's variables as Lambda gets them: Globals, then its own."""
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][function]["Properties"].get("Environment", {})
    variables.update(own.get("Variables", {}))
    return variables


def test_every_setting_is_accounted_for() -> None:
    # A new Settings field needs a line in SHARED_ENVIRONMENT, ORGANIZATION_ENVIRONMENT or
    # OWN_SETTINGS.
    declared = set(SHARED_ENVIRONMENT) | set(ORGANIZATION_ENVIRONMENT)
    assert declared.union(*OWN_SETTINGS.values()) == KNOWN_NAMES


def test_functions_are_the_expected_ones(resources: dict[str, Any]) -> None:
    assert set(of_type(resources, "AWS::Serverless::Function")) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_variable_is_a_setting_or_a_librarys(template: dict[str, Any], function: str) -> None:
    for name in environment(template, function):
        library = name.startswith("POWERTOOLS_") or name in LIBRARY_SETTINGS
        assert library or name in KNOWN_NAMES, name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_setting_a_function_reads_is_set(template: dict[str, Any], function: str) -> None:
    variables = environment(template, function)
    shared = {k: v for k, v in variables.items() if k in SHARED_ENVIRONMENT}
    assert shared == SHARED_ENVIRONMENT
    organization = {k: v for k, v in variables.items() if k in ORGANIZATION_ENVIRONMENT}
    assert organization == ORGANIZATION_ENVIRONMENT
    assert set(variables) & KNOWN_NAMES == (
        set(SHARED_ENVIRONMENT) | set(ORGANIZATION_ENVIRONMENT) | OWN_SETTINGS[function]
    )


def test_sweep_step_ends_before_the_function_times_out(resources: dict[str, Any]) -> None:
    props = resources["SweepFunction"]["Properties"]
    step = Settings.model_validate(
        {"sweep_step_seconds": props["Environment"]["Variables"]["SWEEP_STEP_SECONDS"]}
    ).sweep_step_seconds
    assert step + 60 <= props["Timeout"]


def test_powertools_names_match_the_package(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def settings_from(template: dict[str, Any], overrides: dict[str, Any]) -> Settings:
    """Settings as a deployed function would read them, with parameter defaults (or
    ``overrides``) and placeholder resource names."""
    parameters = template["Parameters"]
    raw = {}
    for name, value in SHARED_ENVIRONMENT.items():
        ref = value["Ref"]
        if ref in parameters:
            raw[name.lower()] = str(overrides.get(ref, parameters[ref]["Default"]))
        elif ref in PSEUDO_PARAMETERS:
            raw[name.lower()] = PSEUDO_PARAMETERS[ref]
        else:
            raw[name.lower()] = f"placeholder-{ref}"
    return Settings.model_validate(raw)


def test_parameter_defaults_are_valid_settings(template: dict[str, Any]) -> None:
    settings = settings_from(template, {})
    assert settings.policy_parameter == Settings().policy_parameter


def test_parameter_bounds_are_valid_settings(template: dict[str, Any]) -> None:
    # Whatever CloudFormation accepts for a parameter, the function must accept too.
    parameters = template["Parameters"]
    referenced = {value["Ref"] for value in SHARED_ENVIRONMENT.values()}
    for name in sorted(referenced & set(parameters)):
        parameter = parameters[name]
        for bound in ("MinValue", "MaxValue"):
            if bound in parameter:
                settings_from(template, {name: parameter[bound]})
        for allowed in parameter.get("AllowedValues", []):
            settings_from(template, {name: allowed})
    assert set(parameters["EnforcementMode"]["AllowedValues"]) == {mode.value for mode in Mode}
    assert set(parameters["SecurityHub"]["AllowedValues"]) == {switch.value for switch in Switch}


def test_local_mirror_sets_a_subset_of_the_template_environment(
    template: dict[str, Any],
) -> None:
    placeholders = {field.name: "x" for field in dataclasses.fields(stack.LocalStack)}
    local = stack.LocalStack(**placeholders).environment()
    for function in FUNCTIONS:
        assert set(local) <= set(environment(template, function))


# ---------------------------------------------------------------- observability


def test_dashboard_shows_every_outcome_in_the_package_namespace(
    resources: dict[str, Any],
) -> None:
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for outcome in Outcome:
        if outcome is not Outcome.DELETED:
            assert f'["{NAMESPACE}", "Outcome_{outcome.value}", "service", "{SERVICE}"]' in body
    # Fn::Sub leaves CloudWatch's JSON intact once ${...} is replaced.
    json.loads(re.sub(r"\$\{[^}]+\}", "x", body))


# ---------------------------------------------------------------- what the template deploys


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_handler_exists(resources: dict[str, Any], function: str) -> None:
    props = resources[function]["Properties"]
    module, attribute = props["Handler"].rsplit(".", 1)
    source = ROOT / props["CodeUri"] / f"{module.replace('.', '/')}.py"
    assert source.is_file(), f"{function}: {source} is missing"
    tree = ast.parse(source.read_text())
    assert attribute in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_has_the_dependency_manifest_sam_build_expects(
    resources: dict[str, Any], function: str
) -> None:
    # Without one, sam build warns "requirements.txt file not found" for the function.
    manifest = ROOT / resources[function]["Properties"]["CodeUri"] / "requirements.txt"
    assert manifest.is_file(), f"{function}: {manifest} is missing"
    requirements = [line for line in manifest.read_text().splitlines() if not line.startswith("#")]
    assert not any(requirements), "dependencies belong to the EnforcerLayer"


def test_layer_packages_the_enforcer(resources: dict[str, Any]) -> None:
    layer = resources["EnforcerLayer"]
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "ses_pool_enforcer" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()
    # Built by its own Makefile, so that it ships its bytecode (layers/enforcer/Makefile).
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-EnforcerLayer:" in (content / "Makefile").read_text()


def test_state_machine_definition_uses_only_its_substitutions(
    resources: dict[str, Any],
) -> None:
    machine = resources["SweepStateMachine"]["Properties"]
    definition = ROOT / machine["DefinitionUri"]
    assert definition.is_file(), f"{definition} is missing"
    text = definition.read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == set(machine["DefinitionSubstitutions"])
    # The role may invoke the sweep function and nothing else: so must the definition.
    tasks = [state for state in walk(json.loads(text)) if state.get("Type") == "Task"]
    assert tasks
    for task in tasks:
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Parameters"]["FunctionName"] == "${SweepFunctionArn}"


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_outputs_name_what_operators_and_the_cli_look_up(template: dict[str, Any]) -> None:
    from ses_pool_enforcer.cli.sweep import STACK_OUTPUT  # `sweep --stack` reads it

    assert set(template["Outputs"]) >= {
        STACK_OUTPUT,
        "AlertTopicArn",
        "EventQueueUrl",
        "EventDeadLetterQueueUrl",
        "SweepStateMachineArn",
        "InventoryTableName",
        "StateTableName",
        "ReportBucketName",
        "PolicyParameterName",
        "DashboardUrl",
    }


def test_cfn_lint_finds_nothing() -> None:
    matches = lint_file(TEMPLATE)
    assert not matches, "\n".join(str(match) for match in matches)


# ---------------------------------------------------------------- AWS Config (optional)

CONFIG_RESOURCES = {
    "ConfigRuleFunctionLogGroup",
    "ConfigRuleFunctionRole",
    "ConfigRuleFunction",
    "ConfigRuleFunctionPermission",
    "PoolPolicyConfigRule",
}


def test_the_config_rule_is_off_unless_asked_for(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the deploy parameter, off by default
    parameter = template["Parameters"]["ConfigRule"]
    assert parameter["Default"] == "disabled"
    assert set(parameter["AllowedValues"]) == {"enabled", "disabled"}
    assert template["Conditions"]["HasConfigRule"] == {
        "Fn::Equals": [{"Ref": "ConfigRule"}, "enabled"]
    }
    # Then every resource of the rule, and nothing else, exists only when it is enabled
    conditional = {n for n, r in resources.items() if r.get("Condition") == "HasConfigRule"}
    assert conditional == CONFIG_RESOURCES
    assert template["Outputs"]["PoolPolicyConfigRuleName"]["Condition"] == "HasConfigRule"


def test_the_config_rule_is_periodic_custom_lambda_on_configuration_sets(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    from ses_pool_enforcer.compliance.config_rule import RESOURCE_TYPE

    rule = resources["PoolPolicyConfigRule"]
    props = rule["Properties"]
    assert props["Scope"] == {"ComplianceResourceTypes": [RESOURCE_TYPE]}
    source = props["Source"]
    assert source["Owner"] == "CUSTOM_LAMBDA"
    assert source["SourceIdentifier"] == {"Fn::GetAtt": ["ConfigRuleFunction", "Arn"]}
    assert source["SourceDetails"] == [
        {
            "EventSource": "aws.config",
            "MessageType": "ScheduledNotification",
            "MaximumExecutionFrequency": {"Ref": "ConfigRuleFrequency"},
        }
    ]
    assert props["MaximumExecutionFrequency"] == {"Ref": "ConfigRuleFrequency"}
    assert set(template["Parameters"]["ConfigRuleFrequency"]["AllowedValues"]) == {
        "One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours",
    }  # fmt: skip
    # And Config may invoke the function, from this account only, before the rule exists
    assert rule["DependsOn"] == "ConfigRuleFunctionPermission"
    permission = resources["ConfigRuleFunctionPermission"]["Properties"]
    assert permission == {
        "FunctionName": {"Fn::GetAtt": ["ConfigRuleFunction", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "config.amazonaws.com",
        "SourceAccount": {"Ref": "AWS::AccountId"},
    }


DRIFT_RESOURCES = {"DriftCheckRule", "DriftCheckPermission"}


def test_the_drift_check_exists_only_when_an_aggregator_is_named(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the deploy parameters, off by default
    parameters = template["Parameters"]
    assert parameters["ConfigAggregatorName"]["Default"] == ""
    assert Settings().config_aggregator_name is None
    assert parameters["DriftCheckSchedule"]["Default"] == "rate(5 minutes)"
    assert template["Conditions"]["HasDriftCheck"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ConfigAggregatorName"}, ""]}]
    }
    # Then the schedule and its permission, and nothing else, exist only when it is named
    conditional = {n for n, r in resources.items() if r.get("Condition") == "HasDriftCheck"}
    assert conditional == DRIFT_RESOURCES
    # And the schedule invokes the sweep function's drift action
    rule = resources["DriftCheckRule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "DriftCheckSchedule"}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["SweepFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"action": "drift"}
    permission = resources["DriftCheckPermission"]["Properties"]
    assert permission == {
        "FunctionName": {"Fn::GetAtt": ["SweepFunction", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["DriftCheckRule", "Arn"]},
    }
    # And the sweep function learns the aggregator's name from the parameter
    variables = resources["SweepFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CONFIG_AGGREGATOR_NAME"] == {"Ref": "ConfigAggregatorName"}


def test_the_aggregator_query_is_granted_only_with_the_drift_check(
    resources: dict[str, Any],
) -> None:
    role = resources["SweepFunctionRole"]
    assert granted(role, "HasDriftCheck") == {
        "config:SelectAggregateResourceConfig": frozenset({CONFIG_AGGREGATORS})
    }
    assert "config:SelectAggregateResourceConfig" not in granted(role)
    for name, resource in principals(resources):
        if name != "SweepFunctionRole":
            assert "config:SelectAggregateResourceConfig" not in everything_granted(resource)


# ---------------------------------------------------------------- AWS Security Hub (optional)


def test_security_hub_findings_are_off_unless_asked_for(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the deploy parameter, off by default
    parameter = template["Parameters"]["SecurityHub"]
    assert parameter["Default"] == "disabled" == Settings().security_hub.value
    assert template["Conditions"]["HasSecurityHub"] == {
        "Fn::Equals": [{"Ref": "SecurityHub"}, "enabled"]
    }
    # Then no resource exists for it (its only grants are the conditional statements
    # checked above), and the functions learn of it from the parameter
    assert not [n for n, r in resources.items() if r.get("Condition") == "HasSecurityHub"]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SECURITY_HUB"] == {"Ref": "SecurityHub"}


# ---------------------------------------------------------------- AWS Organizations hub (optional)

MEMBER_TEMPLATE = ROOT / "templates" / "member.yaml"
MANAGEMENT_TEMPLATE = ROOT / "templates" / "management.yaml"
ORGANIZATION_PARAMETERS = [
    "OrganizationId",
    "MemberOrganizationalUnitIds",
    "MemberRegions",
    "MemberRoleName",
    "MemberStackSetCallAs",
]
# Every resource and output of the hub, and under which condition: nothing else of the
# template depends on the organization, so without OrganizationId it deploys as before.
HUB_RESOURCES = {
    "HubEventBus": "IsHub",
    "HubEventBusPolicy": "IsHub",
    "HubSesChangeRule": "IsHub",
    "MemberStackSet": "DeploysMembers",
    "NewMemberAccountRule": "DeploysMembers",
    "HubNewMemberAccountRule": "DeploysMembers",
    "NewMemberAccountRuleRole": "DeploysMembers",
}
HUB_OUTPUTS = {"HubEventBusArn": "IsHub", "MemberStackSetName": "DeploysMembers"}
IN_THE_ORGANIZATION = {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}


def test_organization_parameters_default_to_a_single_account(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert {"Label": {"default": "Organization"}, "Parameters": ORGANIZATION_PARAMETERS} in groups
    organization = parameters["OrganizationId"]
    assert organization["Default"] == ""
    assert organization["AllowedPattern"] == "^(o-[a-z0-9]{10,32})?$"
    for name in ("MemberOrganizationalUnitIds", "MemberRegions"):
        assert parameters[name] == parameters[name] | {"Type": "CommaDelimitedList", "Default": ""}
    role = parameters["MemberRoleName"]
    assert role["Default"] == "ses-pool-enforcer-member"
    assert re.fullmatch(role["AllowedPattern"], role["Default"])
    assert not re.fullmatch(role["AllowedPattern"], "x" * 65)  # IAM: at most 64
    assert set(parameters["MemberStackSetCallAs"]["AllowedValues"]) == {"SELF", "DELEGATED_ADMIN"}
    assert template["Conditions"]["IsHub"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]
    }
    # A StackSet needs an OU and a region, and only a hub has one.
    deploys = template["Conditions"]["DeploysMembers"]["Fn::And"]
    assert deploys[0] == {"Condition": "IsHub"}
    assert {json.dumps(c) for c in deploys[1:]} == {
        json.dumps({"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": name}]}, ""]}]})
        for name in ("MemberOrganizationalUnitIds", "MemberRegions")
    }


def test_every_organization_resource_exists_only_in_a_hub(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    hub = {
        name: resource["Condition"]
        for name, resource in resources.items()
        if resource.get("Condition") in ("IsHub", "DeploysMembers")
    }
    assert hub == HUB_RESOURCES
    outputs = {
        name: output["Condition"]
        for name, output in template["Outputs"].items()
        if output.get("Condition") in ("IsHub", "DeploysMembers")
    }
    assert outputs == HUB_OUTPUTS
    # Whatever else names the organization's parameters or resources does so under IsHub
    # (checked where it happens: grants, queue policies, environment) or is a hub resource.
    names = set(ORGANIZATION_PARAMETERS) | set(HUB_RESOURCES)
    for name, original in resources.items():
        if name in HUB_RESOURCES:
            continue
        resource = copy.deepcopy(original)  # the loaded template is shared between tests
        for node in walk(resource):
            if "Fn::If" in node and node["Fn::If"][0] == "IsHub":
                node.clear()  # granted or set only in a hub
        mentioned = {m for m in names if re.search(rf"\b{m}\b", json.dumps(resource))}
        assert not mentioned, f"{name} depends on {mentioned} outside IsHub"


def if_not_hub(value: Any) -> Any:
    """``value`` as CloudFormation resolves it with IsHub false."""
    if isinstance(value, dict) and "Fn::If" in value and value["Fn::If"][0] == "IsHub":
        return value["Fn::If"][2]
    return value


def test_a_single_account_stack_gives_the_functions_empty_organization_settings(
    template: dict[str, Any],
) -> None:
    parameters = template["Parameters"]
    for function in FUNCTIONS:
        variables = environment(template, function)
        for name in ORGANIZATION_ENVIRONMENT:
            value = if_not_hub(variables[name])
            if value == {"Ref": "OrganizationId"}:
                value = parameters["OrganizationId"]["Default"]
            assert value == "", f"{function}: {name} is {value!r} without an organization"


def test_the_hub_bus_accepts_events_from_the_organization_only(
    resources: dict[str, Any],
) -> None:
    bus = resources["HubEventBus"]["Properties"]
    assert "Policy" not in bus, "the bus's one policy is HubEventBusPolicy"
    policies = of_type(resources, "AWS::Events::EventBusPolicy")
    assert set(policies) == {"HubEventBusPolicy"}
    props = policies["HubEventBusPolicy"]["Properties"]
    assert props["EventBusName"] == {"Ref": "HubEventBus"}
    statement = props["Statement"]
    assert set(props) == {"EventBusName", "StatementId", "Statement"}  # no Principal/Condition
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": ["HubEventBus", "Arn"]}
    # Any principal is allowed only under the organization condition, and the condition
    # holds nothing that could widen it (no other operator, key or value).
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    }


def test_the_hub_rule_is_the_account_rule_on_the_hub_bus(resources: dict[str, Any]) -> None:
    mine = resources["SesChangeRule"]["Properties"]
    hub = resources["HubSesChangeRule"]["Properties"]
    assert hub["EventBusName"] == {"Ref": "HubEventBus"}
    assert "EventBusName" not in mine  # the default bus, where CloudTrail delivers
    assert hub["EventPattern"] == mine["EventPattern"]
    assert hub["Targets"] == mine["Targets"]
    assert hub["State"] == mine["State"] == "ENABLED"


def test_hub_functions_assume_only_the_member_role_in_the_organization(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assumes = {}
    for name, resource in principals(resources):
        for condition in (None, *sorted(conditions(resource))):
            for statement in statements(resource, condition):
                actions = as_list(statement["Action"])
                if not any(a.startswith("sts:") for a in actions):
                    continue
                assert actions == ["sts:AssumeRole"], f"{name}: {actions}"
                assert condition == "IsHub", f"{name} assumes roles outside a hub"
                assert [resource_name(r) for r in as_list(statement["Resource"])] == [
                    MEMBER_ROLES
                ], name
                assert statement.get("Condition") == IN_THE_ORGANIZATION, name
                assumes[name] = statement
    assert set(assumes) == {"EventFunctionRole", "SweepFunctionRole"}
    # a role's name, never a pattern: no wildcard can creep in through the parameter
    pattern = template["Parameters"]["MemberRoleName"]["AllowedPattern"]
    assert not re.fullmatch(pattern, "*") and not re.fullmatch(pattern, "ses-*")


def test_the_member_stack_set_deploys_the_member_template_to_the_member_ous(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    stack_set = resources["MemberStackSet"]
    props = stack_set["Properties"]
    assert stack_set["DependsOn"] == "HubEventBusPolicy"
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["CallAs"] == {"Ref": "MemberStackSetCallAs"}
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert props["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"
    # sam package and sam deploy upload a StackSet's local TemplateURL (samcli's
    # RESOURCES_WITH_LOCAL_PATHS lists AWS::CloudFormation::StackSet: TemplateURL)
    assert ROOT / props["TemplateURL"] == MEMBER_TEMPLATE
    assert MEMBER_TEMPLATE.is_file()
    [group] = props["StackInstancesGroup"]
    assert group == {
        "DeploymentTargets": {"OrganizationalUnitIds": {"Ref": "MemberOrganizationalUnitIds"}},
        "Regions": {"Ref": "MemberRegions"},
    }
    # Every parameter the member template declares is passed, and nothing else.
    given = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
    member = load(MEMBER_TEMPLATE)
    assert set(given) == set(member["Parameters"])
    assert given["HubEventBusArn"] == {"Fn::GetAtt": ["HubEventBus", "Arn"]}
    assert given["HubRoleArns"] == {
        "Fn::Join": [
            ",",
            [
                {"Fn::GetAtt": ["EventFunctionRole", "Arn"]},
                {"Fn::GetAtt": ["SweepFunctionRole", "Arn"]},
            ],
        ]
    }
    assert given["MemberRoleName"] == {"Ref": "MemberRoleName"}
    assert given["MemberRegions"] == {"Fn::Join": [",", {"Ref": "MemberRegions"}]}
    assert given["MemberRoleRegion"] == {"Fn::Select": [0, {"Ref": "MemberRegions"}]}


NEW_ACCOUNT_SAMPLE = ROOT / "events" / "stackset_instance_current.json"


def test_a_new_member_stack_instance_starts_a_sweep_of_its_account_only_in_a_hub(
    resources: dict[str, Any],
) -> None:
    # Given the hub's rule for the member StackSet's instances (DeploysMembers: a hub with
    # a StackSet; checked by test_every_organization_resource_exists_only_in_a_hub)
    rule = resources["NewMemberAccountRule"]
    assert rule["Condition"] == "DeploysMembers"
    props = rule["Properties"]
    assert "EventBusName" not in props  # CloudFormation's events reach the default bus
    assert props["State"] == "ENABLED"
    # Then it matches successful, current instances of this stack's StackSet only: the
    # StackSet's id (its Ref, name:uuid) ends its ARN
    assert props["EventPattern"] == {
        "source": ["aws.cloudformation"],
        "detail-type": ["CloudFormation StackSet StackInstance Status Change"],
        "detail": {
            "stack-set-arn": [{"suffix": {"Fn::Sub": ":stackset/${MemberStackSet}"}}],
            "status-details": {"status": ["CURRENT"], "detailed-status": ["SUCCEEDED"]},
        },
    }
    # And it starts the sweep, through a role of its own, with the new-account input
    [target] = props["Targets"]
    assert target["Arn"] == {"Ref": "SweepStateMachine"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["NewMemberAccountRuleRole", "Arn"]}
    assert "Input" not in target and "InputPath" not in target
    transformer = target["InputTransformer"]
    sample = json.loads(NEW_ACCOUNT_SAMPLE.read_text())
    given = replay.transformed_input(transformer, sample)
    assert given == {"trigger": "new-account", "stack_id": sample["detail"]["stack-id"]}
    assert sweep.trigger_from(given) == "new-account"
    assert lanes.named(given, role_region="eu-west-1") == lanes.Named("210987654321", "us-east-1")
    # And the sample is what the pattern matches (the literal parts of it)
    assert sample["source"] in props["EventPattern"]["source"]
    assert sample["detail-type"] in props["EventPattern"]["detail-type"]
    assert sample["detail"]["status-details"]["status"] == "CURRENT"
    assert sample["detail"]["status-details"]["detailed-status"] == "SUCCEEDED"


def test_the_new_account_rule_is_also_on_the_hub_bus_for_a_delegated_administrator(
    resources: dict[str, Any],
) -> None:
    # Given the default bus's rule, and the one on the hub's bus, where the management
    # account forwards a delegated administrator's StackSet events (templates/management.yaml)
    mine = resources["NewMemberAccountRule"]
    hub = resources["HubNewMemberAccountRule"]
    # Then the hub's is the same rule on the hub's bus: in a hub with a StackSet only,
    # with the same pattern, the same target (state machine, role, input, retries)
    assert hub["Condition"] == mine["Condition"] == "DeploysMembers"
    assert hub["Properties"]["EventBusName"] == {"Ref": "HubEventBus"}
    assert "EventBusName" not in mine["Properties"]
    assert hub["Properties"]["EventPattern"] == mine["Properties"]["EventPattern"]
    assert hub["Properties"]["Targets"] == mine["Properties"]["Targets"]
    assert hub["Properties"]["State"] == mine["Properties"]["State"] == "ENABLED"
    # And both use the one role, whose trust (EventBridge of this account) admits both
    [target] = hub["Properties"]["Targets"]
    assert target["RoleArn"] == {"Fn::GetAtt": ["NewMemberAccountRuleRole", "Arn"]}


def test_the_hub_outputs_what_the_management_template_takes(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["HubEventBusArn"]["Value"] == {"Fn::GetAtt": ["HubEventBus", "Arn"]}
    # the StackSet's name: its Ref is its id (name:uuid), and a name holds no ":"
    assert outputs["MemberStackSetName"]["Value"] == {
        "Fn::Select": [0, {"Fn::Split": [":", {"Ref": "MemberStackSet"}]}]
    }
    stack_set_name = template["Resources"]["MemberStackSet"]["Properties"]["StackSetName"]
    assert stack_set_name == {"Fn::Sub": "${AWS::StackName}-member"}
    management = load(MANAGEMENT_TEMPLATE)
    assert set(management["Parameters"]) == {"HubEventBusArn", "MemberStackSetName"}


RULES = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"


def test_the_new_account_rule_role_is_for_eventbridge_of_this_account_only(
    resources: dict[str, Any],
) -> None:
    role = resources["NewMemberAccountRuleRole"]
    assert role["Condition"] == "DeploysMembers"
    props = role["Properties"]
    assert "ManagedPolicyArns" not in props
    [trust] = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        # For its two rules only (the confused deputy): their ARNs from their names
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnEquals": {
                "aws:SourceArn": [
                    {"Fn::Sub": f"{RULES}${{AWS::StackName}}-new-member"},
                    {"Fn::Sub": f"{RULES}${{HubEventBus}}/${{AWS::StackName}}-new-member"},
                ]
            },
        },
    }
    for rule in ("NewMemberAccountRule", "HubNewMemberAccountRule"):
        name = resources[rule]["Properties"]["Name"]
        assert name == {"Fn::Sub": "${AWS::StackName}-new-member"}, rule
    # (its one grant, states:StartExecution on SweepStateMachine: EXPECTED_GRANTS)


def test_the_distributed_map_runs_the_inline_map_s_lane_and_what_it_needs_is_granted(
    resources: dict[str, Any],
) -> None:
    machine = resources["SweepStateMachine"]["Properties"]
    states = json.loads((ROOT / machine["DefinitionUri"]).read_text())["States"]
    inline, distributed = states["Each lane"], states["Each lane, distributed"]
    # One lane loop, twice: the Distributed Map's children run exactly the inline Map's
    # iteration (a change to one that misses the other fails here)
    assert distributed["ItemProcessor"]["States"] == inline["ItemProcessor"]["States"]
    assert distributed["ItemProcessor"]["StartAt"] == inline["ItemProcessor"]["StartAt"]
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    # Lanes answers lanes_at (the S3 object) past lanes.INLINE_LANES; the Choice sends
    # those to the Distributed Map, which reads them there and writes its results where
    # the state machine's and the sweep function's grants say
    [rule] = states["How many lanes?"]["Choices"]
    assert rule == {
        "Variable": "$.lanes_at",
        "IsPresent": True,
        "Next": "Each lane, distributed",
    }
    assert distributed["ItemReader"]["Parameters"] == {
        "Bucket.$": "$.lanes_at.bucket",
        "Key.$": "$.lanes_at.key",
    }
    writer = distributed["ResultWriter"]["Parameters"]
    assert writer["Bucket"] == "${ReportBucketName}"
    assert f"${{ReportBucket.Arn}}/{writer['Prefix']}/*" == LANE_RESULTS
    assert distributed["MaxConcurrencyPath"] == inline["MaxConcurrencyPath"]
    assert distributed["ResultPath"] == inline["ResultPath"] == "$.results"
    # every lane catches its own failure; a child that fails all the same is tolerated
    # and reported by Summary, as a lane that failed
    assert distributed["ToleratedFailurePercentage"] == 100
