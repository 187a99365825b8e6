"""Issue 10: the roles that deploy infrastructure (IaC principals). A set such a role
puts on the wrong pool is reported as the pipeline's source disagreeing with the policy,
once; the rule's mode decides whether it is moved; and when the pipeline keeps putting
it back, the flap guard's hold names the pipeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from local_aws import seed
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, received_alerts
from tests.support import invoke, ses_writes, shift_clock

CDK_EXEC_ROLE = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
POLICY = """
version: 1
mode: enforce
iac_principals: ["arn:aws:iam::*:role/cdk-*-cfn-exec-role-*"]
rules:
  - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
  - {id: receipts, match: {names: ["tx-*"]}, pool: transactional, mode: audit}
  - id: lists
    match: {names: ["list-*"]}
    pool: marketing
    iac_principals: ["arn:aws:iam::*:role/terraform-ci"]
"""


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(POLICY)
    return stack


def deployed(name: str) -> dict[str, Any]:
    """The CloudTrail record of CloudFormation creating ``name`` with CDK's exec role."""
    return sample_event(
        "create_configuration_set_by_cdk_pipeline.json", configuration_set=name, fresh_id=True
    )


def test_a_set_the_pipeline_deployed_on_the_wrong_pool_is_moved_with_one_alert_naming_it(
    account: LocalStack,
) -> None:
    # Given CDK deployed a marketing set on the transactional pool
    seed.create_set("mkt-weekly", pool="transactional")

    # When its creation event arrives
    invoke(deployed("mkt-weekly"))

    # Then the rule (enforce) moves it, and one alert says the pipeline's source is wrong
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert alert["alert"]["pipeline"] == "arn:aws:iam::*:role/cdk-*-cfn-exec-role-*"
    assert "set by a deploy pipeline" in alert["alert"]["reason"]
    assert CDK_EXEC_ROLE in alert["alert"]["reason"]
    assert "ses-pool-enforcer check" in alert["alert"]["reason"]


def test_under_an_audit_rule_the_pipeline_s_set_is_reported_not_moved(
    account: LocalStack,
) -> None:
    seed.create_set("tx-receipts", pool="marketing")
    invoke(deployed("tx-receipts"))
    assert ses_writes() == 0
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "violation"
    assert alert["alert"]["pipeline"] is not None


def test_a_rule_s_own_list_replaces_the_document_s(account: LocalStack) -> None:
    # Given the lists rule names only the Terraform role: CDK is not its pipeline
    seed.create_set("list-members", pool="transactional")
    invoke(deployed("list-members"))
    [alert] = received_alerts(account)
    assert alert["alert"]["pipeline"] is None
    assert "deploy pipeline" not in alert["alert"]["reason"]


def test_a_person_s_change_is_not_called_the_pipeline_s(account: LocalStack) -> None:
    seed.create_set("mkt-weekly", pool="transactional")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    [alert] = received_alerts(account)
    assert alert["alert"]["pipeline"] is None


def test_a_pipeline_that_keeps_putting_a_set_back_is_named_by_the_hold(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the pipeline deploys its template four times within the hour, each time
    # putting the set back on the transactional pool
    monkeypatch.setenv("FLAP_THRESHOLD", "3")
    seed.create_set("mkt-weekly", pool="transactional")
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    for _ in range(4):
        now += dt.timedelta(minutes=10)
        shift_clock(monkeypatch, now)
        seed.set_pool("mkt-weekly", "transactional")
        invoke(deployed("mkt-weekly"))

    # Then the fourth time the enforcer holds off, and says the pipeline is fighting it
    *moves, held = received_alerts(account)
    assert [m["alert"]["outcome"] for m in moves] == ["remediated"] * 3
    assert held["alert"]["outcome"] == "flapping"
    assert held["alert"]["reason"].startswith(f"the deploy pipeline {CDK_EXEC_ROLE} keeps")
