"""Issue 5: a burst of 1,000 events under SES throttling loses nothing."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from functions.on_event import app
from local_aws import call_counts, seed, set_throttle_every, throttle_stats
from local_aws.event_source import drain, queue_depth
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, received_alerts
from tests.conftest import reset_process_caches
from tests.support import marketing_account

BURST = int(os.environ.get("BURST_EVENTS", "1000"))


def test_a_burst_of_1000_creations_under_throttling_ends_with_every_set_compliant(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 1,000 sets created on the wrong pool within a minute, their events buffered
    marketing_account()
    names = [f"mkt-{i:04d}" for i in range(BURST)]
    for name in names:
        seed.create_set(name, pool="transactional", tls_policy="REQUIRE")
    sqs = boto3.client("sqs")
    for start in range(0, BURST, 10):
        sqs.send_message_batch(
            QueueUrl=stack.work_queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(
                        sample_event(
                            "create_configuration_set_v2.json", configuration_set=n, fresh_id=True
                        )
                    ),
                }
                for i, n in enumerate(names[start : start + 10])
            ],
        )
    # And SES answering one call in 40 with 429 (the account's budget is shared)
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "1000")
    reset_process_caches()
    set_throttle_every(40)

    # When the event source mapping drains the queue through the real handler
    stats = drain(stack.work_queue_url, app.handler)

    # Then SES did throttle, and every throttled call was retried to success
    assert throttle_stats().throttled > 0
    assert call_counts()["PutConfigurationSetDeliveryOptions"] - throttle_stats().throttled <= BURST
    # And every set is on its pool, nothing is left in either queue
    set_throttle_every(None)
    assert all(seed.delivery_options(n)["SendingPoolName"] == "marketing" for n in names)
    assert queue_depth(stack.work_queue_url) == 0
    assert queue_depth(stack.dead_letter_queue_url) == 0
    # And one remediation alert per set
    alerts = received_alerts(stack)
    assert sorted(a["alert"]["configuration_set"] for a in alerts) == names
    print(f"burst: {stats}, SES calls {call_counts()}, throttled {throttle_stats().throttled}")
