"""The SES call budget is the deployment's, not each process's: every consumer and the
sweep reserve slots on one clock in the state table, by compare-and-set; a caller that
cannot have a slot before its deadline is refused instead of left sleeping."""

from __future__ import annotations

import itertools
import threading
import time

import boto3
import pytest

from local_aws import seed
from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters.budget import BudgetExhausted, LocalBudget, SharedBudget
from ses_pool_enforcer.clock import Clock
from ses_pool_enforcer.observability import metrics
from ses_pool_enforcer.runtime import get_runtime
from tests.integration.test_sweep import metrics_emitted


class FrozenClock(Clock):
    """Time stands still; sleeps are recorded, not slept."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def next_at(stack: LocalStack) -> float | None:
    item = (
        boto3.client("dynamodb")
        .get_item(TableName=stack.state_table, Key={"id": {"S": "ses-budget"}}, ConsistentRead=True)
        .get("Item")
    )
    return float(item["next_at"]["N"]) if item else None


def test_two_processes_share_one_budget(stack: LocalStack) -> None:
    # Given two processes (an event consumer and the sweep), 10 calls per second in all
    clock = FrozenClock()
    consumer = SharedBudget(stack.state_table, 10, clock=clock)
    sweep = SharedBudget(stack.state_table, 10, clock=clock)

    # When each makes three SES calls at the same instant
    for budget in (consumer, sweep, consumer, sweep, consumer, sweep):
        budget.acquire()

    # Then the six calls are spaced 0.1 s apart across both: one budget, not two
    assert clock.slept == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert consumer.calls == sweep.calls == 3
    # (and each says how long it waited in all: what the benchmarks report)
    assert consumer.waited + sweep.waited == pytest.approx(1.5)


def test_many_threads_reserving_at_once_never_share_a_slot(stack: LocalStack) -> None:
    # Given eight workers on one budget of 200 calls per second (a slot every 5 ms)
    rate, threads, each = 200.0, 8, 25
    slots: list[float] = []
    guard = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        budget = SharedBudget(stack.state_table, rate)
        start.wait()
        for _ in range(each):
            slot = budget.reserve()
            with guard:
                slots.append(slot)
            # (each waits for its slot before taking the next, as acquire() does: a caller
            # holds at most one slot ahead of now. Reserving 25 in a row held up to 200,
            # past MAX_PENDING, and the repair of a next_at "too far ahead" then shared a
            # slot whenever local AWS answered faster than 200 a second)
            time.sleep(max(0.0, slot - time.time()))

    # When all of them reserve slots at the same time, in real threads
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    # Then every call got a slot of its own, at least 5 ms from any other
    assert len(slots) == threads * each
    ordered = sorted(slots)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    assert min(gaps) >= 1 / rate - 1e-6, f"two calls within {min(gaps) * 1000:.2f} ms"


def test_a_slot_after_the_deadline_is_refused_and_left_for_others(stack: LocalStack) -> None:
    # Given a budget whose next free slot is 30 s away (others reserved the ones before)
    clock = FrozenClock()
    budget = SharedBudget(stack.state_table, 1, clock=clock)
    for _ in range(30):
        budget.reserve()
    reserved_until = next_at(stack)

    # When a worker that must be done within 10 s asks for a slot
    with budget.within(clock.now + 10), pytest.raises(BudgetExhausted) as refused:
        budget.acquire()

    # Then it is refused at once, told when a slot would be free, and takes none
    assert refused.value.retry_at == pytest.approx(clock.now + 30)
    assert clock.slept == []
    assert next_at(stack) == reserved_until

    # And one that may wait exactly that long gets the slot
    with budget.within(clock.now + 30):
        budget.acquire()
    assert clock.slept == [30.0]


def test_a_slot_already_paid_for_and_past_is_used_at_once(stack: LocalStack) -> None:
    # Given a slot taken with a claim a moment ago, now past
    clock = FrozenClock()
    budget = SharedBudget(stack.state_table, 1, clock=clock)

    # When the call it was taken for is made
    with budget.prepaid(clock.now - 0.5):
        budget.acquire()

    # Then nobody waits, and nothing is counted as waited
    assert clock.slept == []
    assert budget.waited == 0.0
    assert budget.calls == 1


@pytest.mark.parametrize("rate", [0, -1])
def test_a_budget_of_no_calls_a_second_is_refused_by_name(stack: LocalStack, rate: int) -> None:
    for make in (lambda: LocalBudget(rate), lambda: SharedBudget(stack.state_table, rate)):
        with pytest.raises(ValueError, match="rate must be positive"):
            make()


def test_an_idle_budget_costs_one_write_per_call(stack: LocalStack) -> None:
    # Given a budget nobody used for a while
    calls: list[str] = []
    budget = SharedBudget(stack.state_table, 1000)
    budget._ddb.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )

    # When two calls are a second apart (the first slot long past)
    budget.acquire()
    time.sleep(0.01)
    budget.acquire()

    # Then each took one conditional write, no read
    assert calls == ["UpdateItem", "UpdateItem"]


def test_a_process_guesses_the_next_slot_only_while_its_own_is_ahead(
    stack: LocalStack,
) -> None:
    # Given a process calling faster than the rate: its own next_at is ahead of now
    clock = FrozenClock()
    a = SharedBudget(stack.state_table, 10, clock=clock)
    b = SharedBudget(stack.state_table, 10, clock=clock)
    writes: list[str] = []
    a._ddb.meta.events.register(
        "before-call.dynamodb", lambda model, **_: writes.append(model.name)
    )
    for _ in range(3):
        a.acquire()

    # Then each call is one compare-and-set on the next_at it left
    assert writes == ["UpdateItem"] * 3
    # (and the budget's item expires a day after its last use: an idle lane's goes away)
    item = boto3.client("dynamodb").get_item(
        TableName=stack.state_table, Key={"id": {"S": "ses-budget"}}
    )["Item"]
    assert int(item["expiration"]["N"]) == int(clock.now) + 86_400

    # When another process took a slot later, and a calls again once that is past too
    clock.now += 5
    b.acquire()
    clock.now += 5
    writes.clear()
    a.acquire()

    # Then a's own next_at, long past, is no guess worth a compare-and-set: one write
    assert writes == ["UpdateItem"]


# At 2 calls a second, MAX_PENDING (64) callers hold at most 32 s of slots ahead of now.
@pytest.mark.parametrize(("ahead", "repaired"), [(32.0, False), (40.0, True), (3600.0, True)])
def test_a_next_slot_no_caller_could_hold_is_taken_from_now_and_counted(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], ahead: float, repaired: bool
) -> None:
    # Given a next_at that far ahead (further than 32 s: set by a clock running ahead)
    clock = FrozenClock()
    boto3.client("dynamodb").put_item(
        TableName=stack.state_table,
        Item={"id": {"S": "ses-budget"}, "next_at": {"N": repr(clock.now + ahead)}},
    )
    budget = SharedBudget(stack.state_table, 2, clock=clock)
    metrics.clear_metrics()

    # When a call comes
    budget.acquire()
    metrics.flush_metrics()

    # Then a next_at callers could hold is waited for; one they could not is taken over
    # from now, and the repair counted once
    emitted = metrics_emitted(capsys.readouterr().out)
    if repaired:
        assert clock.slept == []
        assert next_at(stack) == clock.now + 0.5
        assert emitted["BudgetRepaired"] == [1.0]
    else:
        assert clock.slept == [ahead]
        assert "BudgetRepaired" not in emitted


def test_a_local_budget_keeps_only_its_own_process_to_the_budget() -> None:
    # Given two process-local budgets at 10 calls per second
    clock = FrozenClock()
    one, two = LocalBudget(10, clock), LocalBudget(10, clock)

    # When each makes two calls at the same instant
    for budget in (one, two, one, two):
        budget.acquire()

    # Then each spaces only its own calls: together they would exceed the budget
    assert clock.slept == [0.1, 0.1]


def test_a_local_budget_refuses_a_slot_past_the_deadline() -> None:
    clock = FrozenClock()
    budget = LocalBudget(1, clock)
    budget.acquire()
    with budget.within(clock.now + 0.5), pytest.raises(BudgetExhausted):
        budget.acquire()
    budget.acquire()  # outside the block: waits as long as it takes
    assert clock.slept == [1.0]
    with budget.within(clock.now + 2):  # a slot at the deadline itself is granted
        budget.acquire()
    with budget.within(clock.now + 10):  # and one before it
        budget.acquire()
    assert clock.slept == [1.0, 2.0, 3.0]


def test_the_deployment_uses_the_shared_budget_when_it_has_a_state_table(
    stack: LocalStack,
) -> None:
    # Given the functions' environment (STATE_TABLE set by the template)
    seed.create_pool("marketing")

    # When the runtime is built, then its SES calls go through the shared budget
    budget = get_runtime().ses.budget
    assert isinstance(budget, SharedBudget)
    get_runtime().ses.list_dedicated_pools()
    assert budget.calls == 1
    assert next_at(stack) is not None
