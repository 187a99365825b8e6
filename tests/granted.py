"""Which AWS actions the code really calls, against what the templates grant.

moto checks no IAM policy, so a call the code makes and the template does not grant
passes every local test and fails in AWS with AccessDenied. ``Calls`` records each
request the enforcer's own boto3 session sends (the functions' clients, and the member
lanes' clients built from it) with the access key that signs it: the hub's own
credentials (the environment's key) or a member role's (moto's STS hands out
others). ``granted`` reads the actions a template grants one role. A test runs the real
code, then checks the first against the second.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from ses_pool_enforcer.adapters import aws
from tests.conftest import reset_process_caches

ROOT = Path(__file__).resolve().parents[1]
HUB_TEMPLATE = ROOT / "template.yaml"
MEMBER_TEMPLATE = ROOT / "templates" / "member.yaml"

# botocore's signing name where it is not the IAM service prefix
PREFIXES = {"monitoring": "cloudwatch"}
# Calls no policy can deny.
UNGRANTED = frozenset({"sts:GetCallerIdentity"})
# DynamoDB authorises a transaction per item, by the item's own action.
TRANSACT = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# SQS authorises each batch call by the permission of its single-message action.
BATCHES = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


@dataclass
class Calls:
    own: set[str] = field(default_factory=set)  # actions on the hub's own credentials
    member: set[str] = field(default_factory=set)  # ... on a member role's
    counts: Counter[str] = field(default_factory=Counter)  # requests per action

    def _record(self, model: Any, params: dict[str, Any], request_signer: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name
        prefix = PREFIXES.get(prefix, prefix)
        if model.name == "TransactWriteItems":  # (params: the request, its body serialised)
            items = json.loads(params["body"])["TransactItems"]
            actions = {TRANSACT[kind] for item in items for kind in item}
        else:
            action = f"{prefix}:{model.name}"
            actions = {BATCHES.get(action, action)}
        key = request_signer._credentials.access_key  # (no public accessor)
        own = key == os.environ["AWS_ACCESS_KEY_ID"]  # (moto's mock sets its own)
        (self.own if own else self.member).update(actions - UNGRANTED)
        self.counts.update(actions)


@contextmanager
def recording(*, fresh: bool = True) -> Iterator[Calls]:
    """Record the calls of clients made from here on. Each client copies the session's
    handlers when it is built, and a warm process holds clients (its runtime's adapters,
    the policy provider's): the process starts afresh first, as a new Lambda process.
    ``fresh=False`` keeps a warm process's memory and forgets only the clients it builds
    on demand: those its runtime already holds then go unrecorded."""
    if fresh:
        reset_process_caches()
    else:
        aws.reset()
    calls = Calls()
    aws._session().events.register("before-call", calls._record)
    try:
        yield calls
    finally:
        aws.reset()


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return data


def _statements(document: Any, conditions: frozenset[str]) -> Iterator[dict[str, Any]]:
    for statement in document.get("Statement", []):
        if "Fn::If" in statement:
            condition, when_true, _ = statement["Fn::If"]
            if condition not in conditions:
                continue
            statement = when_true
        yield statement


def granted(
    role: str, conditions: frozenset[str] = frozenset(), *, member: bool = False
) -> set[str]:
    """The actions ``role`` (a logical id) is allowed, with ``conditions`` true."""
    resources = _load(MEMBER_TEMPLATE if member else HUB_TEMPLATE)["Resources"]
    actions: set[str] = set()
    for policy in resources[role]["Properties"].get("Policies", []):
        for statement in _statements(policy["PolicyDocument"], conditions):
            if statement.get("Effect") == "Allow":
                action = statement["Action"]
                actions.update(action if isinstance(action, list) else [action])
    return actions
