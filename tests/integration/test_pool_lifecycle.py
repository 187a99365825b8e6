"""Issue 3: a dedicated pool created or deleted re-evaluates the sets whose rule names it.

The pool's CloudTrail event reaches the event function, which queues one reconcile
request per set that the inventory (filled by a sweep) says expects the pool; the
requests come back to the event function through the work queue.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.on_event import app as on_event
from functions.sweep import app as sweep_function
from local_aws import call_counts, seed, sfn
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.inventory import Inventory
from tests.conftest import reset_process_caches

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: lists
    match: {names: ["list-*"]}
    pool: lists
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
"""
MARKETING = [f"mkt-{i}" for i in range(5)]
LISTS = [f"list-{i}" for i in range(4)]
RECEIPTS = [f"tx-{i}" for i in range(3)]


def deliver(*bodies: dict[str, Any] | str) -> None:
    result = on_event.handler(sqs_event(bodies), LambdaContext())
    assert result == {"batchItemFailures": []}


def drain_work_queue(stack: LocalStack) -> list[str]:
    """Take every message off the work queue, as the event source mapping would."""
    sqs = boto3.client("sqs", region_name=stack.region)
    bodies: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=stack.work_queue_url, MaxNumberOfMessages=10
    ).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(
                QueueUrl=stack.work_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    return bodies


def writes() -> int:
    return call_counts().get("PutConfigurationSetDeliveryOptions", 0)


def outcomes(stack: LocalStack) -> dict[str, str]:
    return {r["configuration_set"]: r["outcome"] for r in Inventory(stack.inventory_table).rows()}


@pytest.fixture
def swept(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given sets on the marketing and transactional pools, sets waiting for a "lists"
    # pool that does not exist yet, and an inventory a sweep filled
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")
    reset_process_caches()
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(POLICY)
    for name in MARKETING:
        seed.create_set(name, pool="marketing", tls_policy="REQUIRE")
    for name in LISTS:
        seed.create_set(name, tls_policy="REQUIRE", max_delivery_seconds=900)
    for name in RECEIPTS:
        seed.create_set(name, pool="transactional")
    execution = sfn.run_sweep(sweep_function.handler, {"trigger": "manual"})
    assert execution.status == "SUCCEEDED", execution.cause
    assert outcomes(stack) == {
        **dict.fromkeys(MARKETING, "compliant"),
        **dict.fromkeys(LISTS, "error"),
        **dict.fromkeys(RECEIPTS, "compliant"),
    }
    received_alerts(stack)  # the sweep's own alerts and report: not what is tested here
    return stack


def test_a_deleted_target_pool_turns_its_sets_into_errors_without_any_write(
    swept: LocalStack,
) -> None:
    # Given the marketing pool is deleted
    seed.delete_pool("marketing")
    writes_before = writes()

    # When its DeleteDedicatedIpPool event arrives, and the requests it queued come back
    deliver(sample_event("delete_dedicated_ip_pool.json", pool="marketing"))
    queued = drain_work_queue(swept)
    deliver(*queued)

    # Then exactly the sets whose rule names the pool were looked at again
    assert len(queued) == len(MARKETING)
    # And each is an error, left where it is: no SES write
    assert writes() == writes_before
    assert all(seed.delivery_options(n)["SendingPoolName"] == "marketing" for n in MARKETING)
    assert outcomes(swept) == {
        **dict.fromkeys(MARKETING, "error"),
        **dict.fromkeys(LISTS, "error"),
        **dict.fromkeys(RECEIPTS, "compliant"),
    }
    alerts = received_alerts(swept)
    assert sorted(a["alert"]["configuration_set"] for a in alerts) == MARKETING
    assert all(a["attributes"]["outcome"] == "error" for a in alerts)
    assert all("marketing does not exist" in a["alert"]["reason"] for a in alerts)
    assert all(a["alert"]["event_name"] == "DeleteDedicatedIpPool" for a in alerts)


def test_a_created_target_pool_lets_the_sets_waiting_for_it_move(swept: LocalStack) -> None:
    # Given the "lists" pool the policy names is created at last
    seed.create_pool("lists")
    writes_before = writes()

    # When its CreateDedicatedIpPool event arrives, and the requests it queued come back
    deliver(sample_event("create_dedicated_ip_pool.json", pool="lists"))
    queued = drain_work_queue(swept)
    deliver(*queued)

    # Then the sets waiting for it are moved onto it, their other options kept
    assert len(queued) == len(LISTS)
    assert writes() - writes_before == len(LISTS)
    for name in LISTS:
        assert seed.delivery_options(name) == {
            "SendingPoolName": "lists",
            "TlsPolicy": "REQUIRE",
            "MaxDeliverySeconds": 900,
        }
    assert outcomes(swept) == {
        **dict.fromkeys(MARKETING, "compliant"),
        **dict.fromkeys(LISTS, "remediated"),
        **dict.fromkeys(RECEIPTS, "compliant"),
    }
    alerts = received_alerts(swept)
    assert sorted(a["alert"]["configuration_set"] for a in alerts) == LISTS
    assert all(a["attributes"]["outcome"] == "remediated" for a in alerts)
    assert all(a["alert"]["event_name"] == "CreateDedicatedIpPool" for a in alerts)
    # And nothing else was queued or touched
    assert drain_work_queue(swept) == []


def test_a_pool_no_rule_names_queues_nothing(swept: LocalStack) -> None:
    # Given a pool that no set is expected to use
    seed.create_pool("spare")

    # When its CreateDedicatedIpPool event arrives
    deliver(sample_event("create_dedicated_ip_pool.json", pool="spare"))

    # Then no set is looked at again
    assert drain_work_queue(swept) == []
    assert received_alerts(swept) == []
