"""What an event about a compliant set costs in AWS calls, cold and warm, counted where AWS
would count them (local AWS), and the paths that still report a set whose pool vanished
now that a look takes the set's own pool at SES's word (docs/design/cold-start.md)."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import boto3
import pytest

from functions.sweep import app as sweep_app
from local_aws import faults, seed, sfn
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.budget import LocalBudget
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.adapters.ses import Ses
from ses_pool_enforcer.event_path import CLOCK_SKEW_SECONDS
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.reconciler import Done
from ses_pool_enforcer.runtime import get_runtime
from ses_pool_enforcer.work import Work
from tests.conftest import reset_process_caches
from tests.support import invoke, marketing_account

# The look itself: the claim with the read's budget slot, the read, the outcome and release.
LOOK = Counter(
    {
        "dynamodb:TransactWriteItems": 1,
        "sesv2:GetConfigurationSet": 1,
        "dynamodb:UpdateItem": 1,
    }
)


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    # Given the marketing and transactional pools, the marketing policy, and a set of each
    # rule on its pool
    marketing_account()
    seed.create_set("mkt-daily", pool="marketing", tls_policy="REQUIRE")
    seed.create_set("tx-receipts", pool="transactional")
    return stack


def created(name: str) -> dict[str, Any]:
    return sample_event("create_configuration_set_v2.json", configuration_set=name, fresh_id=True)


def calls_of(*bodies: dict[str, Any]) -> Counter[str]:
    """The AWS requests one invocation of the event function makes for ``bodies``."""
    before = faults.request_counts()
    assert invoke(*bodies) == {"batchItemFailures": []}
    after = faults.request_counts()
    return Counter({k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)})


def outcome(stack: LocalStack, name: str) -> dict[str, str]:
    [row] = [r for r in Inventory(stack.inventory_table).rows() if r["configuration_set"] == name]
    return row


def test_a_compliant_set_costs_a_cold_process_no_pool_check(account: LocalStack) -> None:
    # When a fresh process hears of the compliant marketing set
    cold = calls_of(created("mkt-daily"))

    # Then it reads the policy and looks: no GetDedicatedIpPool, and no budget slot for one
    assert cold == LOOK + Counter({"ssm:GetParameter": 1})
    assert outcome(account, "mkt-daily")["outcome"] == "compliant"


def test_a_compliant_set_seen_again_by_a_warm_process_costs_three_calls(
    account: LocalStack,
) -> None:
    # Given a process that judged the set compliant already (the inventory holds it)
    calls_of(created("mkt-daily"))
    time.sleep(CLOCK_SKEW_SECONDS + 0.05)  # a later change: not covered by that look

    # When another event about the set reaches the same, warm process
    warm = calls_of(created("mkt-daily"))

    # Then three calls in all: the outcome unchanged is written once, not refused first
    assert warm == LOOK
    assert sum(warm.values()) == 3
    assert outcome(account, "mkt-daily")["outcome"] == "compliant"


def test_every_ses_request_spends_from_the_budget_the_write_too(account: LocalStack) -> None:
    # Given a process's SES adapter on a budget (its writes' client not built yet)
    budget = LocalBudget(1000.0)
    ses = Ses(budget=budget)

    # When it reads a set, then moves it (the write's client built then)
    cs = ses.get_configuration_set("tx-receipts")
    assert cs is not None
    ses.reassign(cs, "marketing")

    # Then both requests took a slot of the budget
    assert budget.calls == 2
    assert seed.delivery_options("tx-receipts")["SendingPoolName"] == "marketing"


def test_a_deleted_pool_reaches_its_sets_through_a_fresh_process(account: LocalStack) -> None:
    # Given the compliant marketing set, recorded expecting the marketing pool
    calls_of(created("mkt-daily"))
    received_alerts(account)

    # When the pool is deleted and its event fans out to the set, and the work it queued
    # reaches a process that never heard of the deletion (nor of the pool)
    seed.delete_pool("marketing")
    assert invoke(sample_event("delete_dedicated_ip_pool.json", pool="marketing")) == {
        "batchItemFailures": []
    }
    queued = drain(account)
    assert len(queued) == 1
    reset_process_caches()
    checked = calls_of(*queued)

    # Then that look asks SES whether the pool exists, and reports the set in error
    assert checked["sesv2:GetDedicatedIpPool"] == 1
    row = outcome(account, "mkt-daily")
    assert (row["outcome"], row["reason"]) == (
        "error",
        "target pool marketing does not exist; not movable either",
    )
    [alert] = received_alerts(account)
    assert alert["alert"]["event_name"] == "DeleteDedicatedIpPool"


def test_a_look_about_a_pools_change_asks_ses_whatever_its_process_remembers(
    account: LocalStack,
) -> None:
    # Given the marketing pool deleted, and a process that was never told (a member
    # lane's runtime is built after the batch forgot the pools it names)
    seed.delete_pool("marketing")
    reconciler = get_runtime().reconciler()

    # When it looks at the set for work that names the pool's change
    work = Work("mkt-daily", Trigger(source="event"), fresh_pools=("marketing",))
    result = reconciler.reconcile(work)

    # Then the pool was asked of SES, and the set is in error
    assert isinstance(result, Done)
    assert result.record.outcome is Outcome.ERROR
    assert result.record.reason == "target pool marketing does not exist; not movable either"


def test_a_process_told_of_a_deletion_asks_about_a_set_the_fan_out_could_not_name(
    account: LocalStack,
) -> None:
    # Given the pool deleted and its event heard by this process, while the set below was
    # in no inventory yet (the fan-out names only the sets recorded expecting the pool)
    seed.delete_pool("marketing")
    deleted = sample_event("delete_dedicated_ip_pool.json", pool="marketing")
    assert invoke(deleted) == {"batchItemFailures": []}
    assert drain(account) == []

    # When an event about the set reaches the same process
    checked = calls_of(created("mkt-daily"))

    # Then it asks SES whether the pool exists, and reports the set in error
    assert checked["sesv2:GetDedicatedIpPool"] == 1
    assert outcome(account, "mkt-daily")["outcome"] == "error"


def test_a_pool_deleted_unheard_is_reported_by_the_next_sweep(account: LocalStack) -> None:
    # Given the pool deleted with no event heard (CloudTrail to EventBridge is best
    # effort), and a fresh process looking at the set for another change
    seed.delete_pool("marketing")
    calls_of(created("mkt-daily"))
    # (the look took the set's pool at SES's word: SES accepted it when it was set)
    assert outcome(account, "mkt-daily")["outcome"] == "compliant"

    # When the sweep runs (it lists the pools once per step)
    execution = sfn.run_sweep(sweep_app.handler, {"trigger": "manual"})

    # Then the set is in error, and an alert says why
    assert execution.status == "SUCCEEDED", execution.cause
    assert outcome(account, "mkt-daily")["outcome"] == "error"
    alerts = [a for a in received_alerts(account) if a["alert"].get("configuration_set")]
    assert [a["alert"]["configuration_set"] for a in alerts] == ["mkt-daily"]
    assert "marketing does not exist" in alerts[0]["alert"]["reason"]


def drain(stack: LocalStack) -> list[dict[str, Any]]:
    """The work queue's messages, taken off it as the event source mapping would."""
    sqs = boto3.client("sqs", region_name=stack.region)
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=stack.work_queue_url, MaxNumberOfMessages=10
    ).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(
                QueueUrl=stack.work_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    return bodies
