"""Issue 2: the event function, end to end on local AWS: SQS batch in, SES changed,
alerts out through SNS, the inventory updated."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest

from functions.on_event import app
from local_aws import seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.pools import DEFAULT_POOL

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*", "newsletter-*"], tags: {stream: marketing}}
    pool: marketing
  - id: marketing-by-name
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit
  - id: bulk-tagged
    match: {tags: {stream: bulk}}
    pool: ses-default-dedicated-pool
  - id: newsletters-tagged
    match: {tags: {stream: marketing}}
    pool: marketing
  - id: lists
    match: {names: ["list-*"]}
    pool: lists-pool-not-created
exemptions:
  - configuration_set: legacy-*
    reason: OPS-42 migration
    expires: 2026-12-31
"""


def invoke(*events: dict[str, Any] | str) -> dict[str, Any]:
    result: dict[str, Any] = app.handler(sqs_event(events), LambdaContext())
    return result


def ses_writes() -> int:
    """PutConfigurationSetDeliveryOptions calls seen by local SES so far."""
    from local_aws.sesv2 import call_counts

    return call_counts().get("PutConfigurationSetDeliveryOptions", 0)


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    # Given an account with two dedicated pools and the policy above
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(POLICY)
    return stack


def test_a_set_created_in_the_wrong_pool_is_moved_and_keeps_tls_and_max_delivery(
    account: LocalStack,
) -> None:
    # Given a marketing set created on the transactional pool with TLS required
    seed.create_set(
        "mkt-weekly", pool="transactional", tls_policy="REQUIRE", max_delivery_seconds=600
    )

    # When its CreateConfigurationSet event arrives
    result = invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))

    # Then it is on the marketing pool, TLS and max delivery time unchanged
    assert result == {"batchItemFailures": []}
    assert seed.delivery_options("mkt-weekly") == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
        "MaxDeliverySeconds": 600,
    }
    # And one remediation alert names the actor and the event
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert alert["alert"]["previous_pool"] == "transactional"
    assert alert["alert"]["current_pool"] == "marketing"
    assert alert["alert"]["rule_id"] == "marketing-by-name"
    assert alert["alert"]["actor"].endswith("assumed-role/EmailPlatformAdmin/alice")
    assert alert["alert"]["event_id"]
    assert alert["attributes"] == {"outcome": "remediated", "configuration_set": "mkt-weekly"}
    assert len(alert["subject"]) < 100 and "mkt-weekly" in alert["subject"]
