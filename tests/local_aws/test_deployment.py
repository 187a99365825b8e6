"""The stack on local AWS (``make local-aws``): a user's own policy, published with the CLI,
enforced on SES changes, reported and swept, with the commands the README gives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from local_aws import seed, sfn
from local_aws.deployment import STACK_NAME, Deployment, cloudtrail_event, deploy
from local_aws.server import start_local_aws
from local_aws.sesv2 import SesCall
from tests.conftest import reset_process_caches

# What template.yaml gives the functions, and a user's shell does not have.
FUNCTION_SETTINGS = {
    "POLICY_PARAMETER", "ALERT_TOPIC_ARN", "ALERT_FALLBACK_QUEUE_URL", "WORK_QUEUE_URL",
    "INVENTORY_TABLE", "IDENTITY_TABLE", "STATE_TABLE", "REPORT_BUCKET", "ACCOUNT_ID",
}  # fmt: skip


@dataclass
class Local:
    deployment: Deployment
    endpoint_url: str


POLICY = """\
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
"""


@pytest.fixture
def deployed(local_aws: None) -> Iterator[Local]:
    """The stack deployed on local AWS, served on a port as ``make local-aws`` serves it."""
    saved = dict(os.environ)
    with start_local_aws() as server:
        deployment = deploy()
        reset_process_caches()
        try:
            yield Local(deployment, server.endpoint_url)
        finally:
            deployment.stop()
            os.environ.clear()
            os.environ.update(saved)


def cli(local: Local, *args: str) -> tuple[int, str]:
    """The CLI in a shell of its own, as the README has the user run it: the endpoint and
    credentials exported, none of the functions' settings (tables, queue) known."""
    env = {k: v for k, v in os.environ.items() if k not in FUNCTION_SETTINGS}
    env["AWS_ENDPOINT_URL"] = local.endpoint_url
    done = subprocess.run(
        [sys.executable, "-m", "ses_pool_enforcer.cli", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def pool_of(name: str) -> str | None:
    return seed.delivery_options(name).get("SendingPoolName")


def test_a_published_policy_is_enforced_reported_and_swept(deployed: Local, tmp_path: Path) -> None:
    # Given the stack on local AWS, and an account with a marketing set on the wrong pool
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.create_set("mkt-weekly", pool="transactional")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)

    # When the user publishes their policy
    status, _ = cli(deployed, "publish", str(policy), "--yes")

    # Then the sweep the policy change starts moves the set
    assert status == 0
    assert eventually(lambda: pool_of("mkt-weekly") == "marketing")

    # And when someone moves it back, the SES event brings the event function, which
    # moves it again
    seed.set_pool("mkt-weekly", "transactional")
    assert eventually(lambda: pool_of("mkt-weekly") == "marketing")

    # And report finds the inventory through the stack (no table named anywhere)
    status, out = cli(deployed, "report")
    assert status == 0
    assert out.startswith(
        "Compliance report: 1 configuration set (inventory ses-pool-enforcer-inventory)."
    )
    assert "Every managed set is compliant, remediated or exempt." in out

    # And, once the policy change's sweep has ended (a sweep started while another holds the
    # lane is answered "busy", and reruns after it), sweep --stack starts the stack's state
    # machine, which runs to the end
    states = boto3.client("stepfunctions")
    (machine,) = states.list_state_machines()["stateMachines"]
    assert eventually(
        lambda: (
            not states.list_executions(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )["executions"]
        ),
        timeout=60,
    )
    status, out = cli(deployed, "sweep", "--stack", STACK_NAME)
    assert status == 0
    execution = sfn.wait_for(out.strip(), timeout=60)
    assert execution.status == "SUCCEEDED"
    assert execution.output["report"]["total"] == 1
    assert deployed.deployment.errors == []


def test_only_the_writes_the_template_watches_become_events() -> None:
    # Given calls as local SES saw them
    def call(action: str, **names: str) -> SesCall:
        return SesCall(action, "111122223333", "eu-west-1", names)

    created = cloudtrail_event(call("CreateConfigurationSet", ConfigurationSetName="mkt-a"))
    tagged = cloudtrail_event(
        call(
            "TagResource",
            ResourceArn="arn:aws:ses:eu-west-1:111122223333:identity/news.example.com",
        )
    )

    # Then a write becomes the CloudTrail event SesChangeRule matches, about its set, in
    # its account and region; a read becomes nothing
    assert created is not None and tagged is not None
    assert created["detail"]["eventName"] == "CreateConfigurationSet"
    assert created["detail"]["requestParameters"]["configurationSetName"] == "mkt-a"
    assert (created["account"], created["detail"]["awsRegion"]) == ("111122223333", "eu-west-1")
    assert tagged["detail"]["requestParameters"]["resourceArn"].endswith(
        ":identity/news.example.com"
    )
    assert cloudtrail_event(call("GetConfigurationSet", ConfigurationSetName="mkt-a")) is None
