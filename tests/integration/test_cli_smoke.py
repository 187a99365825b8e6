"""``ses-pool-enforcer smoke --stack NAME`` end to end on local AWS: the stack's outputs
read from CloudFormation, the stored policy from SSM, the throw-away set created in SES,
its CloudTrail record delivered to the event queue, the deployed event function run by
a local event source mapping, and the alert read from a temporary queue subscribed to
the stack's topic. Whatever happens, the set, the subscription and the queue are gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml

from functions.on_event import app
from local_aws import faults
from local_aws.lambda_service import EventSourceMapping
from local_aws.replay import cloudtrail_to_queue
from local_aws.stack import LocalStack, received_alerts, register
from ses_pool_enforcer.cli import main
from tests.support import MARKETING_POLICY, marketing_account

NAME = "ses-pool-enforcer"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
FAST = ["--timeout", "20", "--interval", "0.2"]


@pytest.fixture
def deployed(stack: LocalStack) -> LocalStack:
    # Given a deployed stack (its outputs in CloudFormation) and a stored policy
    marketing_account(MARKETING_POLICY)
    register(stack, NAME)
    return stack


@pytest.fixture
def enforcer(deployed: LocalStack) -> Iterator[EventSourceMapping]:
    # And the deployment at work: a trail and the EventBridge rule deliver each
    # CreateConfigurationSet to the event queue, which the event function consumes
    cloudtrail_to_queue(deployed.work_queue_url)
    mapping = EventSourceMapping(
        deployed.work_queue_url, app.handler, batching_window=0.1, max_concurrency=1
    ).start()
    yield mapping
    mapping.stop()
    faults.clear()


def sets() -> list[str]:
    answer = boto3.client("sesv2", region_name="us-east-1").list_configuration_sets()
    return sorted(answer.get("ConfigurationSets", []))


def queues() -> list[str]:
    return sorted(boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", []))


def subscriptions(stack: LocalStack) -> list[str]:
    answer = boto3.client("sns", region_name="us-east-1").list_subscriptions_by_topic(
        TopicArn=stack.alert_topic_arn
    )
    return sorted(s["Endpoint"] for s in answer["Subscriptions"])


def test_the_register_outputs_are_outputs_the_template_declares(deployed: LocalStack) -> None:
    template: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    described = boto3.client("cloudformation", region_name="us-east-1").describe_stacks(
        StackName=NAME
    )["Stacks"][0]
    assert {o["OutputKey"] for o in described["Outputs"]} <= set(template["Outputs"])
    assert "EnforcementMode" in template["Parameters"]


def test_smoke_sees_the_deployed_enforcer_move_and_alert_and_leaves_nothing_behind(
    deployed: LocalStack, enforcer: EventSourceMapping, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (queues(), subscriptions(deployed))

    # When the smoke test runs against the stack
    status = main(["smoke", "--stack", NAME, *FAST])

    # Then it passes, and says what it did and how long each step took
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "smoke test passed: the enforcer moved mkt-smoke-test-" in out
    assert "to marketing and alerted" in out
    for step in (
        "read the stack's outputs",
        "read the stored policy",
        "rule marketing: mkt-smoke-test-",
        "on transactional, expected on marketing",
        "wait for the enforcer to move it to marketing",
        "moved after",
        "remediated (transactional -> marketing, rule marketing, trigger event)",
        "deleted",
    ):
        assert step in out, step
    assert " s  " in out  # (each step's duration)
    # And the deployed function did the move (not the smoke test), from its event
    stats = enforcer.stop()
    assert stats.invocations >= 1 and stats.errors == [] and stats.failed_messages == 0
    # And the set, the temporary queue and its subscription are gone
    assert sets() == []
    assert (queues(), subscriptions(deployed)) == before
    # And the operator's inbox got the same remediation alert
    [alert] = received_alerts(deployed)
    assert alert["alert"]["outcome"] == "remediated"
    assert alert["alert"]["configuration_set"].startswith("mkt-smoke-test-")


def test_smoke_with_no_enforcer_at_work_times_out_clearly_and_still_deletes_the_set(
    deployed: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no trail delivers the set's record (nothing will move it)
    before = (queues(), subscriptions(deployed))

    # When the smoke test runs with a short timeout
    status = main(["smoke", "--stack", NAME, "--timeout", "1", "--interval", "0.2"])

    # Then it fails, says what to check, and shows its progress while it waited
    out, err = capsys.readouterr()
    assert status == 1
    assert "waiting for the move:" in err
    assert "NOT MOVED" in out
    [message] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "did not move mkt-smoke-test-" in message
    for what in ("CloudTrail trail", "EventBridge rules", "dead-letter queue", "--timeout"):
        assert what in message, what
    assert f"{deployed.dead_letter_queue_url}: 0 messages" in message
    # And the set, the temporary queue and its subscription are gone all the same
    assert "deleted" in out
    assert sets() == []
    assert (queues(), subscriptions(deployed)) == before


def test_smoke_says_why_no_rule_can_serve_and_creates_nothing(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a policy whose only enforced rule names one set, and an audit rule
    from local_aws import seed

    seed.create_pool("marketing")
    seed.put_policy(
        """
version: 1
mode: enforce
rules:
  - id: newsletter
    match: {names: ["newsletter"]}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: marketing
    mode: audit
"""
    )
    register(stack, NAME)
    before = queues()

    # When the smoke test runs
    status = main(["smoke", "--stack", NAME, *FAST])

    # Then it says why it cannot pick a set, and has made nothing
    _, err = capsys.readouterr()
    assert status == 1
    assert "no rule to test with" in err
    assert "rule newsletter: no throw-away name matches 'newsletter'" in err
    assert "rule receipts: audit mode" in err
    assert sets() == [] and queues() == before


def test_smoke_refuses_an_audit_deployment(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    marketing_account(MARKETING_POLICY)
    register(stack, NAME, enforcement_mode="audit")
    assert main(["smoke", "--stack", NAME, *FAST]) == 1
    assert "EnforcementMode=audit" in capsys.readouterr().err
    assert sets() == []


def test_smoke_names_a_stack_that_does_not_exist(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["smoke", "--stack", "nope", *FAST]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("error: stack nope cannot be read")


def test_smoke_never_deletes_a_set_it_did_not_make(
    deployed: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given sets already named as the smoke test would name its own in the next seconds
    import datetime as dt

    ses = boto3.client("sesv2", region_name="us-east-1")
    now = dt.datetime.now(dt.UTC)
    taken = [f"mkt-smoke-test-{now + dt.timedelta(seconds=s):%Y%m%d-%H%M%S}" for s in range(0, 10)]
    for name in taken:
        ses.create_configuration_set(ConfigurationSetName=name)

    # When the smoke test runs, and its create is refused (the name is taken)
    status = main(["smoke", "--stack", NAME, *FAST])

    # Then it fails in a line, and the set it found is kept
    out, err = capsys.readouterr()
    assert status == 1
    assert "kept: it existed before" in out
    assert "AlreadyExistsException" in err.strip().splitlines()[-1]
    assert sets() == sorted(taken)
