"""Issue 9, item 3: scoped rules through the real event path, in the deployment's own
lane (ACCOUNT_ID from the template, the region of the session, the account's OUs read
from AWS Organizations on local AWS)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from local_aws import faults, seed
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.organizations import Organization
from ses_pool_enforcer.policy import parse_policy
from ses_pool_enforcer.runtime import get_runtime
from tests.support import invoke, marketing_account, ses_writes

ELSEWHERE = "444455556666"


def _event(name: str) -> dict[str, Any]:
    return sample_event("create_configuration_set_v2.json", configuration_set=name)


def _organization_with_this_account_in(stack: LocalStack) -> dict[str, str]:
    """An organization whose management account is the stack's, moved into
    root > prod > prod-eu. Returns the ids."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    prod = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    prod_eu = org.create_organizational_unit(ParentId=prod, Name="prod-eu")["OrganizationalUnit"][
        "Id"
    ]
    sandbox = org.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"][
        "Id"
    ]
    org.move_account(AccountId=stack.account_id, SourceParentId=root, DestinationParentId=prod_eu)
    return {"root": root, "prod": prod, "prod_eu": prod_eu, "sandbox": sandbox}


def test_a_rule_scoped_to_another_account_does_not_apply_here_and_one_scoped_here_does(
    stack: LocalStack,
) -> None:
    # Given a rule for another account first, then one for this account and region
    marketing_account(
        f"""
version: 1
mode: enforce
rules:
  - id: other-account
    match: {{names: ["mkt-*"], accounts: ["{ELSEWHERE}"]}}
    pool: transactional
  - id: this-account
    match: {{names: ["mkt-*"], accounts: ["{stack.account_id}"], regions: ["us-*"]}}
    pool: marketing
"""
    )
    seed.create_set("mkt-weekly", pool="transactional")

    # When the set's event arrives
    assert invoke(_event("mkt-weekly")) == {"batchItemFailures": []}

    # Then the rule of this account decided, and the set was moved
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    [alert] = received_alerts(stack)
    assert (alert["alert"]["outcome"], alert["alert"]["rule_id"]) == ("remediated", "this-account")


def test_a_set_only_another_account_rule_matches_is_unmanaged_here(stack: LocalStack) -> None:
    # Given only a rule for another account's marketing sets, and one for other regions
    marketing_account(
        f"""
version: 1
mode: enforce
rules:
  - id: other-account
    match: {{names: ["mkt-*"], accounts: ["{ELSEWHERE}"]}}
    pool: marketing
  - id: europe
    match: {{names: ["mkt-*"], regions: ["eu-*"]}}
    pool: marketing
"""
    )
    seed.create_set("mkt-weekly", pool="transactional")
    writes = ses_writes()

    # When its event arrives
    invoke(_event("mkt-weekly"))

    # Then nothing moves it: unmanaged here, no alert
    assert ses_writes() == writes
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "transactional"
    assert received_alerts(stack) == []


def test_an_ou_rule_applies_to_an_account_below_that_ou(stack: LocalStack) -> None:
    # Given this account in prod > prod-eu, and a rule for the sandbox OU before a rule for
    # prod (a parent of the account's OU)
    ids = _organization_with_this_account_in(stack)
    marketing_account(
        f"""
version: 1
mode: enforce
rules:
  - id: sandbox
    match: {{names: ["mkt-*"], organizational_units: ["{ids["sandbox"]}"]}}
    pool: transactional
  - id: prod
    match: {{names: ["mkt-*"], organizational_units: ["{ids["prod"]}"]}}
    pool: marketing
"""
    )
    seed.create_set("mkt-weekly", pool="transactional")
    seed.create_set("mkt-daily", pool="transactional")
    walks = faults.after("organizations", "ListParents", lambda: None, times=100)

    # When two events arrive, one invocation after the other
    invoke(_event("mkt-weekly"))
    invoke(_event("mkt-daily"))

    # Then the prod rule decided ("in that OU or below") and both sets were moved
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert seed.delivery_options("mkt-daily")["SendingPoolName"] == "marketing"
    assert {a["alert"]["rule_id"] for a in received_alerts(stack)} == {"prod"}
    # And the account's OUs were read once for the process: account > prod-eu > prod > root
    assert [b["ChildId"] for b in walks.bodies] == [stack.account_id, ids["prod_eu"], ids["prod"]]


