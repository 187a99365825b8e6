"""Issue 5: duplicates, SNS failing, the policy unreadable or deleted: each injected
against local AWS, each ending with nothing lost and no SES write on doubt."""

from __future__ import annotations

import json

import boto3
import pytest

from functions.on_event import app
from local_aws import call_counts, seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from tests.conftest import reset_process_caches
from tests.integration.test_sweep import metrics_emitted
from tests.support import invoke, marketing_account, ses_writes


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    marketing_account()
    return stack


def test_the_same_cloudtrail_event_delivered_twice_gives_one_write_and_one_alert(
    account: LocalStack,
) -> None:
    # Given a set on the wrong pool and its creation event
    seed.create_set("mkt-weekly", pool="transactional")
    event = sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")

    # When EventBridge delivers the same record twice, in two invocations
    invoke(event)
    invoke(event)

    # Then one write, one alert
    assert ses_writes() == 1
    assert len(received_alerts(account)) == 1


def test_a_duplicated_event_about_an_audited_set_alerts_once(account: LocalStack) -> None:
    # Given a receipts set on the wrong pool (audit: each look would report it)
    seed.create_set("tx-receipts", pool="marketing")
    event = sample_event("put_delivery_options_v2.json", configuration_set="tx-receipts")

    # When the same record arrives twice, even within one batch
    invoke(event, event)

    # Then the owners hear about it once
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "violation"


def test_a_violation_is_alerted_when_it_appears_or_changes_not_at_every_look(
    account: LocalStack,
) -> None:
    # Given an audited set on the wrong pool, and two different CloudTrail records about it
    seed.create_set("tx-receipts", pool="marketing")

    # When both arrive, one after the other
    for _ in range(2):
        invoke(
            sample_event(
                "put_delivery_options_v2.json", configuration_set="tx-receipts", fresh_id=True
            )
        )

    # Then each was looked at, and the owners heard about the violation once
    assert call_counts()["GetConfigurationSet"] == 2
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "violation"

    # When someone moves it to another wrong pool
    seed.set_pool("tx-receipts", "ses-shared-pool")
    invoke(
        sample_event("put_delivery_options_v2.json", configuration_set="tx-receipts", fresh_id=True)
    )

    # Then that is news: a second alert
    [alert] = received_alerts(account)
    assert alert["alert"]["current_pool"] == "ses-shared-pool"


def test_an_alert_sns_refuses_is_parked_on_the_fallback_queue(account: LocalStack) -> None:
    # Given the alert topic is gone (SNS refuses every publish)
    boto3.client("sns").delete_topic(TopicArn=account.alert_topic_arn)
    seed.create_set("mkt-weekly", pool="transactional")

    # When a set is remediated
    result = invoke(
        sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    )

    # Then the set is moved and the alert waits on the fallback queue, not lost
    assert result == {"batchItemFailures": []}
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    messages = boto3.client("sqs").receive_message(
        QueueUrl=account.alert_fallback_queue_url, MaxNumberOfMessages=10
    )["Messages"]
    [parked] = [json.loads(m["Body"]) for m in messages]
    assert parked["alert"]["outcome"] == "remediated"
    assert parked["alert"]["configuration_set"] == "mkt-weekly"
    assert "mkt-weekly" in parked["subject"]


def test_when_sns_and_the_fallback_queue_both_fail_the_event_is_retried(
    account: LocalStack,
) -> None:
    # Given neither the topic nor the fallback queue accepts anything
    boto3.client("sns").delete_topic(TopicArn=account.alert_topic_arn)
    boto3.client("sqs").delete_queue(QueueUrl=account.alert_fallback_queue_url)
    seed.create_set("tx-receipts", pool="marketing")
    event = sample_event("put_delivery_options_v2.json", configuration_set="tx-receipts")

    # When a violation is found
    result = app.handler(
        sqs_event(
            [
                event,
                sample_event(
                    "put_delivery_options_v2.json", configuration_set="tx-receipts", fresh_id=True
                ),
            ]
        ),
        LambdaContext(),
    )

    # Then the messages go back to the queue (SQS retries them, then the dead-letter queue)
    assert len(result["batchItemFailures"]) == 2
    assert ses_writes() == 0


def test_a_deleted_policy_parameter_gives_no_write_and_an_error_alert(
    account: LocalStack,
) -> None:
    # Given the policy parameter was deleted
    boto3.client("ssm").delete_parameter(Name=account.policy_parameter)
    seed.create_set("mkt-weekly", pool="transactional")

    # When an event arrives
    result = invoke(
        sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    )

    # Then nothing is written and the alert says the policy is missing
    assert result == {"batchItemFailures": []}
    assert ses_writes() == 0
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "error"
    assert "does not exist" in alert["alert"]["reason"]


def test_ssm_unreachable_gives_no_write_an_alert_and_a_retry(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SSM cannot be reached (its endpoint refuses connections)
    seed.create_set("mkt-weekly", pool="transactional")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")
    reset_process_caches()
    events = [
        sample_event(
            "create_configuration_set_v2.json", configuration_set="mkt-weekly", fresh_id=True
        )
        for _ in range(3)
    ]

    # When events arrive
    result = app.handler(sqs_event(events), LambdaContext())

    # Then every message goes back to the queue, nothing is written, one alert is sent
    assert len(result["batchItemFailures"]) == 3
    assert ses_writes() == 0
    [alert] = received_alerts(account)
    assert "policy unavailable" in alert["subject"]

    # When SSM is back, the retried messages are handled
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM")
    reset_process_caches()
    assert invoke(events[0]) == {"batchItemFailures": []}
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"


def test_ssm_unreachable_stops_the_batch_at_its_first_set(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given SSM cannot be reached, and events about three sets in one batch
    names = ["mkt-a", "mkt-b", "mkt-c"]
    for name in names:
        seed.create_set(name, pool="transactional")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")
    reset_process_caches()
    events = [
        sample_event("create_configuration_set_v2.json", configuration_set=n, fresh_id=True)
        for n in names
    ]

    # When they arrive
    result = app.handler(sqs_event(events), LambdaContext())

    # Then every message goes back to the queue after one failed policy read, not one per
    # set (each spends the SDK's retries: a batch would spend its time on them)
    assert len(result["batchItemFailures"]) == 3
    assert metrics_emitted(capsys.readouterr().out)["PolicyUnavailable"] == [1.0]


def test_a_pool_event_delivered_twice_is_handled_both_times_without_error(
    account: LocalStack,
) -> None:
    # Given a pool creation event (found by the fuzz test: an idempotent answer of [] came
    # back from Powertools as None on the second delivery)
    event = sample_event("create_dedicated_ip_pool.json", pool="marketing")

    # When it is delivered twice
    first, second = invoke(event), invoke(event)

    # Then neither delivery is sent back to the queue
    assert first == second == {"batchItemFailures": []}
