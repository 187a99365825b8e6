"""What a set is owed (owed.py), one verb at a time on local DynamoDB: what an intent
records, and what settling each phase pays. Written for the mutants of owed.py that no
path test told apart (docs/design/work-queue.md, "The kill matrix and mutation testing").
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import boto3
import pytest

from local_aws.stack import LocalStack
from ses_pool_enforcer import owed
from ses_pool_enforcer.adapters.inventory import Claim, Inventory, LastWrite
from ses_pool_enforcer.flapping import FlapGuard, Move
from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.notices import Notice, Trigger
from ses_pool_enforcer.observability import metrics
from tests.integration.test_sweep import metrics_emitted

LEASE = 20.0
TRIGGER = Trigger(source="cloudtrail", event_name="CreateConfigurationSet")


def record(outcome: Outcome, current: str, expected: str) -> OutcomeRecord:
    return OutcomeRecord(
        "mkt-weekly", outcome, current, expected, "m", "why", dt.datetime.now(dt.UTC)
    )


def stored(stack: LocalStack) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=stack.inventory_table, Key={"configuration_set": {"S": "mkt-weekly"}}
    )["Item"]
    return item


def held(inventory: Inventory, owner: str, now: float) -> Claim:
    claim = inventory.claim("mkt-weekly", owner, now, LEASE)
    assert isinstance(claim, Claim)
    return claim


def test_a_move_owed_names_the_pool_the_set_was_on(stack: LocalStack) -> None:
    # Given a move from transactional to marketing, recorded before its write
    inventory = Inventory(stack.inventory_table)
    moved = record(Outcome.REMEDIATED, "marketing", "marketing")
    intent = owed.move(moved, TRIGGER, "transactional", 1.0, {"TlsPolicy": "REQUIRE"})
    inventory.begin_move(held(inventory, "a", time.time()), intent, time.time() + 30)

    # Then the item says where the set was and where it is going (docs/tables.md)
    stored_intent = stored(stack)["intent"]["M"]
    assert stored_intent["from_pool"] == {"S": "transactional"}
    assert stored_intent["to_pool"] == {"S": "marketing"}
    assert stored_intent["phase"] == {"S": "move"}
    # (a set on no pool at all is recorded as the empty name)
    assert owed.move(moved, TRIGGER, None, 1.0, {}).from_pool == ""


def test_settling_an_owed_alert_sends_it_and_owes_no_move(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a violation recorded with its alert owed, by a process that died before sending
    inventory = Inventory(stack.inventory_table)
    violation = record(Outcome.VIOLATION, "transactional", "marketing")
    first = held(inventory, "a", time.time())
    inventory.release(
        first, violation, owe=owed.outcome(violation, TRIGGER, time.time(), alert=True)
    )
    owes = stored(stack)["intent"]["M"]
    assert owes["phase"] == {"S": "notify"}
    assert (owes["from_pool"], owes["to_pool"]) == ({"S": "transactional"}, {"S": "marketing"})

    # When the next holder settles what is owed, the set on the pool the violation names
    later = held(inventory, "b", time.time() + LEASE + 1)
    sent: list[Notice] = []
    metrics.clear_metrics()
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        "transactional",
        sent.append,
        None,
        now=time.time(),
        flap=None,
        sweep_id=None,
    )
    metrics.flush_metrics()

    # Then the alert is sent once, nothing reads as a move made, the debt is cleared
    # and the set is still held by its new holder (settle does not let it go)
    assert settled is None
    [alert] = sent
    assert alert.attributes["outcome"] == "violation"
    item = stored(stack)
    assert "intent" not in item
    assert item["lease_owner"] == {"S": "b"}
    assert item["outcome"] == {"S": "violation"}
    assert metrics_emitted(capsys.readouterr().out)["OwedEffectFinished"] == [1.0]


def test_settling_a_recorded_move_sends_its_alert_wherever_the_set_is_now(
    stack: LocalStack,
) -> None:
    # Given a move written and recorded (phase "alert": only its alert owed) by a process
    # that died before alerting, and a person who moved the set elsewhere since
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    moved = record(Outcome.REMEDIATED, "marketing", "marketing")
    intent = owed.move(moved, TRIGGER, "transactional", t, {})
    first = held(inventory, "a", t)
    inventory.begin_move(first, intent, t + 30)
    written = LastWrite(t, t + 1, {})
    inventory.finish_move(first, moved, intent, [Move(t + 1)], written)

    # When the next holder settles it, the set now on another pool
    later = held(inventory, "b", t + 31)
    sent: list[Notice] = []
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        "other-pool",
        sent.append,
        None,
        now=t + 31,
        flap=None,
        sweep_id=None,
    )

    # Then the move stands as made: its alert goes out once, the move is not recorded or
    # counted again, and the settler still holds the set to finish its own look
    assert settled is not None and settled.current_pool == "marketing"
    [alert] = sent
    assert alert.attributes["alert_id"] == intent.token
    item = stored(stack)
    assert "intent" not in item
    assert len(item["moves"]["L"]) == 1
    assert item["lease_owner"] == {"S": "b"}


def test_settling_a_move_that_happened_records_counts_and_alerts_it_once(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a process that died right after its write (phase "move": the write may or may
    # not have happened), a move already counted by the flap guard before it
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    moved = record(Outcome.REMEDIATED, "marketing", "marketing")
    intent = owed.move(moved, TRIGGER, "transactional", t, {"TlsPolicy": "REQUIRE"})
    first = held(inventory, "a", t)
    inventory.finish_move(first, moved, intent, [Move(t - 100)], LastWrite(t - 101, t - 100, {}))
    inventory.clear_intent(first, intent.token, release=False)
    inventory.begin_move(first, intent, t + 30)
    metrics.clear_metrics()

    # When the next holder settles it and finds the set on the intended pool
    later = held(inventory, "b", t + 31)
    sent: list[Notice] = []
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        "marketing",
        sent.append,
        None,
        now=t + 31,
        flap=FlapGuard(threshold=3, window=3600),
        sweep_id=None,
    )
    metrics.flush_metrics()

    # Then the move is recorded and counted (two moves now), and alerted once
    assert settled == moved
    [alert] = sent
    assert alert.attributes["alert_id"] == intent.token
    item = stored(stack)
    assert "intent" not in item
    assert len(item["moves"]["L"]) == 2
    assert item["last_write"]["M"]["read_at"] == {"N": repr(t)}
    assert item["lease_owner"] == {"S": "b"}
    # (and an operator sees one owed effect finished)
    assert metrics_emitted(capsys.readouterr().out)["OwedEffectFinished"] == [1.0]


# (pools named after and before the intended one, and the shared pool: None)
@pytest.mark.parametrize("where", ["transactional", "analytics", None])
def test_settling_a_move_that_never_happened_drops_it_silently(
    stack: LocalStack, where: str | None
) -> None:
    # Given a process that recorded its move and died before the write landed
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    moved = record(Outcome.REMEDIATED, "marketing", "marketing")
    intent = owed.move(moved, TRIGGER, where, t, {})
    inventory.begin_move(held(inventory, "a", t), intent, t + 30)

    # When the next holder settles it and finds the set still where it was
    later = held(inventory, "b", t + 31)
    sent: list[Notice] = []
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        where,
        sent.append,
        None,
        now=t + 31,
        flap=FlapGuard(threshold=3, window=3600),
        sweep_id=None,
    )

    # Then nothing is recorded as moved and nobody is told: the intent is simply dropped
    assert settled is None
    assert sent == []
    item = stored(stack)
    assert "intent" not in item
    assert "moves" not in item and "outcome" not in item
    assert item["lease_owner"] == {"S": "b"}


# (a finding as Security Hub's adapter would import it: what it holds is not owed.py's concern)
FINDING = {"Id": "mkt-weekly/pool", "Compliance": {"Status": "FAILED"}}


@pytest.mark.parametrize(
    ("alert", "finding"),
    [(False, FINDING), (True, None), (True, FINDING)],
    ids=["finding only", "alert only", "both"],
)
def test_an_outcome_owes_its_alert_and_its_finding_only_when_it_has_them(
    stack: LocalStack, alert: bool, finding: dict[str, Any] | None
) -> None:
    # Given a violation recorded with what it owes (its finding alone: compliance changed
    # but the problem was alerted before), by a process that died before paying it
    inventory = Inventory(stack.inventory_table)
    violation = record(Outcome.VIOLATION, "transactional", "marketing")
    first = held(inventory, "a", time.time())
    owe = owed.outcome(violation, TRIGGER, time.time(), alert=alert, finding=finding)
    inventory.release(first, violation, owe=owe)

    # When the next holder settles it, Security Hub configured
    later = held(inventory, "b", time.time() + LEASE + 1)
    sent: list[Notice] = []
    published: list[dict[str, Any]] = []
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        "transactional",
        sent.append,
        published.append,
        now=time.time(),
        flap=None,
        sweep_id=None,
    )

    # Then the alert goes out if it was owed, the finding is imported if it was, nothing
    # else, and the debt is cleared
    assert settled is None
    assert [n.attributes["outcome"] for n in sent] == (["violation"] if alert else [])
    assert published == ([finding] if finding else [])
    assert "intent" not in stored(stack)
    # (an outcome that owes neither records no debt at all)
    assert owed.outcome(violation, TRIGGER, time.time(), alert=False) is None


# (pools named after and before the intended one)
@pytest.mark.parametrize("was_on", ["transactional", "analytics"])
def test_a_move_found_on_its_pool_is_made_though_an_option_changed_since(
    stack: LocalStack, was_on: str
) -> None:
    # Given a process that died right after its write, which sent TLS back optional
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    moved = record(Outcome.REMEDIATED, "marketing", "marketing")
    intent = owed.move(moved, TRIGGER, was_on, t, {"TlsPolicy": "OPTIONAL"})
    inventory.begin_move(held(inventory, "a", t), intent, t + 30)

    # When the next holder finds the set on the intended pool, and a person has required
    # TLS on it since (a pool move shows by the pool: the options are no longer ours)
    later = held(inventory, "b", t + 31)
    sent: list[Notice] = []
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        "marketing",
        sent.append,
        None,
        now=t + 31,
        flap=FlapGuard(threshold=3, window=3600),
        sweep_id=None,
        options={"SendingPoolName": "marketing", "TlsPolicy": "REQUIRE"},
    )

    # Then the move stands as made: recorded, counted by the flap guard, alerted once
    assert settled == moved
    [alert] = sent
    assert alert.attributes["alert_id"] == intent.token
    assert len(stored(stack)["moves"]["L"]) == 1


# (what the set holds when the next holder reads it: what the restore sent, an option
# sorting before it, none at all)
@pytest.mark.parametrize("now_holds", ["REQUIRE", "OPTIONAL", None])
def test_an_owed_restore_is_made_only_if_the_set_holds_what_it_sent_and_is_no_move(
    stack: LocalStack, now_holds: str | None
) -> None:
    # Given a process that died right after writing back a person's lost TLS (a restore:
    # the pool unchanged, only the options tell whether it landed)
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    restored = record(Outcome.REMEDIATED, "marketing", "marketing")
    intent = owed.move(restored, TRIGGER, "marketing", t, {"TlsPolicy": "REQUIRE"})
    inventory.begin_move(held(inventory, "a", t), intent, t + 30)

    # When the next holder reads the set, on its pool
    later = held(inventory, "b", t + 31)
    sent: list[Notice] = []
    options = {"SendingPoolName": "marketing"} | ({"TlsPolicy": now_holds} if now_holds else {})
    settled = owed.settle(
        inventory,
        later,
        inventory.load(later),
        "marketing",
        sent.append,
        None,
        now=t + 31,
        flap=FlapGuard(threshold=3, window=3600),
        sweep_id=None,
        options=options,
    )

    # Then a restore that landed is recorded and alerted, but not counted as a pool move
    # by the flap guard; one that did not is dropped, silently, to be made again
    item = stored(stack)
    assert "intent" not in item
    if now_holds == "REQUIRE":
        assert settled == restored
        assert len(sent) == 1
        assert item.get("moves", {"L": []})["L"] == []
    else:
        assert settled is None
        assert sent == []
        assert "outcome" not in item
