"""Issue 5: malformed payloads fed to the sweep function: each is refused with an error
the state machine does not retry (or is a harmless no-op), and SES is never written."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.sweep import app
from local_aws import call_counts, seed
from local_aws.replay import LambdaContext
from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters.state import LockLost
from ses_pool_enforcer.sweep import SweepRequestError
from tests.support import marketing_account

# Errors the state machine's Retry lists with MaxAttempts 0: they end the execution.
NOT_RETRIED = (SweepRequestError, LockLost)

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
payloads = st.one_of(
    st.dictionaries(st.text(max_size=10), values, max_size=4),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["step", "finish", "start", "stop", ""])},
        optional={"sweep": values, "execution": values, "input": values},
    ),
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(["step", "finish"]),
            "sweep": st.fixed_dictionaries(
                {"execution": st.text(max_size=12), "sweep_id": st.text(max_size=12)},
                optional={"processed": values, "done": values},
            ),
        }
    ),
)


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    marketing_account()
    seed.create_set("mkt-weekly", pool="transactional")  # a write would be visible
    return stack


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=payloads)
def test_malformed_sweep_payloads_are_refused_without_retry_or_write(
    account: LocalStack, payload: dict[str, Any]
) -> None:
    # Given a payload the state machine would never send (a "start" aside)
    if payload.get("action") == "start" and isinstance(payload.get("execution"), str):
        payload["execution"] = ""  # a valid start would legitimately begin a sweep

    # When the sweep function receives it, it answers or refuses with a cause the state
    # machine ends on (any other exception fails the test)
    with contextlib.suppress(*NOT_RETRIED):
        app.handler(payload, LambdaContext())

    # Then SES was never written to
    assert call_counts().get("PutConfigurationSetDeliveryOptions", 0) == 0
