"""Issue 8: exactly one alert per remediation, whatever dies after the write.

A crash is the process killed the way Lambda ends an invocation (SIGKILL: no except, no
finally): the event function runs in a child process against the local AWS server, and
the server kills it right after the request named has been applied. The message is then
redelivered, as SQS does once its visibility timeout (6 minutes) has passed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.on_event import app
from local_aws import call_counts, faults, seed
from local_aws.faults import Fault
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.server import LocalAws, start_local_aws
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.inventory import IDENTITIES, Inventory
from tests.support import MARKETING_POLICY, marketing_account, ses_writes, shift_clock

VISIBILITY_TIMEOUT = dt.timedelta(seconds=361)
RETRIES_EXHAUSTED = 10  # more failures in a row than the SDK retries
ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    marketing_account()
    seed.create_set("mkt-weekly", pool="transactional", tls_policy="REQUIRE")
    return stack


@pytest.fixture
def server(account: LocalStack) -> Iterator[LocalAws]:
    with start_local_aws() as aws:
        yield aws


def creation() -> dict[str, Any]:
    return sqs_event(
        [sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")]
    )


def run_killed(server: LocalAws, event: dict[str, Any], crash: Fault) -> int:
    """The event function in a process of its own, which ``crash`` kills."""
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint_url, "PYTHONPATH": ROOT}
    child = subprocess.Popen(
        [sys.executable, "-m", "local_aws.invoke", "on_event"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    crash.pid = child.pid
    child.communicate(json.dumps(event).encode(), timeout=120)
    return child.returncode


def redeliver(event: dict[str, Any], monkeypatch: pytest.MonkeyPatch, after: dt.timedelta) -> None:
    """The same message again, ``after`` the first delivery, as SQS redelivers it."""
    shift_clock(monkeypatch, dt.datetime.now(dt.UTC) + after)
    record = {**event["Records"][0], "attributes": {**event["Records"][0]["attributes"]}}
    record["attributes"]["ApproximateReceiveCount"] = "2"
    result = app.handler({"Records": [record]}, LambdaContext())
    assert result == {"batchItemFailures": []}


def inventory_row(stack: LocalStack, name: str) -> dict[str, str]:
    return {r["configuration_set"]: r for r in Inventory(stack.inventory_table).rows()}[name]


def owed(stack: LocalStack, name: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(
        TableName=stack.inventory_table, Key={"configuration_set": {"S": name}}
    )["Item"]
    intent: dict[str, Any] | None = item.get("intent", {}).get("M")
    return intent


def test_a_process_killed_right_after_the_write_owes_the_alert_and_the_retry_sends_it_once(
    account: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a set on the wrong pool, and its creation event
    event = creation()

    # When the event function dies right after SES applied its write
    crash = faults.kill_after("sesv2", "PutConfigurationSetDeliveryOptions")
    assert run_killed(server, event, crash) == -signal.SIGKILL

    # Then the set was moved, nobody has been told yet, and the move is owed
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert received_alerts(account) == []
    intent = owed(account, "mkt-weekly")
    assert intent is not None and intent["phase"]["S"] == "move"

    # When SQS redelivers the message
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then exactly one remediation alert, and the inventory says what happened
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert alert["alert"]["previous_pool"] == "transactional"
    assert inventory_row(account, "mkt-weekly")["outcome"] == "remediated"
    assert owed(account, "mkt-weekly") is None
    assert ses_writes() == 1  # the retry did not write again

    # And one more delivery of the same event adds nothing
    redeliver(event, monkeypatch, 2 * VISIBILITY_TIMEOUT)
    assert received_alerts(account) == []


def test_a_process_killed_after_recording_the_move_sends_its_alert_on_the_retry(
    account: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the event function dies once the move is recorded (the inventory's updates:
    # the intent, then the record), before alerting
    event = creation()
    inventory = {"TableName": account.inventory_table}
    crash = faults.kill_after("dynamodb", "UpdateItem", skip=1, where=inventory)
    assert run_killed(server, event, crash) == -signal.SIGKILL
    assert inventory_row(account, "mkt-weekly")["outcome"] == "remediated"
    assert received_alerts(account) == []

    # When SQS redelivers the message
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then the owed alert goes out, once
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert ses_writes() == 1


def test_a_failed_inventory_write_after_the_move_is_retried_into_one_alert(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB refusing the write that records the move (every retry of it:
    # throttled), after the claim and the intent went through
    event = creation()
    faults.fail(
        "dynamodb",
        "UpdateItem",
        times=RETRIES_EXHAUSTED,
        code="ProvisionedThroughputExceededException",
        status=400,
        skip=1,
        where={"TableName": account.inventory_table},
    )

    # When the event is handled
    result = app.handler(event, LambdaContext())

    # Then the set is moved but the message goes back to the queue, with no alert yet
    assert len(result["batchItemFailures"]) == 1
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert received_alerts(account) == []

    # When DynamoDB takes writes again and SQS redelivers the message
    faults.clear()
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then one alert, and the inventory is right
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert inventory_row(account, "mkt-weekly")["outcome"] == "remediated"
    assert ses_writes() == 1


def test_sns_and_the_fallback_queue_failing_once_give_one_alert_on_the_retry(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SNS and the fallback queue each refusing the next message (every retry of it)
    event = creation()
    faults.fail("sns", "Publish", times=RETRIES_EXHAUSTED)
    faults.fail("sqs", "SendMessage", times=RETRIES_EXHAUSTED)

    # When the set is moved
    result = app.handler(event, LambdaContext())

    # Then the message goes back to the queue: the alert is owed, not lost
    assert len(result["batchItemFailures"]) == 1
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    intent = owed(account, "mkt-weekly")
    assert intent is not None and intent["phase"]["S"] == "alert"

    # When SNS is back and SQS redelivers the message
    faults.clear()
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then one alert
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert ses_writes() == 1
    assert owed(account, "mkt-weekly") is None


def test_the_one_window_left_repeats_the_alert_under_the_same_id(
    account: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the event function dies after SNS took the alert, before noting that it did
    # (no store can publish and note in one step: docs/design/work-queue.md)
    event = creation()
    crash = faults.kill_after("sns", "Publish")
    assert run_killed(server, event, crash) == -signal.SIGKILL
    [first] = received_alerts(account)

    # When SQS redelivers the message
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then the alert comes again, under the same alert_id, for subscribers to drop
    [again] = received_alerts(account)
    assert again["attributes"]["alert_id"] == first["attributes"]["alert_id"]
    assert ses_writes() == 1


def test_an_identity_whose_process_died_after_its_write_is_alerted_once(
    account: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a policy that gives newsletter domains the mkt-news set, and a new domain
    seed.put_policy(
        MARKETING_POLICY
        + "identities:\n"
        + "  - {id: news, match: {identities: [news.example.com]}, configuration_set: mkt-news}\n"
    )
    seed.create_set("mkt-news", pool="marketing")
    seed.create_identity("news.example.com")
    event = sqs_event([sample_event("create_email_identity.json", identity="news.example.com")])

    # When the event function dies right after SES set the identity's default
    crash = faults.kill_after("sesv2", "PutEmailIdentityConfigurationSetAttributes")
    assert run_killed(server, event, crash) == -signal.SIGKILL

    # Then the default is set, nobody has been told, and the assignment is owed
    assert seed.default_set("news.example.com") == "mkt-news"
    assert received_alerts(account) == []
    item = boto3.client("dynamodb").get_item(
        TableName=account.identity_table, Key={"identity": {"S": "news.example.com"}}
    )["Item"]
    assert item["intent"]["M"]["phase"]["S"] == "move"

    # When SQS redelivers the message: one alert, and no second write
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)
    [alert] = received_alerts(account)
    assert alert["attributes"] == {
        "outcome": "remediated",
        "identity": "news.example.com",
        "alert_id": alert["alert"]["alert_id"],
    }
    assert alert["alert"]["current_configuration_set"] == "mkt-news"
    assert call_counts()["PutEmailIdentityConfigurationSetAttributes"] == 1
    # And the identity inventory keeps what happened, not what the retry found
    [row] = Inventory(account.identity_table, layout=IDENTITIES).rows()
    assert (row["identity"], row["outcome"]) == ("news.example.com", "remediated")
