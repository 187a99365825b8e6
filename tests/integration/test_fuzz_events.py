"""Issue 5: thousands of malformed and foreign events fed to the event handler: no crash,
nothing sent back to the queue to be retried forever, no SES write."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.on_event import app
from local_aws import call_counts, seed
from local_aws.replay import EVENTS_DIR, LambdaContext, sqs_event
from local_aws.stack import LocalStack

SAMPLES = [json.loads(p.read_text()) for p in sorted(Path(EVENTS_DIR).glob("*.json"))]
SETS = ["mkt-weekly", "tx-receipts", "newsletter-weekly"]
POLICY = """
version: 1
mode: enforce
rules:
  - {id: marketing, match: {names: ["mkt-*", "newsletter-*"]}, pool: marketing}
  - {id: receipts, match: {names: ["tx-*"]}, pool: transactional}
"""
EXAMPLES = 500  # each carries up to 10 messages: thousands of events in all

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from([*SETS, "", "arn:aws:ses:us-east-1:1:configuration-set/", "*", "../x"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
paths = st.lists(
    st.sampled_from(
        [
            "detail",
            "requestParameters",
            "configurationSetName",
            "configurationSet",
            "name",
            "resourceArn",
            "eventName",
            "eventSource",
            "eventID",
            "userIdentity",
            "errorCode",
            "time",
            "detail-type",
            "poolName",
            "source",
            "account",
            "region",
            "id",
        ]
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def mutated_sample(draw: st.DrawFn) -> Any:
    """A real sample event with one field replaced, removed or retyped."""
    event = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    node: Any = event
    path = draw(paths)
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            break
        node = node[key]
    if isinstance(node, dict):
        if draw(st.booleans()):
            node.pop(path[-1], None)
        else:
            node[path[-1]] = draw(json_values)
    return event


bodies = st.one_of(
    mutated_sample(),
    json_values,
    st.text(max_size=200),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.builds(lambda v: {"kind": "reconcile", "configuration_set": v, "trigger": v}, json_values),
)


@pytest.fixture
def compliant_account(stack: LocalStack) -> LocalStack:
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(POLICY)
    seed.create_set("mkt-weekly", pool="marketing", tls_policy="REQUIRE")
    seed.create_set("tx-receipts", pool="transactional")
    seed.create_set("newsletter-weekly", pool="marketing")
    return stack


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(bodies, min_size=1, max_size=10))
def test_malformed_and_foreign_events_never_crash_retry_or_write(
    compliant_account: LocalStack, batch: list[Any]
) -> None:
    # Given an account whose sets are all compliant, and a batch of hostile messages
    messages = [b if isinstance(b, str) else json.dumps(b) for b in batch]

    # When the event function receives them
    result = app.handler(sqs_event(messages), LambdaContext())

    # Then nothing is sent back to be retried, and SES is never written to
    assert result == {"batchItemFailures": []}
    assert call_counts().get("PutConfigurationSetDeliveryOptions", 0) == 0
