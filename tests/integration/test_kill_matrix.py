"""The kill matrix: the event function killed (SIGKILL, in a process of its own: no
except, no finally) right after each AWS request of a look, a move and an identity's
assignment, then its message redelivered as SQS does. Whatever the request, exactly the
owed effects follow: the right final state, one SES write at most, one alert (at most
one repeat, under the same ``alert_id``, when the kill fell between SNS taking the alert
and the debt being marked paid: docs/design/work-queue.md), nothing left owed or held.

Each path's requests are listed below, in order; ``test_each_path_makes_exactly_the_
requests_listed`` checks that the lists are the paths' real requests, so the matrix
covers every one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_aws import call_counts, faults, seed
from local_aws.replay import sample_event, sqs_event
from local_aws.server import LocalAws, start_local_aws
from local_aws.stack import LocalStack, received_alerts
from tests.integration.test_exactly_once import ROOT, VISIBILITY_TIMEOUT, redeliver, run_killed
from tests.support import MARKETING_POLICY, marketing_account

INVENTORY = "ses-pool-enforcer-inventory"
IDENTITIES = "ses-pool-enforcer-identities"
BUDGET = "ses-pool-enforcer-state"

Request = tuple[str, str, str]  # service, action, table (DynamoDB's item requests)

# A set on the wrong pool, moved (docs/design/work-queue.md: "A move adds...").
MOVE: list[Request] = [
    ("ssm", "GetParameter", ""),
    ("dynamodb", "TransactWriteItems", ""),  # the claim and the read's budget slot
    ("sesv2", "GetConfigurationSet", ""),
    ("dynamodb", "UpdateItem", BUDGET),  # the next slot, for the pool's check
    ("sesv2", "GetDedicatedIpPool", ""),
    ("dynamodb", "GetItem", INVENTORY),  # its moves, for the flap guard
    ("dynamodb", "UpdateItem", BUDGET),  # the write's slot
    ("dynamodb", "UpdateItem", INVENTORY),  # the intent, and the write's window
    ("sesv2", "PutConfigurationSetDeliveryOptions", ""),
    ("dynamodb", "UpdateItem", INVENTORY),  # the move recorded, its alert owed
    ("sns", "Publish", ""),
    ("dynamodb", "UpdateItem", INVENTORY),  # paid, and let go
]
# A set an audit rule reports: a violation, its alert owed with the outcome.
LOOK: list[Request] = [
    ("ssm", "GetParameter", ""),
    ("dynamodb", "TransactWriteItems", ""),
    ("sesv2", "GetConfigurationSet", ""),
    ("dynamodb", "UpdateItem", BUDGET),
    ("sesv2", "GetDedicatedIpPool", ""),
    ("dynamodb", "UpdateItem", INVENTORY),  # the outcome, with its alert owed
    ("sns", "Publish", ""),
    ("dynamodb", "UpdateItem", INVENTORY),  # paid, and let go
]
# An identity given the default configuration set its rule names.
ASSIGNMENT: list[Request] = [
    ("ssm", "GetParameter", ""),
    ("dynamodb", "TransactWriteItems", ""),
    ("sesv2", "GetEmailIdentity", ""),
    ("dynamodb", "UpdateItem", BUDGET),
    ("sesv2", "GetConfigurationSet", ""),  # the default set exists
    ("dynamodb", "GetItem", IDENTITIES),
    ("dynamodb", "UpdateItem", BUDGET),
    ("dynamodb", "UpdateItem", IDENTITIES),
    ("sesv2", "PutEmailIdentityConfigurationSetAttributes", ""),
    ("dynamodb", "UpdateItem", IDENTITIES),
    ("sns", "Publish", ""),
    ("dynamodb", "UpdateItem", IDENTITIES),
]
IDENTITY_POLICY = (
    MARKETING_POLICY
    + "identities:\n"
    + "  - {id: news, match: {identities: [news.example.com]}, configuration_set: mkt-news}\n"
)


def move(_: LocalStack) -> dict[str, Any]:
    seed.create_set("mkt-daily", pool="transactional")
    return sqs_event(
        [sample_event("create_configuration_set_v2.json", configuration_set="mkt-daily")]
    )


def look(_: LocalStack) -> dict[str, Any]:
    seed.create_set("tx-receipts", pool="marketing")
    return sqs_event(
        [sample_event("create_configuration_set_v2.json", configuration_set="tx-receipts")]
    )


def assignment(_: LocalStack) -> dict[str, Any]:
    seed.put_policy(IDENTITY_POLICY)
    seed.create_set("mkt-news", pool="marketing")
    seed.create_identity("news.example.com")
    return sqs_event([sample_event("create_email_identity.json", identity="news.example.com")])


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    marketing_account()
    return stack


@pytest.fixture
def server(account: LocalStack) -> Iterator[LocalAws]:
    with start_local_aws() as aws:
        yield aws


PATHS = {"move": (move, MOVE), "look": (look, LOOK), "assignment": (assignment, ASSIGNMENT)}


def run(server: LocalAws, event: dict[str, Any]) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint_url, "PYTHONPATH": ROOT}
    subprocess.run(
        [sys.executable, "-m", "local_aws.invoke", "on_event"],
        input=json.dumps(event).encode(),
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize("path", sorted(PATHS))
def test_each_path_makes_exactly_the_requests_listed(
    account: LocalStack, server: LocalAws, path: str
) -> None:
    given, listed = PATHS[path]
    event = given(account)
    requests = faults.trace()
    run(server, event)
    faults.untrace()
    assert [(s, a, body.get("TableName", "")) for s, a, body in requests] == listed


def item(table: str, key: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=table, Key={key: {"S": name}}
    )["Item"]
    return found


CASES = [(path, step) for path, (_, listed) in sorted(PATHS.items()) for step in range(len(listed))]


@pytest.mark.parametrize(("path", "step"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_a_kill_after_any_request_leaves_exactly_the_effects_owed(
    account: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch, path: str, step: int
) -> None:
    given, listed = PATHS[path]
    event = given(account)
    service, action, table = listed[step]
    # (the earlier requests of the same kind pass)
    skip = listed[:step].count(listed[step])
    crash = faults.kill_after(
        service, action, skip=skip, where={"TableName": table} if table else None
    )

    # When the function dies right after that request, and SQS redelivers its message,
    # twice
    assert run_killed(server, event, crash) == -signal.SIGKILL
    alerts = received_alerts(account)
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)
    alerts += received_alerts(account)
    redeliver(event, monkeypatch, 2 * VISIBILITY_TIMEOUT)
    alerts += received_alerts(account)

    # Then the state is right, with one write at most, and nothing owed or held
    counts = call_counts()
    if path == "assignment":
        assert seed.default_set("news.example.com") == "mkt-news"
        assert counts.get("PutEmailIdentityConfigurationSetAttributes", 0) == 1
        left = item(account.identity_table, "identity", "news.example.com")
    else:
        name, pool = ("mkt-daily", "marketing") if path == "move" else ("tx-receipts", "marketing")
        assert seed.delivery_options(name)["SendingPoolName"] == pool
        assert counts.get("PutConfigurationSetDeliveryOptions", 0) == (path == "move")
        left = item(account.inventory_table, "configuration_set", name)
    assert "intent" not in left and "lease_owner" not in left
    # (the last look found a moved set compliant)
    outcome = "violation" if path == "look" else "remediated"
    assert left["outcome"]["S"] in {outcome, "compliant"}
    # And one alert: a second only if the kill fell right after SNS took the first
    # (then under the same alert_id, for subscribers to drop)
    assert {a["alert"]["outcome"] for a in alerts} == {outcome}
    assert len({a["attributes"]["alert_id"] for a in alerts}) == 1
    assert len(alerts) == (2 if (service, action) == ("sns", "Publish") else 1)
