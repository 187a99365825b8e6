"""The inventory's guarantees one request at a time, on local DynamoDB: the fence, a
claim given back, an owed intent, the write's lease. Each test names the line it
protects; breaking that line fails it (docs/design/work-queue.md, "Mutation testing").
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from typing import Any

import boto3
import pytest

from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters.inventory import (
    AlreadyTold,
    Claim,
    Covered,
    Intent,
    IntentPending,
    Inventory,
    LastWrite,
    Leased,
    LeaseLost,
)
from ses_pool_enforcer.model import Outcome, OutcomeRecord

LEASE = 20.0


def problem(outcome: Outcome) -> OutcomeRecord:
    return OutcomeRecord(
        "mkt-weekly", outcome, "transactional", "marketing", "m", "why", dt.datetime.now(dt.UTC)
    )


def intent(token: str) -> Intent:
    return Intent(token, "move", "transactional", "marketing", {"record": {}}, read_at=0.0)


def stored(stack: LocalStack, name: str) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=stack.inventory_table, Key={"configuration_set": {"S": name}}
    )["Item"]
    return item


def claimed(
    inventory: Inventory, owner: str, now: float, observed_at: float | None = None
) -> Claim:
    claim = inventory.claim("mkt-weekly", owner, now, LEASE, observed_at=observed_at)
    assert isinstance(claim, Claim)
    return claim


def test_a_worker_whose_lease_ran_out_writes_nothing_once_another_holds_the_set(
    stack: LocalStack,
) -> None:
    # Given worker a's lease ran out and worker b holds the set now
    inventory = Inventory(stack.inventory_table)
    now = time.time()
    a = claimed(inventory, "a", now)
    claimed(inventory, "b", now + LEASE + 1)

    # Then every later write of a's is refused (the fence: lease_owner = its token)
    with pytest.raises(LeaseLost):
        inventory.begin_move(a, intent("a"), now + 60)
    with pytest.raises(LeaseLost):
        inventory.drop_intent(a)
    assert stored(stack, "mkt-weekly")["lease_owner"] == {"S": "b"}


def test_a_claim_given_back_covers_nothing(stack: LocalStack) -> None:
    # Given a set looked at (claimed and let go) at t
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    first = claimed(inventory, "a", t)
    record = OutcomeRecord(
        "mkt-weekly",
        Outcome.COMPLIANT,
        "marketing",
        "marketing",
        "m",
        "ok",
        dt.datetime.now(dt.UTC),
    )
    inventory.release(first, record)

    # When a later claim is given back untouched
    later = claimed(inventory, "b", t + 5)
    inventory.unclaim(later)

    # Then the set is free and its last look is still the one at t: an event stamped
    # between the two is not covered
    item = stored(stack, "mkt-weekly")
    assert float(item["claimed_at"]["N"]) == t
    assert "lease_owner" not in item
    assert isinstance(claimed(inventory, "c", t + 6, observed_at=t + 1), Claim)


def test_a_claim_whose_worker_died_before_letting_go_covers_nothing(stack: LocalStack) -> None:
    # Given a worker that claimed the set at t and died before letting it go
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    claimed(inventory, "a", t)

    # When work about a change older than that claim comes, after the lease
    answer = inventory.claim("mkt-weekly", "b", t + LEASE + 1, LEASE, observed_at=t - 1)

    # Then it is not covered: nobody is known to have looked (no release, no outcome)
    assert isinstance(answer, Claim)
    # (and once a look ends, the same work is covered)
    inventory.release(answer, None)
    covered = inventory.claim("mkt-weekly", "c", t + LEASE + 2, LEASE, observed_at=t - 1)
    assert isinstance(covered, Covered)


def record(version: int) -> OutcomeRecord:
    return OutcomeRecord(
        "mkt-weekly",
        Outcome.COMPLIANT,
        "marketing",
        "marketing",
        "marketing",
        "on its pool",
        dt.datetime.now(dt.UTC),
        policy_version=version,
    )


@pytest.mark.parametrize(("judged", "covered"), [(1, False), (2, True), (3, True)])
def test_a_look_covers_a_sweep_only_if_it_judged_by_the_sweeps_policy_version_or_newer(
    stack: LocalStack, judged: int, covered: bool
) -> None:
    # Given a look at t that recorded an outcome judged by policy version ``judged``
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    inventory.release(claimed(inventory, "a", t), record(judged))

    # When a sweep of version 2, begun before t, comes to the set
    answer = inventory.claim("mkt-weekly", "s", t + 1, LEASE, observed_at=t - 1, judged_by=2)

    # Then only a look by version 2 or newer covers it
    assert isinstance(answer, Covered if covered else Claim)


def test_a_set_that_owes_an_effect_is_never_covered(stack: LocalStack) -> None:
    # Given a worker that recorded an intent and died holding the set
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    inventory.begin_move(claimed(inventory, "a", t), intent("a"), t + 30)

    # When work about a change older than that claim comes, after the lease
    answer = inventory.claim("mkt-weekly", "b", t + 31, LEASE, observed_at=t - 1)

    # Then it is not covered: whoever holds the set next pays what is owed
    assert isinstance(answer, Claim)
    # (and without the intent, the same work is covered)
    inventory.drop_intent(answer)
    inventory.release(answer, None)
    assert isinstance(inventory.claim("mkt-weekly", "c", t + 32, LEASE, observed_at=t - 1), Covered)


def test_clearing_an_intent_after_the_lease_ran_out_clears_only_ones_own(
    stack: LocalStack,
) -> None:
    # Given worker a's move, whose lease ran out, and worker b's own move since
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    a = claimed(inventory, "a", t)
    inventory.begin_move(a, intent("a-move"), t + 1)
    b = claimed(inventory, "b", t + 2)
    inventory.begin_move(b, intent("b-move"), t + 40)

    # When a, having sent its alert, clears its intent
    inventory.clear_intent(a, "a-move", release=True)

    # Then b's intent and lease are untouched
    item = stored(stack, "mkt-weekly")
    assert item["intent"]["M"]["token"] == {"S": "b-move"}
    assert item["lease_owner"] == {"S": "b"}


def test_a_move_holds_the_set_for_its_write(stack: LocalStack) -> None:
    # Given a worker about to write, its lease extended to t + 50
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    inventory.begin_move(claimed(inventory, "a", t), intent("a"), t + 50)

    # Then nobody else holds the set before then, though the claim's own lease is over
    assert isinstance(inventory.claim("mkt-weekly", "b", t + LEASE + 1, LEASE), Leased)
    assert isinstance(inventory.claim("mkt-weekly", "b", t + 51, LEASE), Claim)


def test_a_lease_that_ends_at_this_very_instant_still_holds_the_set(stack: LocalStack) -> None:
    # Given worker a's lease, ending at t + LEASE
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    claimed(inventory, "a", t)

    # When b asks at that instant, about a change older than a's claim
    answer = inventory.claim("mkt-weekly", "b", t + LEASE, LEASE, observed_at=t - 1)

    # Then the set is still a's (the claim's condition is lease_until < now): b waits for
    # it, and its work is not judged covered by a look that may not be over
    assert answer == Leased(t + LEASE)


def test_a_claim_given_back_leaves_what_a_dead_holder_owes(stack: LocalStack) -> None:
    # Given a worker that recorded a move and died holding the set
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    inventory.begin_move(claimed(inventory, "a", t), intent("a-move"), t + 30)

    # When the next holder gives the set back untouched (its read failed, say)
    later = claimed(inventory, "b", t + 31)
    inventory.unclaim(later)

    # Then the move is still owed, for whoever holds the set next
    assert stored(stack, "mkt-weekly")["intent"]["M"]["token"] == {"S": "a-move"}


def test_a_set_gone_while_an_effect_is_owed_is_not_forgotten(stack: LocalStack) -> None:
    # Given a worker that recorded a move and died holding the set
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    inventory.begin_move(claimed(inventory, "a", t), intent("a-move"), t + 30)

    # When the next holder finds the set deleted and records it so
    later = claimed(inventory, "b", t + 31)
    gone = OutcomeRecord(
        "mkt-weekly", Outcome.DELETED, None, None, None, "gone", dt.datetime.now(dt.UTC)
    )
    answer = inventory.release(later, gone)

    # Then it is told what is owed first (the item stays, the intent with it)
    assert isinstance(answer, IntentPending)
    assert answer.previous.intent is not None and answer.previous.intent.token == "a-move"
    assert stored(stack, "mkt-weekly")["intent"]["M"]["token"] == {"S": "a-move"}


def test_letting_the_set_go_answers_the_outcome_it_replaced(stack: LocalStack) -> None:
    # Given a set last recorded compliant
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    inventory.release(claimed(inventory, "a", t), problem(Outcome.COMPLIANT))

    # When the next look records a violation
    replaced = inventory.release(claimed(inventory, "b", t + 1), problem(Outcome.VIOLATION))

    # Then it is told what the item held before (what a finding's change is judged by)
    assert isinstance(replaced, dict) and replaced["outcome"] == "compliant"
    # (and so is the look that finds the set gone, the item with it)
    gone = inventory.release(claimed(inventory, "c", t + 2), problem(Outcome.DELETED))
    assert isinstance(gone, dict) and gone["outcome"] == "violation"


def told(inventory: Inventory, claim: Claim, record: OutcomeRecord) -> object:
    """Record ``record`` with an alert owed unless already told; then pay the alert."""
    answer = inventory.release(claim, record, owe=intent(claim.owner), unless_told=True)
    if isinstance(answer, dict):
        inventory.clear_intent(claim, claim.owner, release=True)
    return answer


@pytest.mark.parametrize("outcome", [Outcome.ERROR, Outcome.FLAPPING, Outcome.VIOLATION])
def test_a_problem_already_recorded_is_told_so_not_recorded_again(
    stack: LocalStack, outcome: Outcome
) -> None:
    # Given a problem recorded (and alerted) by an earlier look
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    told(inventory, claimed(inventory, "a", t), problem(outcome))

    # When a later look finds the very same problem
    later = claimed(inventory, "b", t + 1)
    again = told(inventory, later, problem(outcome))

    # Then it is answered AlreadyTold (no second alert), and still holds the set
    assert isinstance(again, AlreadyTold)
    inventory.release(later, problem(outcome))  # (as the reconciler then lets it go)
    # (while a remediation, each its own move, is never "told" before)
    moved = problem(Outcome.REMEDIATED)
    told(inventory, claimed(inventory, "c", t + 2), moved)
    assert isinstance(told(inventory, claimed(inventory, "d", t + 3), moved), dict)


# (owner tokens on both sides of each other: the fence compares them for equality only)
@pytest.mark.parametrize(("lapsed", "holder"), [("a", "b"), ("b", "a")])
def test_a_worker_whose_lease_ran_out_cannot_record_the_set_gone_or_move_it(
    stack: LocalStack, lapsed: str, holder: str
) -> None:
    # Given a worker whose lease ran out, and another that holds the set now
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    old = claimed(inventory, lapsed, t)
    claimed(inventory, holder, t + LEASE + 1)

    # When the first records the set deleted, then it is refused and the item stays
    gone = problem(Outcome.DELETED)
    with pytest.raises(LeaseLost):
        inventory.release(old, gone)
    # (nor begin a move: the fence of every other write)
    with pytest.raises(LeaseLost):
        inventory.begin_move(old, intent(lapsed), t + 60)
    assert stored(stack, "mkt-weekly")["lease_owner"] == {"S": holder}


def test_a_problem_already_recorded_owing_only_its_finding_is_recorded_again(
    stack: LocalStack,
) -> None:
    # Given a violation recorded (and alerted) by an earlier look
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    told(inventory, claimed(inventory, "a", t), problem(Outcome.VIOLATION))

    # When a later look finds the same problem under a renamed rule: no alert (told
    # before), but the finding names the new rule, so the reconciler records it owing only
    # the finding, without asking "unless told" (release's default)
    later = claimed(inventory, "b", t + 1)
    renamed = replace(problem(Outcome.VIOLATION), rule_id="m-renamed")
    finding_owed = replace(intent("b-finding"), phase="notify", finding={"Id": "f"})
    answer = inventory.release(later, renamed, owe=finding_owed)

    # Then it is recorded (not answered AlreadyTold), the finding owed with it
    assert isinstance(answer, dict) and answer["rule_id"] == "m"
    item = stored(stack, "mkt-weekly")
    assert item["rule_id"] == {"S": "m-renamed"}
    assert item["intent"]["M"]["token"] == {"S": "b-finding"}


def test_a_move_whose_earlier_windows_all_aged_out_keeps_none_of_them(stack: LocalStack) -> None:
    # Given a move that kept an earlier write window besides its own
    inventory = Inventory(stack.inventory_table)
    t = time.time()
    first = claimed(inventory, "a", t)
    earlier = LastWrite(t - 100, t - 90, {"TlsPolicy": "REQUIRE"})
    inventory.begin_move(first, intent("a"), t + 30, LastWrite(t, t + 30, {}), [earlier])
    inventory.drop_intent(first)
    inventory.release(first, None)
    assert len(stored(stack, "mkt-weekly")["earlier_writes"]["L"]) == 1

    # When the next move begins with none of them still worth keeping (owed.windows_kept:
    # all older than the event queue's retention)
    later = claimed(inventory, "b", t + 31)
    inventory.begin_move(later, intent("b"), t + 60, LastWrite(t + 31, t + 60, {}), [])

    # Then the item keeps its new window only, not the stale ones
    item = stored(stack, "mkt-weekly")
    assert "earlier_writes" not in item
    assert item["last_write"]["M"]["read_at"] == {"N": repr(t + 31)}
