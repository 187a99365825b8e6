"""The event path: one queued message in, the sets it names reconciled.

A message is an EventBridge event carrying a CloudTrail record, or a ``reconcile``
request that a pool event fanned out. Anything unusable is logged, counted and dropped
(retrying it cannot help); AWS failures propagate so the queue retries the message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.adapters.policy_store import PolicyUnavailable
from ses_pool_enforcer.events import Ignored, SesCloudTrailEvent, Target, Work, work_from
from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.runtime import Runtime

RECONCILE_KIND = "reconcile"
IDEMPOTENCY_SECONDS = 6 * 3600  # CloudTrail redeliveries come within minutes
POLICY_ALERT_SECONDS = 300.0
SQS_BATCH = 10


def reconcile_request(name: str, trigger: Trigger) -> dict[str, Any]:
    return {"kind": RECONCILE_KIND, "configuration_set": name, "trigger": asdict(trigger)}


def handle_message(
    body: str, runtime: Runtime, context: LambdaContext | None = None
) -> list[OutcomeRecord]:
    logger.set_correlation_id(None)  # keys of the previous message in the batch
    logger.remove_keys(["event_name", "target"])
    try:
        return _handle(body, runtime, context)
    except Ignored as why:
        logger.warning("event ignored", extra={"cause": str(why)})
        metrics.add_metric(name="EventIgnored", unit=MetricUnit.Count, value=1)
        return []
    except PolicyUnavailable as exc:
        # Transient: the message goes back to the queue. Say so once in a while, not per event.
        logger.error("policy unavailable; message will be retried", extra={"cause": str(exc)})
        metrics.add_metric(name="PolicyUnavailable", unit=MetricUnit.Count, value=1)
        _alert_policy_unavailable(runtime, exc)
        raise


def _alert_policy_unavailable(runtime: Runtime, exc: PolicyUnavailable) -> None:
    now = time.monotonic()
    if now - runtime.memo.get("policy_alerted_at", -POLICY_ALERT_SECONDS) < POLICY_ALERT_SECONDS:
        return
    runtime.memo["policy_alerted_at"] = now
    text = (
        f"The enforcer cannot read its policy: {exc}\n\n"
        "No configuration set is changed while the policy cannot be read. Events are kept "
        "in the queue and retried; those that keep failing reach the dead-letter queue.\n"
    )
    runtime.alerts.publish(
        "[ses-pool-enforcer] error: policy unavailable, enforcement paused",
        text,
        {"outcome": Outcome.ERROR.value, "reason": str(exc), "trigger": "event"},
        {"outcome": Outcome.ERROR.value},
    )


def _handle(body: str, runtime: Runtime, context: LambdaContext | None) -> list[OutcomeRecord]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise Ignored(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Ignored("message body is not a JSON object")

    if data.get("kind") == RECONCILE_KIND:
        name = data.get("configuration_set")
        if not isinstance(name, str) or not name:
            raise Ignored("reconcile request without a configuration_set")
        try:
            trigger = Trigger(**data.get("trigger") or {"source": "request"})
        except TypeError as exc:
            raise Ignored(f"reconcile request with a bad trigger: {exc}") from exc
        return [runtime.reconciler().reconcile(name, trigger)]

    try:
        event = SesCloudTrailEvent.model_validate(data)
    except ValidationError as exc:
        raise Ignored(
            f"not a CloudTrail event from EventBridge: {exc.error_count()} errors"
        ) from exc
    work = work_from(event)
    logger.set_correlation_id(work.trigger.event_id)
    logger.append_keys(event_name=work.trigger.event_name, target=work.name)
    once = _once(runtime, context)
    done = once(event={"event_id": work.trigger.event_id, "work": _work_document(work)})
    return [OutcomeRecord.from_dict(item) for item in done["records"]]


def _work_document(work: Work) -> dict[str, Any]:
    return {"target": work.target.value, "name": work.name, "trigger": asdict(work.trigger)}


def _act(runtime: Runtime, *, event: dict[str, Any]) -> dict[str, Any]:
    """Do what one CloudTrail event asks; the answer is what the idempotency record keeps
    (never empty: Powertools replays an empty answer as None)."""
    work = event["work"]
    trigger = Trigger(**work["trigger"])
    if work["target"] == Target.POOL.value:
        queued = fan_out_pool_change(work["name"], trigger, runtime)
        return {"records": [], "queued": queued}
    return {"records": [runtime.reconciler().reconcile(work["name"], trigger).to_dict()]}


def _once(runtime: Runtime, context: LambdaContext | None) -> Callable[..., dict[str, Any]]:
    """``_act``, at most once per CloudTrail eventID (Powertools idempotency on the state
    table): a record EventBridge delivers twice is acted on and alerted once."""
    table = runtime.settings.state_table

    def act(*, event: dict[str, Any]) -> dict[str, Any]:
        return _act(runtime, event=event)

    if table is None:
        return act
    if "once" in runtime.memo and context is not None:
        # Lets an in-progress record expire with the invocation that wrote it.
        runtime.memo["idempotency"].register_lambda_context(context)
    if "once" not in runtime.memo:
        store = DynamoDBPersistenceLayer(
            table_name=table,
            key_attr="id",
            expiry_attr="expiration",
            boto3_client=client("dynamodb"),
        )
        config = IdempotencyConfig(
            event_key_jmespath="event_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_SECONDS,
        )
        if context is not None:
            config.register_lambda_context(context)
        runtime.memo["idempotency"] = config
        runtime.memo["once"] = idempotent_function(
            act,
            data_keyword_argument="event",
            persistence_store=store,
            config=config,
            key_prefix="cloudtrail-event",
        )
    once: Callable[..., dict[str, Any]] = runtime.memo["once"]
    return once


def fan_out_pool_change(pool: str, trigger: Trigger, runtime: Runtime) -> int:
    """A pool appeared or vanished: queue every set whose rule points at it."""
    runtime.pools.forget(pool)
    if runtime.inventory is None or not runtime.settings.work_queue_url:
        logger.warning(
            "pool changed but no inventory or queue to find its sets", extra={"pool": pool}
        )
        return 0
    names = runtime.inventory.sets_expecting(pool)
    sqs = client("sqs")
    for start in range(0, len(names), SQS_BATCH):
        batch = names[start : start + SQS_BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=runtime.settings.work_queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps(reconcile_request(n, trigger))}
                for i, n in enumerate(batch)
            ],
        )
        if answer.get("Failed"):
            raise RuntimeError(f"could not queue {len(answer['Failed'])} sets for pool {pool}")
    logger.info("pool change fanned out", extra={"pool": pool, "sets": len(names)})
    metrics.add_metric(name="PoolChangeSetsQueued", unit=MetricUnit.Count, value=len(names))
    return len(names)
