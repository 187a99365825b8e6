"""The owed effects' last corners: a write whose retry finds no budget slot, a Security
Hub finding owed with its outcome, and the write windows kept for a late CloudTrail
record (docs/design/work-queue.md).

Each test runs the event function's real code against local AWS; where moto cannot
show what AWS does (an SDK attempt applied by SES but never answered), the fault is
injected at local AWS's door, after SES applied the request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from functions.on_event import app
from local_aws import faults, seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.clock import SYSTEM
from tests.conftest import reset_process_caches
from tests.integration.test_exactly_once import VISIBILITY_TIMEOUT, owed, redeliver
from tests.support import (
    marketing_account,
    ses_writes,
    shift_clock,
    tls_required_between_read_and_write,
)


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    marketing_account()
    seed.create_set("mkt-weekly", pool="transactional", tls_policy="REQUIRE")
    return stack


def creation(name: str = "mkt-weekly") -> dict[str, Any]:
    return sqs_event([sample_event("create_configuration_set_v2.json", configuration_set=name)])


def item(stack: LocalStack, name: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=stack.inventory_table, Key={"configuration_set": {"S": name}}
    )["Item"]
    return found


def test_a_write_whose_retry_finds_no_slot_stays_owed_and_the_next_holder_settles_it(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES applies the write but its answer never comes (the SDK's read timeout:
    # https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html lists
    # it as retried), and meanwhile other callers took the budget's slots for the next
    # 50 seconds, past the write's lease: the SDK's retry finds no slot (at SES's
    # documented rate, so that 50 seconds of slots is a budget other callers can hold)
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "1")
    reset_process_caches()

    def landed_unanswered() -> None:
        boto3.client("dynamodb").put_item(
            TableName=account.state_table,
            Item={"id": {"S": "ses-budget"}, "next_at": {"N": repr(SYSTEM.time() + 50)}},
        )
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    faults.after("sesv2", "PutConfigurationSetDeliveryOptions", landed_unanswered)

    # When the creation event is handled
    event = creation()
    assert app.handler(event, LambdaContext()) == {"batchItemFailures": []}

    # Then the set was moved by the first attempt, nobody has been told yet, and the
    # move is still owed (not dropped: whether it landed is for the next holder to see)
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert received_alerts(account) == []
    intent = owed(account, "mkt-weekly")
    assert intent is not None and intent["phase"]["S"] == "move"
    assert "lease_owner" not in item(account, "mkt-weekly")

    # When the set is next looked at (the message again, once the budget is free)
    faults.clear()
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then the move is recorded and alerted once, and SES was not written again
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert alert["alert"]["previous_pool"] == "transactional"
    assert alert["attributes"]["alert_id"] == intent["token"]["S"]
    assert item(account, "mkt-weekly")["outcome"]["S"] == "remediated"
    assert owed(account, "mkt-weekly") is None
    assert ses_writes() == 1
    assert seed.delivery_options("mkt-weekly")["TlsPolicy"] == "REQUIRE"


def test_a_persons_option_lost_under_an_earlier_write_is_put_back_after_a_later_one(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a set on the wrong pool, and a person who requires TLS on it between the
    # enforcer's read and its write (move A): the write sends back what it read
    tls_required_between_read_and_write("mkt-tls")
    seed.create_set("mkt-tls", pool="transactional")
    assert app.handler(creation("mkt-tls"), LambdaContext()) == {"batchItemFailures": []}
    faults.clear()
    assert "TlsPolicy" not in seed.delivery_options("mkt-tls")
    # And their CloudTrail record, not handled yet (a backlog)
    theirs = sample_event(
        "put_delivery_options_v2.json", configuration_set="mkt-tls", fresh_id=True
    )
    theirs["detail"]["requestParameters"]["sendingPoolName"] = "transactional"
    theirs["detail"]["eventTime"] = SYSTEM.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    record = sqs_event([theirs])

    # When, a minute later, someone else moves the set off its pool again (pool only:
    # SES keeps the options a Put leaves out) and the enforcer moves it back (move B)
    shift_clock(monkeypatch, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    boto3.client("sesv2").put_configuration_set_delivery_options(
        ConfigurationSetName="mkt-tls", SendingPoolName="transactional"
    )
    other = sample_event("put_delivery_options_v2.json", configuration_set="mkt-tls", fresh_id=True)
    other["detail"]["requestParameters"] = {
        "configurationSetName": "mkt-tls",
        "sendingPoolName": "transactional",
    }
    other["detail"]["eventTime"] = SYSTEM.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert app.handler(sqs_event([other]), LambdaContext()) == {"batchItemFailures": []}
    assert seed.delivery_options("mkt-tls") == {"SendingPoolName": "marketing"}
    # and only then the person's record is handled
    assert app.handler(record, LambdaContext()) == {"batchItemFailures": []}

    # Then what they asked for is back, on the pool the policy demands: move A's window
    # was kept though move B came after it
    assert seed.delivery_options("mkt-tls") == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
    }
    assert "restored TlsPolicy=REQUIRE" in received_alerts(account)[-1]["alert"]["reason"]


@pytest.mark.parametrize("landed", [False, True], ids=["refused", "landed unanswered"])
def test_an_owed_restore_is_settled_by_whether_the_set_holds_what_it_sent(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    # Given a person's TLS lost under the enforcer's move (as above), and their record
    tls_required_between_read_and_write("mkt-tls")
    seed.create_set("mkt-tls", pool="transactional")
    assert app.handler(creation("mkt-tls"), LambdaContext()) == {"batchItemFailures": []}
    faults.clear()
    theirs = sample_event(
        "put_delivery_options_v2.json", configuration_set="mkt-tls", fresh_id=True
    )
    theirs["detail"]["requestParameters"]["sendingPoolName"] = "transactional"
    theirs["detail"]["eventTime"] = SYSTEM.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    record = sqs_event([theirs])
    writes = ses_writes()
    # And, when the record is handled, the restoring write's first attempt either refused
    # before SES applies it (a 500) or applied and never answered (a read timeout); the
    # SDK retries either, while other callers took the budget's next 50 s: the retry
    # finds no slot, and the restore stays owed (its pool is the set's pool already, so
    # only the options can tell whether it happened)
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "1")
    reset_process_caches()

    def budget_taken() -> None:
        boto3.client("dynamodb").put_item(
            TableName=account.state_table,
            Item={"id": {"S": "ses-budget"}, "next_at": {"N": repr(SYSTEM.time() + 50)}},
        )

    def unanswered() -> None:
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    intent_recorded = faults.after("dynamodb", "UpdateItem", budget_taken)
    intent_recorded.where = {"TableName": account.inventory_table}
    if landed:
        faults.after("sesv2", "PutConfigurationSetDeliveryOptions", unanswered)
    else:
        faults.fail("sesv2", "PutConfigurationSetDeliveryOptions")
    assert app.handler(record, LambdaContext()) == {"batchItemFailures": []}
    assert ("TlsPolicy" in seed.delivery_options("mkt-tls")) is landed
    intent = owed(account, "mkt-tls")
    assert intent is not None and intent["phase"]["S"] == "move"
    alerts = received_alerts(account)

    # When the record is delivered again, once the budget is free
    faults.clear()
    redeliver(record, monkeypatch, VISIBILITY_TIMEOUT)

    # Then TLS is back, written once (a landed restore is finished, not made again; one
    # that never landed is made now), and the one alert saying so is true
    assert seed.delivery_options("mkt-tls") == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
    }
    assert ses_writes() == writes + 1
    [restored] = received_alerts(account)
    assert "restored TlsPolicy=REQUIRE" in restored["alert"]["reason"]
    assert [a["alert"]["outcome"] for a in alerts] == ["remediated"]  # move A's, only
    assert owed(account, "mkt-tls") is None


def test_a_write_throttled_after_an_unanswered_attempt_stays_owed(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES applies the write but its answer never comes (a read timeout), and then
    # throttles the SDK's two retries (429: those two applied nothing): the write ends
    # "throttled", though its first attempt landed
    def unanswered() -> None:
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    faults.after("sesv2", "PutConfigurationSetDeliveryOptions", unanswered)
    faults.fail(
        "sesv2",
        "PutConfigurationSetDeliveryOptions",
        times=2,
        code="TooManyRequestsException",
        status=429,
    )

    # When the creation event is handled
    event = creation()
    assert app.handler(event, LambdaContext()) == {"batchItemFailures": []}

    # Then the set was moved, nobody told yet, and the move is still owed
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert received_alerts(account) == []
    intent = owed(account, "mkt-weekly")
    assert intent is not None and intent["phase"]["S"] == "move"

    # When the set is next looked at
    faults.clear()
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then the move is recorded and alerted once, with no second write
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert owed(account, "mkt-weekly") is None
    assert ses_writes() == 1


def test_a_write_that_failed_without_an_answer_stays_owed_and_one_refused_is_an_error(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES failing the move's write on every attempt (500: it may have landed)
    faults.fail("sesv2", "PutConfigurationSetDeliveryOptions", times=3)

    # When the creation event is handled
    event = creation()
    assert len(app.handler(event, LambdaContext())["batchItemFailures"]) == 1

    # Then the message fails for its retry, and the move stays owed: nobody is told
    # that the set was, or was not, moved
    assert received_alerts(account) == []
    intent = owed(account, "mkt-weekly")
    assert intent is not None and intent["phase"]["S"] == "move"

    # When the retry finds SES refusing the request itself (400: not applied, and
    # asking again will not help)
    faults.clear()
    faults.fail(
        "sesv2", "PutConfigurationSetDeliveryOptions", code="BadRequestException", status=400
    )
    redeliver(event, monkeypatch, VISIBILITY_TIMEOUT)

    # Then the move that never landed is dropped, and the set is recorded in error, its
    # owners told once, the message done with
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "error"
    assert "not moved" in alert["alert"]["reason"]
    assert item(account, "mkt-weekly")["outcome"]["S"] == "error"
    assert owed(account, "mkt-weekly") is None
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "transactional"
