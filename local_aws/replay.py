"""Replay the sample events in ``events/`` through a handler as Lambda would deliver them."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ses_pool_enforcer.clock import SYSTEM

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
SET_NAME_KEYS = frozenset({"configurationsetname"})
IDENTITY_KEYS = frozenset({"emailidentity", "emailaddress", "domain", "identity"})


def _rename_identity(node: dict[str, Any], identity: str) -> None:
    for key, value in node.items():
        folded = key.lower()
        if folded in IDENTITY_KEYS:
            node[key] = identity
        elif folded == "resourcearn" and ":identity/" in value:
            node[key] = value.split(":identity/")[0] + f":identity/{identity}"


def _rename(node: Any, configuration_set: str | None, pool: str | None) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            folded = key.lower()
            if configuration_set and folded in SET_NAME_KEYS | {"name"} and isinstance(value, str):
                node[key] = configuration_set
            elif configuration_set and folded == "resourcearn" and ":configuration-set/" in value:
                node[key] = (
                    value.split(":configuration-set/")[0]
                    + f":configuration-set/{configuration_set}"
                )
            elif pool and folded in {"poolname", "sendingpoolname"}:
                node[key] = pool
            else:
                _rename(value, configuration_set, pool)


def sample_event(
    file: str,
    *,
    configuration_set: str | None = None,
    pool: str | None = None,
    identity: str | None = None,
    fresh_id: bool = False,
) -> dict[str, Any]:
    """A sample event from ``events/``, optionally about another set, pool or identity,
    or with new ids (a distinct CloudTrail record rather than a redelivery of the same
    one)."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / file).read_text())
    event = copy.deepcopy(event)
    parameters = event["detail"].get("requestParameters") or {}
    _rename(parameters, configuration_set, pool)
    if identity:
        _rename_identity(parameters, identity)
    if fresh_id:
        event["id"] = str(uuid.uuid4())
        event["detail"]["eventID"] = str(uuid.uuid4())
    return event


def sqs_event(
    bodies: Iterable[dict[str, Any] | str], queue_arn: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """An SQS-triggered Lambda event whose messages carry ``bodies``, sent now (by the
    enforcer's clock, as SQS would stamp them)."""
    arn = queue_arn or "arn:aws:sqs:us-east-1:123456789012:ses-pool-enforcer-events"
    sent = str(int(SYSTEM.time() * 1000))
    records = []
    for body in bodies:
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": sent,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


@dataclass
class LambdaContext:
    """The parts of a Lambda context the handlers and Powertools read."""

    function_name: str = "ses-pool-enforcer-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:ses-pool-enforcer-local"
    )
    aws_request_id: str = "local-request"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# --------------------------------------------------------------------------- rule targets

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


def _path(event: Any, path: str) -> Any:
    """A JSONPath of the simple form EventBridge's InputPathsMap takes (``$.detail.x``);
    None where the event has no such field."""
    if path == "$":
        return event
    if not path.startswith("$."):
        raise ValueError(f"unsupported InputPathsMap path {path!r}")
    node = event
    for part in path[2:].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def transformed_input(transformer: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What EventBridge hands a target whose ``InputTransformer`` is ``transformer``: the
    template with each ``<name>`` replaced by the event's value at its path, as JSON
    outside a string literal and as the bare text inside one (and ``null`` where the
    event lacks the field). The result parsed as JSON, as a JSON template must be."""
    values = {name: _path(event, path) for name, path in transformer["InputPathsMap"].items()}
    template: str = transformer["InputTemplate"]
    out: list[str] = []
    at = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            raise ValueError(f"InputTemplate uses <{name}>, which InputPathsMap does not define")
        before = template[at : match.start()]
        out.append(before)
        in_string = "".join(out).replace('\\"', "").count('"') % 2 == 1
        text = json.dumps(values[name])
        out.append(text[1:-1] if in_string and isinstance(values[name], str) else text)
        at = match.end()
    out.append(template[at:])
    return json.loads("".join(out))


def cloudtrail_to_queue(queue_url: str, *, region: str = "us-east-1", times: int = 100) -> Any:
    """What a trail, the stack's EventBridge rule and its SQS target do together: each
    ``CreateConfigurationSet`` request that local SES applies puts the EventBridge event
    of its CloudTrail record on ``queue_url`` (at once; CloudTrail takes minutes). Returns
    the fault that does it (``faults.clear()`` ends it)."""
    import boto3

    from local_aws import faults

    def deliver() -> None:
        name = fault.bodies[-1].get("ConfigurationSetName")
        event = sample_event(
            "create_configuration_set_v2.json", configuration_set=name, fresh_id=True
        )
        boto3.client("sqs", region_name=region).send_message(
            QueueUrl=queue_url, MessageBody=json.dumps(event)
        )

    fault = faults.after("sesv2", "CreateConfigurationSet", deliver, times=times)
    return fault
