"""Issue 8: the work queue's promises, on local AWS through the real event function.

Stingy (events on a set while it waits cost one look), serialised per set (two workers
never act on one set), rate-limited at the source (no worker sleeps for a slot it
cannot use before its deadline), a pool that appears is never judged missing from
memory, another actor's option caught in the read-write window is put back, and a
flapping hold is looked at again when it ends.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from functions.on_event import app
from local_aws import call_counts, faults, seed, set_throttle_every, throttled_counts
from local_aws.event_source import drain, queue_depth
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer import event_path
from ses_pool_enforcer.adapters.budget import SharedBudget, SlotRequest
from ses_pool_enforcer.adapters.inventory import Inventory, SlotTaken
from ses_pool_enforcer.adapters.ses import PoolDirectory
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.config import get_settings
from ses_pool_enforcer.event_path import (
    CLOCK_SKEW_SECONDS,
    DEFER_JITTER_SECONDS,
    SAFETY_SECONDS,
    handle_batch,
)
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.observability import metrics
from ses_pool_enforcer.reconciler import (
    CLAIM_ATTEMPTS,
    THROTTLED_BACKOFF_SECONDS,
    WRITE_SECONDS,
    Busy,
    Coalesced,
    Done,
    Reconciler,
)
from ses_pool_enforcer.runtime import Runtime, forget_runtime, get_runtime
from ses_pool_enforcer.work import Work
from tests.conftest import reset_process_caches
from tests.integration.test_shared_budget import next_at
from tests.integration.test_sweep import metrics_emitted
from tests.support import (
    invoke,
    marketing_account,
    ses_writes,
    shift_clock,
    tls_required_between_read_and_write,
)


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    marketing_account()
    return stack


def reads() -> int:
    return call_counts().get("GetConfigurationSet", 0)


def send(stack: LocalStack, events: list[dict[str, Any]]) -> None:
    sqs = boto3.client("sqs")
    for start in range(0, len(events), 10):
        sqs.send_message_batch(
            QueueUrl=stack.work_queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps(e)}
                for i, e in enumerate(events[start : start + 10])
            ],
        )


def queued(stack: LocalStack) -> list[dict[str, Any]]:
    """The messages waiting on the work queue (delayed ones included: read by peeking
    at local SQS), as JSON."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"]["us-east-1"].queues[
        stack.work_queue_url.rsplit("/", 1)[-1]
    ]
    return [json.loads(m.body) for m in queue._messages]


# --------------------------------------------------------------------------- stingy


def test_fifty_events_on_five_sets_cost_five_reads(account: LocalStack) -> None:
    # Given a tagging script that touched 5 sets 10 times each, all on the wrong pool
    names = [f"mkt-{i}" for i in range(5)]
    for name in names:
        seed.create_set(name, pool="transactional")
    send(
        account,
        [
            sample_event("tag_resource.json", configuration_set=name, fresh_id=True)
            for _ in range(10)
            for name in names
        ],
    )
    time.sleep(CLOCK_SKEW_SECONDS + 0.1)  # the event source mapping's batching window

    # When the event source mapping delivers them in batches of 10
    stats = drain(account.work_queue_url, app.handler)

    # Then each set was read once and moved once, and its owners told once
    assert stats.messages == 50 and stats.failures == 0
    assert reads() == 5
    assert ses_writes() == 5
    assert sorted(a["alert"]["configuration_set"] for a in received_alerts(account)) == names
    assert queue_depth(account.work_queue_url) == 0


