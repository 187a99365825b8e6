"""The whole stack on local AWS, wired as ``template.yaml`` wires it in an account.

:func:`deploy` (``make local-aws``, or ``python -m local_aws.server``) makes on a running
local AWS what ``sam deploy`` makes in an account, so that the CLI's commands work
against it as they would after a deploy:

* the tables, queues, topic and bucket (:func:`local_aws.stack.provision`);
* the sweep state machine (``statemachine/sweep.asl.json`` on moto's engine), its Lambda
  task running the sweep function's handler in this process;
* a CloudFormation stack named ``ses-pool-enforcer`` whose outputs are the template's
  (``InventoryTableName``, ``SweepStateMachineArn``...), for ``--stack``;
* the events: each successful SES v2 write that ``SesChangeRule`` matches becomes a
  CloudTrail-shaped event on the event queue, which an event source mapping delivers to
  the event function; each write of the policy parameter starts a sweep with
  ``{"trigger": "policy-change"}``, as the ``PolicyChange`` rule does.

What it does not show: IAM (local AWS allows every call), CloudTrail's delivery delay
(minutes in an account, about a second here), the schedule (start a sweep with
``ses-pool-enforcer sweep --stack ses-pool-enforcer``), alarms, and the member accounts
of an organization.

Call it in the process that serves local AWS (the SES and SSM hooks are installed in
that process), with ``AWS_ENDPOINT_URL`` naming it: the functions call local AWS through
the endpoint, as they would call AWS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import boto3

from local_aws import sesv2, sfn
from local_aws.lambda_service import EventSourceMapping
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, provision

STACK_NAME = "ses-pool-enforcer"
POLICY_PARAMETER = "/ses-pool-enforcer/policy"

# SesChangeRule's event names (SES v2 calls only), the sample event each is shaped from,
# and what the event is about.
EVENTS: dict[str, tuple[str, str]] = {
    "CreateConfigurationSet": ("create_configuration_set_v2.json", "set"),
    "PutConfigurationSetDeliveryOptions": ("put_delivery_options_v2.json", "set"),
    "DeleteConfigurationSet": ("delete_configuration_set.json", "set"),
    "TagResource": ("tag_resource.json", "resource"),
    "UntagResource": ("untag_resource.json", "resource"),
    "CreateDedicatedIpPool": ("create_dedicated_ip_pool.json", "pool"),
    "DeleteDedicatedIpPool": ("delete_dedicated_ip_pool.json", "pool"),
    "CreateEmailIdentity": ("create_email_identity.json", "identity"),
    "PutEmailIdentityConfigurationSetAttributes": (
        "put_email_identity_configuration_set_attributes.json",
        "identity",
    ),
    "DeleteEmailIdentity": ("delete_email_identity.json", "identity"),
}


def cloudtrail_event(call: sesv2.SesCall, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The EventBridge event CloudTrail would deliver for ``call``; None for a call the
    template's rule does not match (a read, or a write it does not watch)."""
    known = EVENTS.get(call.action)
    if known is None:
        return None
    file, about = known
    names = call.parameters
    if about == "set":
        event = sample_event(file, configuration_set=names["ConfigurationSetName"], fresh_id=True)
    elif about == "pool":
        event = sample_event(file, pool=names["PoolName"], fresh_id=True)
    elif about == "identity":
        event = sample_event(file, identity=names["EmailIdentity"], fresh_id=True)
    else:
        event = sample_event(file, fresh_id=True)
        event["detail"]["requestParameters"]["resourceArn"] = names["ResourceArn"]
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event.update(account=call.account, region=call.region, time=stamp)
    event["detail"].update(awsRegion=call.region, recipientAccountId=call.account, eventTime=stamp)
    return event


