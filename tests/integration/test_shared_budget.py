"""The SES call budget is the deployment's, not each process's: every consumer and the
sweep reserve slots on one clock in the state table."""

from __future__ import annotations

import pytest

from local_aws import seed
from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters.pacing import Pacer, SharedPacer
from ses_pool_enforcer.runtime import get_runtime


class FrozenClock:
    """Time stands still; sleeps are recorded, not slept."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_two_processes_share_one_budget(stack: LocalStack) -> None:
    # Given two processes (an event consumer and the sweep), 10 calls per second in all
    clock = FrozenClock()
    consumer = SharedPacer(stack.state_table, 10, clock.time, clock.sleep)
    sweep = SharedPacer(stack.state_table, 10, clock.time, clock.sleep)

    # When each makes three SES calls at the same instant
    for pacer in (consumer, sweep, consumer, sweep, consumer, sweep):
        pacer.acquire()

    # Then the six calls are spaced 0.1 s apart across both: one budget, not two
    assert clock.slept == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert consumer.calls == sweep.calls == 3


def test_a_local_pacer_keeps_only_its_own_process_to_the_budget() -> None:
    # Given two process-local pacers at 10 calls per second
    clock = FrozenClock()
    one, two = Pacer(10, clock.time, clock.sleep), Pacer(10, clock.time, clock.sleep)

    # When each makes two calls at the same instant
    for pacer in (one, two, one, two):
        pacer.acquire()

    # Then each spaces only its own calls: together they would exceed the budget
    assert clock.slept == [0.1, 0.1]


def test_the_deployment_uses_the_shared_budget_when_it_has_a_state_table(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the functions' environment (STATE_TABLE set by the template)
    seed.create_pool("marketing")

    # When the runtime is built, then its SES calls go through the shared budget
    assert isinstance(get_runtime().ses.pacer, SharedPacer)
    get_runtime().ses.list_dedicated_pools()
    assert get_runtime().ses.pacer.calls == 1