def test_an_event_sent_after_a_look_began_gets_a_look_of_its_own(account: LocalStack) -> None:
    # Given a set looked at a moment ago
    seed.create_set("mkt-weekly", pool="marketing")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    assert reads() == 1

    # When someone moves it and the event of that arrives
    time.sleep(CLOCK_SKEW_SECONDS + 0.05)
    seed.set_pool("mkt-weekly", "transactional")
    invoke(
        sample_event("put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True)
    )

    # Then it is looked at again and moved back
    assert reads() == 2
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"


@pytest.mark.parametrize("message", ["event", "reconcile request"])
@pytest.mark.parametrize(("receive_count", "looked"), [(1, False), (2, True)])
def test_a_message_is_covered_by_a_look_after_its_change_unless_delivered_again(
    account: LocalStack, message: str, receive_count: int, looked: bool
) -> None:
    # Given a message about a change to mkt-weekly at t (an event stamped by SQS, or work
    # put back, which keeps its change's time), and a look at the set that began after t
    seed.create_set("mkt-weekly", pool="marketing")
    if message == "event":
        body = sample_event("tag_resource.json", configuration_set="mkt-weekly", fresh_id=True)
    else:
        observed = SYSTEM.time()
        body = Work("mkt-weekly", Trigger(source="test"), observed_at=observed).to_message()
    delivered = sqs_event([body], receive_count=receive_count)  # (stamped now)
    time.sleep(CLOCK_SKEW_SECONDS + 0.1)
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    assert reads() == 1

    # When the message is delivered (for the first time, or again)
    result = app.handler(delivered, LambdaContext())

    # Then the look covers it, unless SQS delivers it again: whoever claimed the set for
    # it may have died before looking
    assert result == {"batchItemFailures": []}
    assert reads() == (2 if looked else 1)


@pytest.mark.parametrize(
    ("after", "looked"), [(CLOCK_SKEW_SECONDS - 0.15, True), (CLOCK_SKEW_SECONDS + 0.15, False)]
)
def test_a_look_claimed_after_an_events_stamp_covers_it_only_past_the_clocks_skew(
    account: LocalStack, after: float, looked: bool
) -> None:
    # Given a set looked at once, then moved by someone, and the event of that stamped by
    # SQS now (SentTimestamp, in milliseconds)
    seed.create_set("mkt-weekly", pool="marketing")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    seed.set_pool("mkt-weekly", "transactional")
    event = sqs_event(
        [
            sample_event(
                "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
            )
        ]
    )
    stamp = int(event["Records"][0]["attributes"]["SentTimestamp"]) / 1000
    # And another consumer's look at the set, claimed a little after that stamp and over
    boto3.client("dynamodb").update_item(
        TableName=account.inventory_table,
        Key={"configuration_set": {"S": "mkt-weekly"}},
        UpdateExpression="SET claimed_at = :at",
        ExpressionAttributeValues={":at": {"N": repr(stamp + after)}},
    )

    # When the event is handled
    assert app.handler(event, LambdaContext()) == {"batchItemFailures": []}

    # Then a look claimed within the clocks' skew of the stamp does not stand in for it
    # (SQS's clock and the worker's may disagree by that much); one claimed later does
    assert reads() == (2 if looked else 1)
    pool = "marketing" if looked else "transactional"
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == pool


# --------------------------------------------------------------------------- one worker a set


def test_two_consumers_on_one_set_make_one_write_and_one_alert(account: LocalStack) -> None:
    # Given a set on the wrong pool and two events about it, in two batches
    seed.create_set("mkt-weekly", pool="transactional")
    first = sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    second = sample_event("tag_resource.json", configuration_set="mkt-weekly", fresh_id=True)
    # And the first consumer paused right after its read until the second has tried to
    # hold the set: the worst moment for two workers to meet
    second_tried = threading.Event()
    faults.after("sesv2", "GetConfigurationSet", lambda: second_tried.wait(10))
    faults.after("dynamodb", "TransactWriteItems", second_tried.set).skip = 1
    results: dict[str, Any] = {}

    def consume(name: str, event: dict[str, Any]) -> None:
        results[name] = app.handler(sqs_event([event]), LambdaContext())

    # When two consumers take them at the same time
    one = threading.Thread(target=consume, args=("one", first))
    one.start()
    time.sleep(0.2)
    two = threading.Thread(target=consume, args=("two", second))
    two.start()
    one.join(30)
    two.join(30)

    # Then one moved it and alerted; the other put its work back for later, not failed
    assert second_tried.is_set()
    assert ses_writes() == 1
    assert [a["alert"]["outcome"] for a in received_alerts(account)] == ["remediated"]
    assert results == {"one": {"batchItemFailures": []}, "two": {"batchItemFailures": []}}
    [put_back] = queued(account)
    assert put_back["kind"] == "reconcile" and put_back["configuration_set"] == "mkt-weekly"


def test_the_flap_guard_counts_every_move_of_concurrent_consumers(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a set another automation moves back again and again, and two consumers
    monkeypatch.setenv("FLAP_THRESHOLD", "10")
    seed.create_set("mkt-weekly", pool="marketing")
    rounds = 4

    # When, each time, both consumers get an event about it at once
    for _ in range(rounds):
        time.sleep(CLOCK_SKEW_SECONDS + 0.05)
        seed.set_pool("mkt-weekly", "transactional")
        events = [
            sample_event(
                "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
            )
            for _ in range(2)
        ]
        threads = [
            threading.Thread(target=app.handler, args=(sqs_event([e]), LambdaContext()))
            for e in events
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    # Then each revert was undone once, and the count of moves holds every one of them
    assert ses_writes() == 2 * rounds  # the other actor's and the enforcer's
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    assert len(item["moves"]["L"]) == rounds


# --------------------------------------------------------------------------- the deadline


def test_a_consumer_with_no_budget_slot_before_its_deadline_puts_its_work_back_at_once(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES's one call a second, the account's budget taken for the next thirty
    # seconds (by the sweep and other consumers; no further: a next_at more than
    # SharedBudget.MAX_PENDING slots ahead is no caller's), and ten events about ten sets
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "1")
    get_settings.cache_clear()
    forget_runtime()
    boto3.client("dynamodb").put_item(
        TableName=account.state_table,
        Item={"id": {"S": "ses-budget"}, "next_at": {"N": repr(SYSTEM.time() + 30)}},
    )
    names = [f"mkt-{i}" for i in range(10)]
    for name in names:
        seed.create_set(name, pool="transactional")
    events = [
        sample_event("create_configuration_set_v2.json", configuration_set=n, fresh_id=True)
        for n in names
    ]

    # When an invocation with a minute to live gets them
    started = time.monotonic()
    result = app.handler(sqs_event(events), LambdaContext(remaining_ms=60_000))
    elapsed = time.monotonic() - started

    # Then it did not wait: every message went back as a new one, none toward the
    # dead-letter queue, and no set was read or held
    assert elapsed < 5
    assert result == {"batchItemFailures": []}
    assert sorted(m["configuration_set"] for m in queued(account)) == names
    assert reads() == 0
    rows = boto3.client("dynamodb").scan(TableName=account.inventory_table)["Items"]
    assert all("lease_owner" not in row for row in rows)


@pytest.mark.parametrize(("remaining_ms", "looked"), [(18_000, False), (26_000, True)])
def test_a_consumer_starts_a_look_only_if_its_write_could_follow_before_the_deadline(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, remaining_ms: int, looked: bool
) -> None:
    # Given SES's one call a second, the budget's next six seconds taken by other
    # callers, and a set on the wrong pool
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "1")
    get_settings.cache_clear()
    forget_runtime()
    seed.create_set("mkt-weekly", pool="transactional")
    event = sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    boto3.client("dynamodb").put_item(
        TableName=account.state_table,
        Item={"id": {"S": "ses-budget"}, "next_at": {"N": repr(SYSTEM.time() + 6)}},
    )

    # When an invocation whose deadline (its time left less 10 s) is 8 s away gets its
    # event (a read at +6 s, then a write queued behind as many callers, at about +13 s,
    # would come after it; its cold start takes some of the six seconds, not enough), or
    # one whose deadline is 16 s away
    result = app.handler(sqs_event([event]), LambdaContext(remaining_ms=remaining_ms))

    # Then with 8 s the set is not read at all (a read given back unused would be paid
    # again by the next look): the work goes back as a new message; with 16 s it is moved
    assert result == {"batchItemFailures": []}
    assert reads() == (1 if looked else 0)
    assert ses_writes() == (1 if looked else 0)
    assert [m["configuration_set"] for m in queued(account)] == ([] if looked else ["mkt-weekly"])


def test_an_invocation_too_close_to_its_timeout_puts_its_sets_back_unread(
    account: LocalStack,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given events about two sets on the wrong pool
    names = ["mkt-a", "mkt-b"]
    for name in names:
        seed.create_set(name, pool="transactional")
    events = [
        sample_event("create_configuration_set_v2.json", configuration_set=n, fresh_id=True)
        for n in names
    ]

    sent = faults.after("sqs", "SendMessageBatch", lambda: None, times=2)
    # (the jitter's draw fixed at 0.30864 of its range, 0.61728 s: the delays exact)
    draws: list[tuple[float, float]] = []

    def drawn(low: float, high: float) -> float:
        draws.append((low, high))
        return low + (high - low) * 0.30864

    monkeypatch.setattr(event_path.random, "uniform", drawn)

    # When an invocation with less than the safety margin left (SAFETY_SECONDS) gets them
    left = int((SAFETY_SECONDS - 1) * 1000)
    result = app.handler(sqs_event(events), LambdaContext(remaining_ms=left))

    # Then no set is started: each goes back as a new message (none toward the
    # dead-letter queue), unread and unheld
    assert result == {"batchItemFailures": []}
    assert sorted(m["configuration_set"] for m in queued(account)) == names
    assert reads() == 0
    assert boto3.client("dynamodb").scan(TableName=account.inventory_table)["Items"] == []
    # (each message saying how often its work was put back: once; visible again at once
    # but for the jitter, drawn from 0 to DEFER_JITTER_SECONDS: 0.61728 s, which SQS
    # takes in whole seconds, rounded up; the delay logged to the millisecond; counted)
    assert [m.get("deferrals") for m in queued(account)] == [1, 1]
    assert draws == [(0, DEFER_JITTER_SECONDS)] * 2
    delays = [e["DelaySeconds"] for body in sent.bodies for e in body["Entries"]]
    assert delays == [1, 1]
    logged = [r.__dict__ for r in caplog.records if r.getMessage() == "put back for later"]
    assert [(e["why"], e["delay"], e["deferrals"]) for e in logged] == [
        ("out of time", 0.617, 1)
    ] * 2
    assert metrics_emitted(capsys.readouterr().out)["WorkDeferred"] == [1.0, 1.0]

    # And put back again by another invocation as short of time, each says it is the
    # second time (what a query over the logs finds a starved set by)
    caplog.clear()
    again = queued(account)
    app.handler(sqs_event(again), LambdaContext(remaining_ms=left))
    logged = [r.__dict__ for r in caplog.records if r.getMessage() == "put back for later"]
    assert [e["deferrals"] for e in logged] == [2, 2]
    assert sorted(m.get("deferrals") for m in queued(account)) == [1, 1, 2, 2]


def test_a_write_ses_throttles_is_retried_on_a_budget_slot_of_its_own(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one SES call a second, a set on the wrong pool, and SES refusing every second
    # request (429), so the write's first attempt is refused
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "1")
    get_settings.cache_clear()
    forget_runtime()
    seed.create_set("mkt-weekly", pool="transactional")
    event = sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    slots: list[float] = []
    taken = SharedBudget.taken

    def counted(self: SharedBudget, request: SlotRequest) -> None:
        slots.append(request.slot)
        taken(self, request)

    monkeypatch.setattr(SharedBudget, "taken", counted)
    set_throttle_every(2)

    # When its event is handled
    result = app.handler(sqs_event([event]), LambdaContext(remaining_ms=60_000))
    received = sum(v for k, v in call_counts().items() if not k.startswith("Create"))
    refused = throttled_counts()
    set_throttle_every(None)

    # Then the write was retried by the SDK and landed, and every request SES received,
    # the refused ones included, took a budget slot of its own, an interval apart: a
    # retry never rides on the slot of the attempt SES refused
    assert result == {"batchItemFailures": []}
    assert seed.delivery_options("mkt-weekly").get("SendingPoolName") == "marketing"
    assert refused.get("PutConfigurationSetDeliveryOptions") == 1
    assert ses_writes() == 2
    assert len(slots) == received
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(slots))


class StillClock(Clock):
    """Time stands still at ``at``; sleeps are recorded, not slept."""

    def __init__(self) -> None:
        self.at = 1_800_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def frozen_runtime(monkeypatch: pytest.MonkeyPatch, rate: int) -> tuple[Runtime, StillClock]:
    """The deployment's runtime at ``rate`` SES calls a second, on a clock that stands
    still (sleeps recorded, not slept): slots and deadlines to the exact second."""
    monkeypatch.setenv("SES_CALLS_PER_SECOND", str(rate))
    get_settings.cache_clear()
    forget_runtime()
    clock = StillClock()
    return Runtime.from_settings(get_settings(), clock), clock


def budget_taken_until(stack: LocalStack, at: float) -> None:
    """Other callers hold the budget's slots until ``at`` (its next free slot)."""
    boto3.client("dynamodb").put_item(
        TableName=stack.state_table,
        Item={"id": {"S": "ses-budget"}, "next_at": {"N": repr(at)}},
    )


# At 2 calls a second: the read's slot, as many seconds again queued behind the callers
# ahead (``queued``), then the write's interval. Exact on a frozen clock.
@pytest.mark.parametrize(
    ("queued", "deadline", "looked"),
    [
        (0.0, 0.25, False),  # the write's slot (+0.5 s) comes after the deadline
        (0.0, 0.5, True),  # the write's slot is at the deadline itself
        (0.0, 1.0, True),
        (3.0, 6.0, False),  # read at +3 s, the write at about +6.5 s
        (3.0, 6.5, True),
        (3.0, 7.0, True),
        (3.0, None, True),  # no deadline: as long as it takes
    ],
)
def test_a_look_starts_only_if_its_write_could_follow_before_the_deadline_to_the_second(
    account: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    queued: float,
    deadline: float | None,
    looked: bool,
) -> None:
    # Given 2 SES calls a second, the budget's next ``queued`` seconds taken by others,
    # and a set on the wrong pool
    runtime, clock = frozen_runtime(monkeypatch, 2)
    if queued:
        budget_taken_until(account, clock.at + queued)
    seed.create_set("mkt-weekly", pool="transactional")
    finish_by = None if deadline is None else clock.at + deadline

    # When a worker that knows the pools (as a warm one does) is asked to reconcile it
    # with that deadline for its write
    pools = PoolDirectory(runtime.ses, {"marketing", "transactional"}, clock=clock)
    result = runtime.reconciler(pools=pools).reconcile(
        Work("mkt-weekly", Trigger(source="test")), finish_by=finish_by
    )

    # Then it looks and moves the set only if the write's slot is not after the deadline;
    # otherwise it neither reads nor holds the set, nor takes the read's slot
    if looked:
        assert isinstance(result, Done) and result.record.outcome is Outcome.REMEDIATED
        assert (reads(), ses_writes()) == (1, 1)
        assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    else:
        assert deadline is not None
        assert result == Busy(clock.at + deadline, "no time for a write after the read")
        assert (reads(), ses_writes()) == (0, 0)
        assert next_at(account) == (clock.at + queued if queued else None)
        assert boto3.client("dynamodb").scan(TableName=account.inventory_table)["Items"] == []


# The read's retries must have their slots while the set is still held: by the lease's
# end (20 s after the claim) less READ_MARGIN_SECONDS (5 s).
@pytest.mark.parametrize(("taken_for", "looked"), [(10.0, True), (17.0, False)])
def test_a_read_retried_takes_a_slot_of_its_own_only_while_the_set_is_still_held(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, taken_for: float, looked: bool
) -> None:
    # Given a compliant set, at 2 SES calls a second, whose read fails once (a 500, which
    # the SDK retries); and other callers who take the budget's next ``taken_for``
    # seconds right after this worker claimed the set with its read's slot
    runtime, clock = frozen_runtime(monkeypatch, 2)
    seed.create_set("mkt-weekly", pool="marketing")
    faults.after(
        "dynamodb", "TransactWriteItems", lambda: budget_taken_until(account, clock.at + taken_for)
    )
    faults.fail("sesv2", "GetConfigurationSet")
    before = faults.request_counts().get("sesv2:GetConfigurationSet", 0)

    # When the worker reconciles it
    result = runtime.reconciler().reconcile(Work("mkt-weekly", Trigger(source="test")))

    # Then the first attempt used the slot taken with the claim, and the retry took the
    # next free one: 10 s ahead, waited for and read; 17 s ahead, after the lease's
    # margin, refused, and the set given back unread
    assert faults.request_counts()["sesv2:GetConfigurationSet"] - before == 1 + looked
    if looked:
        assert isinstance(result, Done) and result.record.outcome is Outcome.COMPLIANT
        assert clock.slept == [taken_for]
        assert next_at(account) == clock.at + taken_for + 0.5
    else:
        assert result == Busy(clock.at + taken_for, "no SES call slot before the deadline")
        assert clock.slept == []
        assert next_at(account) == clock.at + taken_for
        item = boto3.client("dynamodb").get_item(
            TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
        )["Item"]
        assert "lease_owner" not in item


# A move holds the set WRITE_SECONDS (30 s) from its write's slot; no attempt of the
# write (the SDK's retries) may start later than WRITE_ATTEMPT_SECONDS (8 s) before that
# lease ends, nor after the caller's deadline. At 2 calls a second on a still clock: the
# read's slot now, the write's at +0.5 s, the lease to +30.5 s, the last start +22.5 s.
@pytest.mark.parametrize(
    ("taken_for", "deadline", "moved"),
    [
        (20.0, None, True),
        (22.5, None, True),  # the last start itself
        (23.0, None, False),  # past it: the attempt could land after the lease
        (15.0, 14.0, False),  # before it, but past the caller's deadline
    ],
)
def test_a_write_retried_takes_a_slot_of_its_own_only_while_its_lease_leaves_time_for_it(
    account: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    taken_for: float,
    deadline: float | None,
    moved: bool,
) -> None:
    # Given a set on the wrong pool, at 2 SES calls a second, whose write SES applies
    # without an answer (a read timeout, which the SDK retries), while other callers
    # take the budget's next ``taken_for`` seconds
    runtime, clock = frozen_runtime(monkeypatch, 2)
    seed.create_set("mkt-weekly", pool="transactional")
    leases: list[float] = []
    begin_move = Inventory.begin_move

    def recorded(self: Inventory, claim: Any, intent: Any, lease_until: float, *a: Any) -> None:
        leases.append(lease_until)
        begin_move(self, claim, intent, lease_until, *a)

    monkeypatch.setattr(Inventory, "begin_move", recorded)

    def landed_unanswered() -> None:
        budget_taken_until(account, clock.at + taken_for)
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    faults.after("sesv2", "PutConfigurationSetDeliveryOptions", landed_unanswered)
    finish_by = None if deadline is None else clock.at + deadline

    # When a worker that knows the pools reconciles it
    pools = PoolDirectory(runtime.ses, {"marketing", "transactional"}, clock=clock)
    result = runtime.reconciler(pools=pools).reconcile(
        Work("mkt-weekly", Trigger(source="test")), finish_by=finish_by
    )

    # Then the set was held to 30 s past the write's slot, and the retry waited for its
    # slot and wrote, the move recorded and the set let go; or, with no slot in time,
    # the set is given back, the move still owed
    assert leases == [clock.at + 0.5 + WRITE_SECONDS]
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    row = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    assert "lease_owner" not in row
    if moved:
        assert isinstance(result, Done) and result.record.outcome is Outcome.REMEDIATED
        assert clock.slept == [0.5, taken_for]
        assert ses_writes() == 2
        assert "intent" not in row and row["outcome"]["S"] == "remediated"
    else:
        assert result == Busy(clock.at + taken_for, "no SES call slot before the deadline")
        assert clock.slept == [0.5]
        assert ses_writes() == 1
        assert row["intent"]["M"]["phase"]["S"] == "move"


def test_a_process_takes_each_claim_and_its_slot_in_one_write_while_it_calls_alone(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one process, calling faster than 1 SES call a second (its clock stands still),
    # and three compliant sets
    runtime, clock = frozen_runtime(monkeypatch, 1)
    names = ["mkt-1", "mkt-2", "mkt-3"]
    for name in names:
        seed.create_set(name, pool="marketing")
    reconciler = runtime.reconciler()
    before = faults.request_counts().get("dynamodb:TransactWriteItems", 0)

    # When it looks at them one after another
    for name in names:
        assert isinstance(reconciler.reconcile(Work(name, Trigger(source="test"))), Done)

    # Then each claim took its read's slot in one transaction: the next slot is the one
    # this process left (a right guess), never found by a refused first try
    assert faults.request_counts().get("dynamodb:TransactWriteItems", 0) - before == 3
    assert clock.slept == [1.0, 2.0]
    assert next_at(account) == clock.at + 3

    # When the budget's item is gone while the process's guess is still ahead (deleted
    # by hand, a table restored), and it looks again
    boto3.client("dynamodb").delete_item(
        TableName=account.state_table, Key={"id": {"S": "ses-budget"}}
    )
    before = faults.request_counts().get("dynamodb:TransactWriteItems", 0)
    assert isinstance(reconciler.reconcile(Work("mkt-1", Trigger(source="test"))), Done)

    # Then the wrong guess costs one refused try, and the retry takes the slot from now
    # (nothing seen: no guess again)
    assert faults.request_counts().get("dynamodb:TransactWriteItems", 0) - before == 2
    assert next_at(account) == clock.at + 1


def test_a_look_with_no_inventory_to_claim_in_takes_its_read_slot_on_its_own(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker with the shared budget but no inventory table to hold sets in (a
    # run without one: its claims are not recorded, so no slot is taken with them)
    runtime, clock = frozen_runtime(monkeypatch, 1)
    seed.create_set("mkt-1", pool="marketing")
    reconciler = replace(runtime.reconciler(), inventory=None)
    counts = faults.request_counts
    before = counts().get("dynamodb:UpdateItem", 0), counts().get("dynamodb:TransactWriteItems", 0)

    # When it looks at the set twice
    for _ in range(2):
        assert isinstance(reconciler.reconcile(Work("mkt-1", Trigger(source="test"))), Done)

    # Then each read took its slot with one conditional write of its own, and no guess
    # was made from a slot the unrecorded claim never took
    after = counts().get("dynamodb:UpdateItem", 0), counts().get("dynamodb:TransactWriteItems", 0)
    assert (after[0] - before[0], after[1] - before[1]) == (2, 0)
    assert next_at(account) == clock.at + 2


class SlotAlwaysTaken(Inventory):
    """An inventory whose every claim finds the budget's slot taken, each time at a new
    next_at: a budget item some broken caller keeps moving."""

    tries = 0

    def claim(
        self,
        name: str,
        owner: str,
        now: float,
        lease_seconds: float,
        *,
        observed_at: float | None = None,
        judged_by: int | None = None,
        sweep_id: str | None = None,
        slot: SlotRequest | None = None,
    ) -> SlotTaken:
        self.tries += 1
        return SlotTaken(repr(now + self.tries))


def test_a_claim_that_never_gets_its_slot_gives_up_by_name_and_is_counted(
    account: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a set whose every claim loses the budget's slot
    seed.create_set("mkt-weekly", pool="transactional")
    store = SlotAlwaysTaken(account.inventory_table)
    reconciler = replace(get_runtime().reconciler(), inventory=store)
    metrics.clear_metrics()

    # When it is reconciled, then the worker gives up after CLAIM_ATTEMPTS tries with an
    # error that names the set and the likely cause, counted once; the set unread
    with pytest.raises(
        RuntimeError,
        match=r"^mkt-weekly: no SES call slot taken with the claim after 100 tries; is the budget",
    ):
        reconciler.reconcile(Work("mkt-weekly", Trigger(source="test")))
    metrics.flush_metrics()
    assert store.tries == CLAIM_ATTEMPTS == 100
    assert reads() == 0
    assert metrics_emitted(capsys.readouterr().out)["ClaimAttemptsExhausted"] == [1.0]


def test_a_covered_event_is_counted_once(
    account: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a set looked at a moment ago
    seed.create_set("mkt-weekly", pool="marketing")
    reconciler = get_runtime().reconciler()
    observed = SYSTEM.time()
    assert isinstance(reconciler.reconcile(Work("mkt-weekly", Trigger(source="test"))), Done)
    metrics.clear_metrics()

    # When work reports a change that had happened before that look began
    result = reconciler.reconcile(
        Work("mkt-weekly", Trigger(source="test"), observed_at=observed - 1)
    )
    metrics.flush_metrics()

    # Then it is covered, not looked at again, and counted once
    assert result == Coalesced()
    assert reads() == 1
    assert metrics_emitted(capsys.readouterr().out)["WorkCoalesced"] == [1.0]


# --------------------------------------------------------------------------- fresh answers


def test_a_pool_created_a_moment_ago_is_not_judged_missing_from_memory(
    account: LocalStack,
) -> None:
    # Given a warm consumer that found the lists pool missing for one set
    seed.put_policy(
        "version: 1\nmode: enforce\nrules:\n"
        "  - {id: lists, match: {names: ['list-*']}, pool: lists}\n"
    )
    seed.create_set("list-a")
    seed.create_set("list-b")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="list-a"))
    [alert] = received_alerts(account)
    assert "does not exist" in alert["alert"]["reason"]

    # When the pool is created, and an event about another of its sets reaches the same
    # consumer before the pool's own event
    seed.create_pool("lists")
    invoke(
        sample_event("create_configuration_set_v2.json", configuration_set="list-b", fresh_id=True)
    )

    # Then it asks SES again and moves the set
    assert seed.delivery_options("list-b")["SendingPoolName"] == "lists"


def test_work_about_a_pool_change_makes_a_warm_consumer_ask_about_the_pool_again(
    account: LocalStack,
) -> None:
    # Given a warm consumer that moved a set to the marketing pool (so knows it exists)
    seed.create_set("mkt-a", pool="transactional")
    seed.create_set("mkt-b", pool="transactional")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-a"))
    assert [a["alert"]["outcome"] for a in received_alerts(account)] == ["remediated"]

    # When the pool is deleted, and the work another consumer fanned out for it arrives
    seed.delete_pool("marketing")
    writes = ses_writes()
    work = Work("mkt-b", Trigger(source="test"), fresh_pools=("marketing",)).to_message()
    assert invoke(work) == {"batchItemFailures": []}

    # Then it asks SES again: the pool is gone, an error and no write
    assert ses_writes() == writes
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "error" and "does not exist" in alert["alert"]["reason"]


def test_an_option_someone_set_while_the_enforcer_moved_the_set_is_put_back(
    account: LocalStack,
) -> None:
    # Given a set on the wrong pool, with TLS optional
    seed.create_set("mkt-weekly", pool="transactional")
    # And a person who requires TLS on it between the enforcer's read and its write
    tls_required_between_read_and_write("mkt-weekly")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    # (the enforcer's write sent back what it had read: TLS optional)
    assert "TlsPolicy" not in seed.delivery_options("mkt-weekly")

    # When the person's own CloudTrail record arrives
    theirs = sample_event(
        "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
    )
    theirs["detail"]["requestParameters"]["sendingPoolName"] = "transactional"
    theirs["detail"]["eventTime"] = SYSTEM.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    invoke(theirs)

    # Then their option is back, on the pool the policy demands, and the alert names it
    assert seed.delivery_options("mkt-weekly") == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
    }
    moved, restored = received_alerts(account)
    assert moved["alert"]["outcome"] == "remediated"
    assert "restored TlsPolicy=REQUIRE" in restored["alert"]["reason"]
    assert "EmailPlatformAdmin/alice" in restored["alert"]["reason"]


def test_an_audit_deployment_puts_back_no_option_a_person_lost_under_an_earlier_write(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a set the enforcer moved while a person required TLS on it (the write sent
    # back what it had read: TLS optional)
    seed.create_set("mkt-weekly", pool="transactional")
    tls_required_between_read_and_write("mkt-weekly")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    assert "TlsPolicy" not in seed.delivery_options("mkt-weekly")
    writes = ses_writes()
    received_alerts(account)
    # And the deployment switched to audit mode (it reports, it never writes) since
    monkeypatch.setenv("ENFORCEMENT_MODE", "audit")
    reset_process_caches()

    # When the person's own CloudTrail record arrives
    theirs = sample_event(
        "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
    )
    theirs["detail"]["requestParameters"]["sendingPoolName"] = "transactional"
    theirs["detail"]["eventTime"] = SYSTEM.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    invoke(theirs)

    # Then nothing is written (the option is not put back, by an audit deployment) and
    # the set, on its pool, is recorded compliant
    assert ses_writes() == writes
    assert seed.delivery_options("mkt-weekly") == {"SendingPoolName": "marketing"}
    assert received_alerts(account) == []
    [row] = Inventory(account.inventory_table).rows()
    assert row["outcome"] == "compliant"


def test_a_held_set_is_looked_at_again_when_its_hold_ends(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a set another automation reverted four times within the hour: held
    monkeypatch.setenv("FLAP_THRESHOLD", "3")
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    seed.create_set("mkt-weekly", pool="marketing")
    for _ in range(4):
        now += dt.timedelta(minutes=5)
        shift_clock(monkeypatch, now)
        seed.set_pool("mkt-weekly", "transactional")
        invoke(
            sample_event(
                "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
            )
        )
    assert [a["alert"]["outcome"] for a in received_alerts(account)][-1] == "flapping"
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "transactional"

    # When the hold's hour has passed, and the other automation has stopped
    shift_clock(monkeypatch, now + dt.timedelta(hours=1))
    stats = drain(account.work_queue_url, app.handler)

    # Then the wake-up the hold left on the queue brings the set back, without any event
    assert stats.messages >= 1
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert received_alerts(account)[-1]["alert"]["outcome"] == "remediated"


def test_inventory_entries_are_let_go_after_each_look(account: LocalStack) -> None:
    # Given sets looked at by events
    for name in ("mkt-a", "tx-b"):
        seed.create_set(name, pool="marketing")
        invoke(
            sample_event("create_configuration_set_v2.json", configuration_set=name, fresh_id=True)
        )

    # Then none is held by anyone once the looks are over
    items = boto3.client("dynamodb").scan(TableName=account.inventory_table)["Items"]
    assert {i["configuration_set"]["S"] for i in items} == {"mkt-a", "tx-b"}
    assert all("lease_owner" not in i and "intent" not in i for i in items)
    assert {r["outcome"] for r in Inventory(account.inventory_table).rows()} == {
        "compliant",
        "violation",
    }


def test_a_read_ses_throttles_past_the_sdk_retries_goes_back_to_the_queue_not_toward_the_dlq(
    account: LocalStack,
) -> None:
    # Given another tenant of the account's SES budget: the read and both retries refused
    seed.create_set("mkt-weekly", pool="transactional")
    faults.fail(
        "sesv2", "GetConfigurationSet", times=3, code="TooManyRequestsException", status=429
    )

    # When the set's event arrives
    result = invoke(
        sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    )

    # Then the message is done with (its receive count never grows) and the work waits
    # on the queue as a new message, the set untouched and free
    assert result == {"batchItemFailures": []}
    [put_back] = queued(account)
    assert put_back["configuration_set"] == "mkt-weekly"
    assert ses_writes() == 0
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    assert "lease_owner" not in item


def test_a_wake_up_is_due_at_its_own_instant(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a clock that stands still, and a hold's wake-up for a set on the wrong pool,
    # due at this very instant
    runtime, clock = frozen_runtime(monkeypatch, 2)
    seed.create_set("mkt-weekly", pool="transactional")
    hop = Work("mkt-weekly", Trigger(source="hold-ended"), not_before=clock.at).to_message()

    # When it is handled
    failed = handle_batch(sqs_event([hop])["Records"], runtime)

    # Then the set is looked at now ("not before" that instant: due at it), not put back
    assert failed == []
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert queued(account) == []


def test_a_look_whose_read_slot_is_more_than_the_longest_wait_away_is_put_back(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a clock that stands still, 2 SES calls a second, the budget's next 15 s taken
    # by other callers (longer than MAX_WAIT_SECONDS), and a set on the wrong pool
    runtime, clock = frozen_runtime(monkeypatch, 2)
    budget_taken_until(account, clock.at + 15)
    seed.create_set("mkt-weekly", pool="transactional")
    event = sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")

    # When an invocation with most of its time left gets the event
    failed = handle_batch(sqs_event([event])["Records"], runtime)

    # Then it does not sleep for the slot: the work goes back on the queue, unread
    assert failed == []
    assert (reads(), clock.slept) == (0, [])
    assert [m["configuration_set"] for m in queued(account)] == ["mkt-weekly"]


# Lambda's remaining time, in milliseconds, less SAFETY_SECONDS, is the deadline a write
# must meet: at 2 SES calls a second the write's slot comes 0.5 s after the read's, so
# 10.5 s left is just enough, and a millisecond less is not. Exact on a frozen clock.
@pytest.mark.parametrize(("remaining_ms", "looked"), [(10_500, True), (10_499, False)])
def test_the_deadline_is_the_invocations_remaining_time_less_the_safety_margin(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, remaining_ms: int, looked: bool
) -> None:
    # Given a clock that stands still, 2 SES calls a second, a worker that knows the
    # pools, and an event about a set on the wrong pool
    runtime, clock = frozen_runtime(monkeypatch, 2)
    runtime.pools = PoolDirectory(runtime.ses, {"marketing", "transactional"}, clock=clock)
    seed.create_set("mkt-weekly", pool="transactional")
    event = sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")

    # When an invocation with ``remaining_ms`` left gets it
    failed = handle_batch(
        sqs_event([event])["Records"], runtime, LambdaContext(remaining_ms=remaining_ms)
    )

    # Then the set is moved only if its write's slot (waited for: 0.5 s) is not after
    # that deadline; if it is, the set goes back on the queue, unread and unheld
    assert failed == []
    looks = (reads(), ses_writes())
    pool = seed.delivery_options("mkt-weekly")["SendingPoolName"]
    assert (*looks, pool) == ((1, 1, "marketing") if looked else (0, 0, "transactional"))
    assert [m["configuration_set"] for m in queued(account)] == ([] if looked else ["mkt-weekly"])
    assert clock.slept == ([0.5] if looked else [])


# Without a Lambda context (a batch handled locally), the batch has Lambda's longest
# timeout, 900 s, less SAFETY_SECONDS: a set whose turn comes a second before that
# deadline is looked at (its write's slot, 0.5 s after its read's, still fits), one whose
# turn comes at the deadline itself is put back. Exact on a frozen clock.
@pytest.mark.parametrize(("first_look_took", "looked"), [(889.0, True), (890.0, False)])
def test_a_batch_without_a_lambda_context_has_lambdas_longest_timeout_less_the_margin(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, first_look_took: float, looked: bool
) -> None:
    # Given a clock that stands still, 2 SES calls a second, a worker that knows the
    # pools (for longer than the batch lasts), events about two sets on the wrong pool,
    # and a first look that takes ``first_look_took`` seconds
    assert 900 - SAFETY_SECONDS == 890.0
    runtime, clock = frozen_runtime(monkeypatch, 2)
    runtime.pools = PoolDirectory(
        runtime.ses, {"marketing", "transactional"}, ttl=3600, clock=clock
    )
    for name in ("mkt-a", "mkt-b"):
        seed.create_set(name, pool="transactional")
    events = [
        sample_event("create_configuration_set_v2.json", configuration_set=n, fresh_id=True)
        for n in ("mkt-a", "mkt-b")
    ]
    real = Reconciler.reconcile
    started = clock.at

    def slow(self: Reconciler, work: Work, **kwargs: Any) -> Any:
        try:
            return real(self, work, **kwargs)
        finally:
            if work.name == "mkt-a":
                clock.at = started + first_look_took

    monkeypatch.setattr(Reconciler, "reconcile", slow)

    # When the batch is handled with no Lambda context
    failed = handle_batch(sqs_event(events)["Records"], runtime)

    # Then the first set is moved; the second is moved only if its turn came before the
    # deadline, and otherwise goes back on the queue, unread and unheld
    assert failed == []
    looks = (reads(), ses_writes())
    pools = [seed.delivery_options(n)["SendingPoolName"] for n in ("mkt-a", "mkt-b")]
    assert (*looks, *pools) == (
        (2, 2, "marketing", "marketing") if looked else (1, 1, "marketing", "transactional")
    )
    assert [m["configuration_set"] for m in queued(account)] == ([] if looked else ["mkt-b"])


# The read, a call of the judging (the target pool's existence) and the write: each is
# the look's, and each, throttled past the SDK's three attempts, gives the set back.
@pytest.mark.parametrize(
    "operation",
    ["GetConfigurationSet", "GetDedicatedIpPool", "PutConfigurationSetDeliveryOptions"],
)
def test_a_call_ses_throttles_past_the_sdk_retries_is_tried_again_two_seconds_later(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    # Given a set on the wrong pool, a worker that has not listed the pools (it asks SES
    # whether the target exists), on a clock that stands still, and SES refusing
    # ``operation`` and both its retries for the rate (another tenant of the budget)
    runtime, clock = frozen_runtime(monkeypatch, 2)
    seed.create_set("mkt-weekly", pool="transactional")
    faults.fail("sesv2", operation, times=3, code="TooManyRequestsException", status=429)

    # When the worker reconciles it
    result = runtime.reconciler().reconcile(Work("mkt-weekly", Trigger(source="test")))

    # Then the work waits THROTTLED_BACKOFF_SECONDS from now (its message's delay), not
    # less, not more; the set is not moved and is let go
    assert result == Busy(clock.at + THROTTLED_BACKOFF_SECONDS, "SES throttled")
    assert THROTTLED_BACKOFF_SECONDS == 2.0
    assert faults.request_counts()[f"sesv2:{operation}"] >= 3
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "transactional"
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    assert "lease_owner" not in item


def test_a_hold_looked_at_again_while_it_lasts_moves_nothing_and_says_nothing_again(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a set another automation reverted four times within the hour: held, its one
    # flapping alert sent and its wake-up queued
    monkeypatch.setenv("FLAP_THRESHOLD", "3")
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    seed.create_set("mkt-weekly", pool="marketing")

    def revert() -> None:
        seed.set_pool("mkt-weekly", "transactional")
        invoke(
            sample_event(
                "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
            )
        )

    for _ in range(4):
        now += dt.timedelta(minutes=5)
        shift_clock(monkeypatch, now)
        revert()
    assert [a["alert"]["outcome"] for a in received_alerts(account)][-1] == "flapping"
    writes, wakeups = ses_writes(), queued(account)
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    held_until = item["held_until"]["N"]

    # When it reverts the set once more while the hold lasts
    now += dt.timedelta(minutes=5)
    shift_clock(monkeypatch, now)
    revert()

    # Then the set is left where it was put (one write: the revert's), nobody is told
    # again, the hold keeps its end, and no second wake-up is queued for it
    assert ses_writes() == writes + 1
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "transactional"
    assert received_alerts(account) == []
    assert queued(account) == wakeups
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    assert item["held_until"]["N"] == held_until


def test_an_option_put_back_is_no_move_for_the_flap_guard_and_is_not_held_by_it(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a flap guard that holds a set after 3 moves within the hour, and a set
    # another automation moved off its pool three times, each moved back; during the
    # third move a person required TLS on it, which the write overwrote
    monkeypatch.setenv("FLAP_THRESHOLD", "3")
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    seed.create_set("mkt-weekly", pool="marketing")
    sesv2 = boto3.client("sesv2")
    for revert in range(3):
        now += dt.timedelta(minutes=5)
        shift_clock(monkeypatch, now)
        seed.set_pool("mkt-weekly", "transactional")
        if revert == 2:
            faults.after(
                "sesv2",
                "GetConfigurationSet",
                lambda: sesv2.put_configuration_set_delivery_options(
                    ConfigurationSetName="mkt-weekly",
                    SendingPoolName="transactional",
                    TlsPolicy="REQUIRE",
                ),
            )
        invoke(
            sample_event(
                "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
            )
        )
    assert seed.delivery_options("mkt-weekly") == {"SendingPoolName": "marketing"}
    assert [a["alert"]["outcome"] for a in received_alerts(account)] == ["remediated"] * 3

    # When the person's own CloudTrail record arrives
    theirs = sample_event(
        "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
    )
    theirs["detail"]["requestParameters"]["sendingPoolName"] = "transactional"
    theirs["detail"]["eventTime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    invoke(theirs)

    # Then their option is put back though the set has been moved as often as the guard
    # allows (a restore is no pool move, so no hold), and the guard still counts three
    assert seed.delivery_options("mkt-weekly") == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
    }
    [restored] = received_alerts(account)
    assert restored["alert"]["outcome"] == "remediated"
    assert "restored TlsPolicy=REQUIRE" in restored["alert"]["reason"]
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    assert len(item["moves"]["L"]) == 3


def test_a_violation_looked_at_again_is_not_alerted_again_and_one_that_changes_is(
    account: LocalStack,
) -> None:
    # Given a receipts set on the marketing pool (an audit rule wants transactional),
    # whose violation was reported
    seed.create_set("tx-receipts", pool="marketing")
    invoke(sample_event("tag_resource.json", configuration_set="tx-receipts", fresh_id=True))
    [first] = received_alerts(account)
    assert first["alert"]["outcome"] == "violation"

    # When another change to it arrives, the violation unchanged
    time.sleep(CLOCK_SKEW_SECONDS + 0.1)
    invoke(sample_event("tag_resource.json", configuration_set="tx-receipts", fresh_id=True))

    # Then nobody is told again, and the set is let go with its violation recorded
    assert received_alerts(account) == []
    [row] = Inventory(account.inventory_table).rows()
    assert row["outcome"] == "violation"
    item = boto3.client("dynamodb").get_item(
        TableName=account.inventory_table, Key={"configuration_set": {"S": "tx-receipts"}}
    )["Item"]
    assert "lease_owner" not in item and "intent" not in item

    # When someone moves it to another wrong pool, and their change arrives
    time.sleep(CLOCK_SKEW_SECONDS + 0.1)
    seed.set_pool("tx-receipts", "ses-shared-pool")
    invoke(
        sample_event("put_delivery_options_v2.json", configuration_set="tx-receipts", fresh_id=True)
    )

    # Then the changed violation is reported, once
    [changed] = received_alerts(account)
    assert changed["alert"]["outcome"] == "violation"
    assert changed["alert"]["current_pool"] == "ses-shared-pool"
