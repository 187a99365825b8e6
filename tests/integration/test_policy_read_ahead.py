"""A cold process reads the policy while it builds its other clients: the read its first
look would make, begun early and waited for by that look (docs/design/cold-start.md)."""

from __future__ import annotations

import threading

import pytest

from local_aws import faults
from local_aws.replay import sample_event
from local_aws.stack import LocalStack
from ses_pool_enforcer import runtime as runtime_module
from ses_pool_enforcer.adapters import policy_store
from ses_pool_enforcer.adapters.policy_store import PolicyMissing, PolicySnapshot, load_policy
from ses_pool_enforcer.runtime import get_runtime
from tests.conftest import reset_process_caches
from tests.support import invoke, marketing_account

READ = "ssm:GetParameter"


def reads() -> int:
    return faults.request_counts().get(READ, 0)


def test_a_cold_runtime_is_built_while_ssm_answers_the_policy_read(stack: LocalStack) -> None:
    # Given the policy in SSM, and SSM holding its answer until the test lets it go
    marketing_account()
    arrived, released, held = threading.Event(), threading.Event(), []
    faults.after("ssm", "GetParameter", lambda: (arrived.set(), held.append(released.wait(30))))
    before = reads()

    # When a cold process builds its runtime
    runtime = get_runtime(read_policy_ahead=True)

    # Then the policy's read reached SSM and the runtime was built without its answer
    assert arrived.wait(10), "the policy was not read while the runtime was built"
    released.set()
    # And the first look's policy is that read, waited for: one read in all
    snapshot = runtime.policy()
    assert isinstance(snapshot, PolicySnapshot) and snapshot.policy.rules
    assert held == [True]
    assert reads() - before == 1


def test_a_read_ahead_that_failed_is_the_first_looks_answer_without_a_second_read(
    stack: LocalStack,
) -> None:
    # Given no policy parameter at all
    before = reads()

    # When a cold process builds its runtime and its first look asks for the policy
    snapshot = get_runtime(read_policy_ahead=True).policy()

    # Then the look is told the policy is missing, by the one read made ahead
    assert isinstance(snapshot, PolicyMissing)
    assert "does not exist" in str(snapshot)
    assert reads() - before == 1


@pytest.mark.parametrize(("age", "answer"), [(59.0, "missing"), (61.0, "published")])
def test_a_failed_read_ahead_is_served_only_as_long_as_a_read_would_be_cached(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, age: float, answer: str
) -> None:
    # Given a read ahead (a 60 s cache) that found no policy, ended at a known time
    now = 1000.0
    monkeypatch.setattr(policy_store.time, "monotonic", lambda: now)
    policy_store.read_ahead(stack.policy_parameter, 60)
    policy_store._ahead[stack.policy_parameter].thread.join()
    # And the policy published since
    marketing_account()

    # When the first look asks for the policy ``age`` seconds after that read ended
    now += age
    if answer == "missing":
        # Then within the cache's age it hears what the read found, as from the cache
        with pytest.raises(PolicyMissing):
            load_policy(stack.policy_parameter, 60)
    else:
        # Then past it, the policy is read again and found
        assert load_policy(stack.policy_parameter, 60).policy.rules


def test_nothing_is_read_ahead_when_every_look_reads_the_policy_anew(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose policy is never cached (PolicyCacheSeconds=0)
    marketing_account()
    monkeypatch.setenv("POLICY_CACHE_SECONDS", "0")
    reset_process_caches()
    before = reads()

    # When a cold process builds its runtime and its first look reads the policy
    snapshot = get_runtime(read_policy_ahead=True).policy()

    # Then one read: the look's own, none made ahead of it
    assert isinstance(snapshot, PolicySnapshot)
    assert reads() - before == 1


def test_the_event_function_reads_its_policy_ahead_and_a_sweep_does_not(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the policy in SSM, and the reads begun ahead seen as they begin
    marketing_account()
    begun: list[str] = []
    real = runtime_module.read_ahead
    monkeypatch.setattr(
        runtime_module, "read_ahead", lambda name, age: (begun.append(name), real(name, age))
    )

    # When a cold event function hears of a set
    event = sample_event("create_configuration_set_v2.json", configuration_set="mkt-x")
    assert invoke(event) == {"batchItemFailures": []}
    # Then its policy was read ahead
    assert begun == [stack.policy_parameter]

    # When a cold process builds a runtime for a sweep (which reads the policy anew, or
    # the version it started with: a read ahead would be a call for nothing)
    reset_process_caches()
    get_runtime()
    # Then nothing is read ahead
    assert begun == [stack.policy_parameter]


def test_a_read_ahead_ssm_failed_is_read_again_by_the_first_look(stack: LocalStack) -> None:
    # Given the policy in SSM, and SSM failing every attempt of the read made ahead (the
    # client's three: an outage, or an environment frozen mid-read and thawed later)
    marketing_account()
    failing = faults.fail("ssm", "GetParameter", times=3, code="InternalServerError")
    before = reads()

    # When a cold process builds its runtime and its first look asks for the policy
    snapshot = get_runtime(read_policy_ahead=True).policy()

    # Then the look read it again itself and has it: SSM's failure was not kept for it
    assert failing.seen == 3
    assert isinstance(snapshot, PolicySnapshot) and snapshot.policy.rules
    assert reads() - before == 4