@dataclass
class Deployment:
    """The stack, deployed on local AWS; :meth:`stop` unwires its events."""

    stack: LocalStack
    stack_name: str
    state_machine_arn: str
    mapping: EventSourceMapping
    _pending: queue.Queue[tuple[str, Any] | None] = field(default_factory=queue.Queue)
    _undo: list[Callable[[], None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outputs(self) -> dict[str, str]:
        """The stack outputs the CLI reads (a subset of ``template.yaml``'s)."""
        return {
            "InventoryTableName": self.stack.inventory_table,
            "IdentityTableName": self.stack.identity_table,
            "StateTableName": self.stack.state_table,
            "ReportBucketName": self.stack.report_bucket,
            "PolicyParameterName": self.stack.policy_parameter,
            "SweepStateMachineArn": self.state_machine_arn,
            "AlertTopicArn": self.stack.alert_topic_arn,
            "EventQueueUrl": self.stack.work_queue_url,
            "EventDeadLetterQueueUrl": self.stack.dead_letter_queue_url,
            "AlertFallbackQueueUrl": self.stack.alert_fallback_queue_url,
        }

    def _forward(self) -> None:
        """EventBridge's part: events to the queue, policy changes to the state machine
        (off the request threads, which must not call local AWS themselves)."""
        sqs = _client("sqs", self.stack.region)
        states = _client("stepfunctions", self.stack.region)
        while (item := self._pending.get()) is not None:
            kind, payload = item
            try:
                if kind == "event":
                    sqs.send_message(QueueUrl=self.stack.work_queue_url, MessageBody=payload)
                else:
                    states.start_execution(
                        stateMachineArn=self.state_machine_arn,
                        name=f"policy-change-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}",
                        input=json.dumps({"trigger": "policy-change"}),
                    )
            except Exception as exc:  # a lost event is said, never silent
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                print(f"local AWS: could not deliver a {kind}: {exc}", flush=True)

    def stop(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._pending.put(None)
        self.mapping.stop()


def _client(service: str, region: str) -> Any:
    return cast(Any, boto3).client(service, region_name=region)


def _quiet(handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """The function's JSON logs and EMF metrics kept off the server's console."""

    def run(event: dict[str, Any], context: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return handler(event, context)

    return run


def _stack_template(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "Description": "ses-pool-enforcer on local AWS (local_aws.deployment)",
            # A template needs a resource; this one records where the stack came from.
            "Resources": {
                "Origin": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {
                        "Name": "/ses-pool-enforcer/local-aws/origin",
                        "Type": "String",
                        "Value": "local_aws.deployment",
                    },
                }
            },
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


def deploy(
    region: str = "us-east-1",
    stack_name: str = STACK_NAME,
    policy_parameter: str = POLICY_PARAMETER,
    calls_per_second: str = "20",
) -> Deployment:
    """Provision the stack, wire its events, and record it as a CloudFormation stack."""
    stack = provision(region=region, policy_parameter=policy_parameter)
    os.environ.update(stack.environment())
    os.environ.setdefault("SES_CALLS_PER_SECOND", calls_per_second)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    # Imported only now: the handlers read their settings from the environment.
    from functions.on_event.app import handler as on_event
    from functions.sweep.app import handler as sweep

    arn = sfn.sweep_state_machine(_quiet(sweep), region)
    mapping = EventSourceMapping(
        stack.work_queue_url,
        _quiet(on_event),
        batching_window=0.2,
        max_concurrency=1,
        timeout=300,
        region=region,
    )
    deployment = Deployment(stack, stack_name, arn, mapping)
    _client("cloudformation", region).create_stack(
        StackName=stack_name, TemplateBody=_stack_template(deployment.outputs())
    )

    def on_ses(call: sesv2.SesCall) -> None:
        if call.region == region and (event := cloudtrail_event(call)) is not None:
            deployment._pending.put(("event", json.dumps(event)))

    def on_policy(name: str) -> None:
        if name == policy_parameter:
            deployment._pending.put(("policy-change", None))

    deployment._undo += [sesv2.on_call(on_ses), _on_parameter_written(on_policy)]
    threading.Thread(target=deployment._forward, name="eventbridge", daemon=True).start()
    mapping.start()
    return deployment


def _on_parameter_written(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(name)`` after each successful SSM PutParameter (Parameter Store's
    Create or Update change event); returns what unhooks it."""
    from moto.ssm.responses import SimpleSystemManagerResponse

    original = SimpleSystemManagerResponse.put_parameter

    def put_parameter(self: Any) -> Any:
        answer = original(self)
        listener(str(self._get_param("Name")))
        return answer

    SimpleSystemManagerResponse.put_parameter = put_parameter  # type: ignore[method-assign]

    def undo() -> None:
        SimpleSystemManagerResponse.put_parameter = original  # type: ignore[method-assign]

    return undo
