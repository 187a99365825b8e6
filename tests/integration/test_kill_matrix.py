"""The kill matrix: the event function killed (SIGKILL, in a process of its own: no
except, no finally) right after each AWS request of a look, a move and an identity's
assignment, then its message redelivered as SQS does. Whatever the request, exactly the
owed effects follow: the right final state, one SES write at most, one alert (at most
one repeat, under the same ``alert_id``, when the kill fell between SNS taking the alert
and the debt being marked paid: docs/design/work-queue.md), nothing left owed or held.

A sweep step is killed the same way after each of its requests (its lock, checkpoint,
listings, and the looks it makes), then retried as the state machine retries a failed
step, with the same input: every set is judged by that sweep, none is skipped or counted
twice in the checkpoint, one write, one alert per outcome.

Each path's requests are listed below, in order; ``test_each_path_makes_exactly_the_
requests_listed`` (and ``test_a_sweep_step_makes_exactly_the_requests_listed``) check that
the lists are the paths' real requests, so the matrix covers every one of them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.sweep import app as sweep_app
from local_aws import call_counts, faults, seed
from local_aws import securityhub as local_hub
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.server import LocalAws, start_local_aws
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.state import StateTable
from ses_pool_enforcer.clock import SYSTEM
from tests.conftest import reset_process_caches
from tests.integration.test_exactly_once import ROOT, VISIBILITY_TIMEOUT, redeliver, run_killed
from tests.support import MARKETING_POLICY, marketing_account, shift_clock

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
    path = os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), ROOT)))
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint_url, "PYTHONPATH": path}
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


# --------------------------------------------------------------------------- a sweep step

# One sweep step over two sets (one moved, one an audit rule reports), checkpointed after
# each set (CHECKPOINT_EVERY_SETS made 1 in the step's process, so that a save falls
# between the sets and a kill can come before or after it).
SWEEP_STEP: list[Request] = [
    ("dynamodb", "UpdateItem", BUDGET),  # the sweep's lock renewed
    ("dynamodb", "GetItem", BUDGET),  # its checkpoint
    ("ssm", "GetParameter", ""),  # the pinned policy version
    ("dynamodb", "UpdateItem", BUDGET),  # a slot for listing the pools
    ("sesv2", "ListDedicatedIpPools", ""),
    # (the sweep's view of the pools kept in S3 for its later steps: not traced; a kill
    # after it is one before the next request)
    ("dynamodb", "UpdateItem", BUDGET),  # the lock renewed
    ("dynamodb", "PutItem", BUDGET),  # the checkpoint: when the view was read
    ("dynamodb", "UpdateItem", BUDGET),  # a slot for listing the sets
    ("sesv2", "ListConfigurationSets", ""),
    *MOVE[1:3],  # mkt-daily: claimed with its slot, read
    *MOVE[5:],  # (the pools listed: no pool check) moved, recorded, alerted, let go
    ("dynamodb", "UpdateItem", BUDGET),  # the lock renewed
    ("dynamodb", "PutItem", BUDGET),  # the checkpoint: mkt-daily done
    ("dynamodb", "GetItem", BUDGET),  # no pool or tenant change heard since the view
    *LOOK[1:3],  # tx-receipts: claimed, read
    *LOOK[5:],  # a violation recorded with its alert owed, alerted, let go
    ("dynamodb", "UpdateItem", BUDGET),
    ("dynamodb", "PutItem", BUDGET),  # the checkpoint: tx-receipts done
    ("dynamodb", "GetItem", BUDGET),
    ("dynamodb", "UpdateItem", BUDGET),
    ("dynamodb", "PutItem", BUDGET),  # the checkpoint: complete
]
STEP_SETS = {"mkt-daily": ("marketing", "remediated"), "tx-receipts": ("marketing", "violation")}
# The state machine retries a failed step (a killed Lambda is States.TaskFailed) with the
# same input, 5, 10 and 20 s apart (statemachine/sweep.asl.json): by the third retry,
# 35 s on, the lease any killed look held (30 s at most) has run out. (An earlier retry
# only waits in the step for the lease to end.)
STEP_RETRY = dt.timedelta(seconds=35)


def sweep_started(_: LocalStack) -> dict[str, Any]:
    """Two sets, and a sweep started (its lock and checkpoint taken): the step's input."""
    for name, (pool, _outcome) in STEP_SETS.items():
        seed.create_set(name, pool="transactional" if name.startswith("mkt") else pool)
    started: dict[str, Any] = sweep_app.handler(
        {"action": "start", "execution": "exec-1", "input": {"trigger": "manual"}},
        LambdaContext(),
    )
    return {"action": "step", "sweep": started}