def test_a_policy_without_ous_never_asks_organizations(stack: LocalStack) -> None:
    marketing_account()  # names only
    seed.create_set("mkt-weekly", pool="transactional")
    asked = faults.after("organizations", "ListParents", lambda: None, times=100)
    who = faults.after("sts", "GetCallerIdentity", lambda: None, times=100)

    invoke(_event("mkt-weekly"))

    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert asked.bodies == [] and who.seen == 0


OU_POLICY = """
version: 1
mode: enforce
default: {{pool: transactional}}
rules:
  - id: prod-marketing
    match: {{names: ["mkt-*"], organizational_units: ["{ou}"]}}
    pool: marketing
  - id: everything
    match: {{names: ["*"]}}
    pool: transactional
"""


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (
            {"code": "AccessDeniedException", "status": 400},
            "organizations:ListParents failed: AccessDeniedException",
        ),
        (
            {"code": "AWSOrganizationsNotInUseException", "status": 400},
            "the account is not in an organization",
        ),
    ],
)
def test_organizations_unreadable_means_no_write_and_an_error_alert(
    stack: LocalStack, fault: dict[str, Any], cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an OU rule before rules that would also match, and Organizations refusing
    ids = _organization_with_this_account_in(stack)
    marketing_account(OU_POLICY.format(ou=ids["prod"]))
    seed.create_set("mkt-weekly", pool="ses-shared-pool")
    faults.fail("organizations", "ListParents", times=100, **fault)
    writes = ses_writes()

    # When the set's event arrives
    assert invoke(_event("mkt-weekly")) == {"batchItemFailures": []}

    # Then the set is not moved (not by the OU rule, not by a later rule or the default)
    assert ses_writes() == writes
    assert seed.delivery_options("mkt-weekly").get("SendingPoolName") == "ses-shared-pool"
    # And an error alert names the rule and the cause
    [alert] = received_alerts(stack)
    assert alert["alert"]["outcome"] == "error"
    assert alert["alert"]["rule_id"] == "prod-marketing"
    assert "rule 'prod-marketing' names organizational_units" in alert["alert"]["reason"]
    assert cause in alert["alert"]["reason"]
    # And a log line says why the OUs are unknown
    [logged] = [r for r in caplog.records if "organizational units unknown" in r.getMessage()]
    assert cause in logged.__dict__["cause"]


def test_a_set_the_ou_rule_cannot_match_is_still_decided_when_organizations_is_unreadable(
    stack: LocalStack,
) -> None:
    marketing_account(OU_POLICY.format(ou="ou-ab12-prod0001"))
    seed.create_set("tx-receipts", pool="marketing")
    faults.fail("organizations", "ListParents", times=100, code="AccessDeniedException", status=400)

    invoke(_event("tx-receipts"))

    assert seed.delivery_options("tx-receipts")["SendingPoolName"] == "transactional"


def test_the_account_comes_from_sts_only_when_absent_and_needed(
    stack: LocalStack,
) -> None:
    # Given a process without ACCOUNT_ID
    who = faults.after("sts", "GetCallerIdentity", lambda: None, times=100)
    organization = Organization(None)
    plain = parse_policy("version: 1\nrules: [{id: a, match: {regions: [us-*]}, pool: p}]")
    scoped = parse_policy(
        f"version: 1\nrules: [{{id: a, match: {{accounts: ['{stack.account_id}']}}, pool: p}}]"
    )

    # When lanes are asked for a policy that names no account, then twice for one that does
    lanes = [organization.lane(plain), organization.lane(scoped), organization.lane(scoped)]

    # Then STS was asked once, and only for the policy that needs it
    assert [lane.account for lane in lanes] == [None, stack.account_id, stack.account_id]
    assert who.seen == 1
    assert {lane.region for lane in lanes} == {"us-east-1"}


def test_the_runtime_gives_each_reconciler_the_lane_of_the_deployment(stack: LocalStack) -> None:
    ids = _organization_with_this_account_in(stack)
    marketing_account(OU_POLICY.format(ou=ids["prod"]))
    lane = get_runtime().reconciler().lane
    assert (lane.account, lane.region) == (stack.account_id, "us-east-1")
    assert lane.organizational_units == {ids["prod_eu"], ids["prod"], ids["root"]}