def step_process(server: LocalAws, event: dict[str, Any]) -> subprocess.Popen[bytes]:
    """The sweep function's step in a process of its own, checkpointing after each set."""
    path = os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), ROOT)))
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint_url, "PYTHONPATH": path}
    code = (
        "import ses_pool_enforcer.sweep as sweep; sweep.CHECKPOINT_EVERY_SETS = 1; "
        "from local_aws.invoke import main; main(['sweep', '900000'])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    return child


def test_a_sweep_step_makes_exactly_the_requests_listed(
    account: LocalStack, server: LocalAws
) -> None:
    event = sweep_started(account)
    requests = faults.trace()
    child = step_process(server, event)
    child.communicate(json.dumps(event).encode(), timeout=120)
    faults.untrace()
    assert child.returncode == 0
    assert [(s, a, body.get("TableName", "")) for s, a, body in requests] == SWEEP_STEP


STEP_CASES = list(range(len(SWEEP_STEP)))


@pytest.mark.parametrize("step", STEP_CASES, ids=[f"sweep-{s}" for s in STEP_CASES])
def test_a_kill_after_any_request_of_a_sweep_step_leaves_exactly_the_effects_owed(
    account: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    event = sweep_started(account)
    service, action, table = SWEEP_STEP[step]
    skip = SWEEP_STEP[:step].count(SWEEP_STEP[step])
    crash = faults.kill_after(
        service, action, skip=skip, where={"TableName": table} if table else None
    )

    # When the step's process dies right after that request
    child = step_process(server, event)
    crash.pid = child.pid
    child.communicate(json.dumps(event).encode(), timeout=120)
    assert child.returncode == -signal.SIGKILL
    alerts = received_alerts(account)

    # And the state machine retries the step with the same input, then steps on until
    # the sweep says it is done
    shift_clock(monkeypatch, dt.datetime.now(dt.UTC) + STEP_RETRY)
    state = sweep_app.handler(event, LambdaContext())
    while not state["done"]:
        state = sweep_app.handler({"action": "step", "sweep": state}, LambdaContext())
    alerts += received_alerts(account)

    # Then every set was judged by this sweep and is on its pool, nothing owed or held
    for name, (pool, outcome) in STEP_SETS.items():
        assert seed.delivery_options(name)["SendingPoolName"] == pool
        left = item(account.inventory_table, "configuration_set", name)
        assert left["seen_by"]["S"] == state["sweep_id"]
        assert left["outcome"]["S"] in {outcome, "compliant"}
        assert "intent" not in left and "lease_owner" not in left
    # And the checkpoint counts each set once: none skipped, none counted twice
    checkpoint = StateTable(account.state_table, SYSTEM.time).checkpoint()
    assert checkpoint is not None and checkpoint.complete
    assert checkpoint.processed == len(STEP_SETS) == state["processed"]
    # And one write, one alert per outcome (a repeat, under the same alert_id, only
    # when the kill fell right after SNS took it)
    assert call_counts().get("PutConfigurationSetDeliveryOptions", 0) == 1
    by_set: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        by_set.setdefault(alert["attributes"]["configuration_set"], []).append(alert)
    assert sorted(by_set) == sorted(STEP_SETS)
    repeated = SWEEP_STEP[step] == ("sns", "Publish", "")
    for name, (_pool, outcome) in STEP_SETS.items():
        said = by_set[name]
        assert {a["alert"]["outcome"] for a in said} == {outcome}
        assert len({a["attributes"]["alert_id"] for a in said}) == 1
        first_publish = SWEEP_STEP.index(("sns", "Publish", ""))
        killed_after_its_publish = repeated and ((name == "mkt-daily") == (step == first_publish))
        assert len(said) == (2 if killed_after_its_publish else 1)


# --------------------------------------------------------------------------- Security Hub

# The look of a set an audit rule reports, with SecurityHub=enabled: its finding is owed
# with its outcome and its alert, and paid with the alert.
LOOK_WITH_HUB: list[Request] = [
    *LOOK[:5],
    ("dynamodb", "GetItem", INVENTORY),  # the outcome it replaces: does the finding change?
    ("dynamodb", "UpdateItem", INVENTORY),  # the outcome, its alert and finding owed
    ("sns", "Publish", ""),
    ("securityhub", "BatchImportFindings", ""),
    ("dynamodb", "UpdateItem", INVENTORY),  # paid, and let go
]


@pytest.fixture
def hub(account: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """SecurityHub=enabled (in this process and the function's), and Security Hub on."""
    monkeypatch.setenv("SECURITY_HUB", "enabled")
    reset_process_caches()
    boto3.client("securityhub").enable_security_hub()
    return account


def hub_findings() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("securityhub").get_findings()["Findings"]
    return found


def test_a_look_with_security_hub_makes_exactly_the_requests_listed(
    hub: LocalStack, server: LocalAws
) -> None:
    event = look(hub)
    requests = faults.trace()
    run(server, event)
    faults.untrace()
    assert [(s, a, body.get("TableName", "")) for s, a, body in requests] == LOOK_WITH_HUB


HUB_CASES = list(range(len(LOOK_WITH_HUB)))


@pytest.mark.parametrize("step", HUB_CASES, ids=[f"look-hub-{s}" for s in HUB_CASES])
def test_a_kill_after_any_request_of_a_look_with_security_hub_owes_its_one_finding(
    hub: LocalStack, server: LocalAws, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    event = look(hub)
    service, action, table = LOOK_WITH_HUB[step]
    skip = LOOK_WITH_HUB[:step].count(LOOK_WITH_HUB[step])
    crash = faults.kill_after(
        service, action, skip=skip, where={"TableName": table} if table else None
    )

    # When the function dies right after that request, and SQS redelivers its message
    assert run_killed(server, event, crash) == -signal.SIGKILL
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)
    redeliver(event, monkeypatch, 2 * VISIBILITY_TIMEOUT)

    # Then Security Hub holds the one finding of the violation, failing
    [finding] = hub_findings()
    assert finding["Compliance"]["Status"] == "FAILED"
    assert finding["ProductFields"]["ses-pool-enforcer/Outcome"] == "violation"
    # imported once (again, the same finding, only when the kill fell right after the
    # import and before the debt was marked paid)
    again = (service, action) == ("securityhub", "BatchImportFindings")
    assert local_hub.import_calls() == ([1, 1] if again else [1])
    left = item(hub.inventory_table, "configuration_set", "tx-receipts")
    assert "intent" not in left and "lease_owner" not in left
    assert left["outcome"]["S"] == "violation"
