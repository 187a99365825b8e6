"""Alerts through SNS: a subject, a text body for people and JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.observability import logger

SUBJECT_LIMIT = 99


def subject(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUBJECT_LIMIT else flat[: SUBJECT_LIMIT - 1] + "…"


class Alerts:
    """Publishes to the alert topic. If SNS fails after its retries, the alert is parked
    on the fallback queue; if that fails too, the error propagates so the triggering
    event is retried rather than the alert lost."""

    def __init__(self, topic_arn: str | None, fallback_queue_url: str | None = None) -> None:
        self.topic_arn = topic_arn
        self.fallback_queue_url = fallback_queue_url

    def publish(
        self, title: str, text: str, document: dict[str, Any], attributes: dict[str, str]
    ) -> None:
        if not self.topic_arn:
            logger.warning(
                "no alert topic configured; alert logged only", extra={"alert": document}
            )
            return
        body = json.dumps(document, default=str, sort_keys=True)
        message = {
            "default": text,
            "email": text,
            "email-json": body,
            "sqs": body,
            "lambda": body,
            "http": body,
            "https": body,
        }
        try:
            client("sns").publish(
                TopicArn=self.topic_arn,
                Subject=subject(title),
                Message=json.dumps(message),
                MessageStructure="json",
                MessageAttributes={
                    key: {"DataType": "String", "StringValue": value}
                    for key, value in attributes.items()
                    if value
                },
            )
        except (ClientError, BotoCoreError) as exc:
            if not self.fallback_queue_url:
                raise
            logger.error("alert not published; parked on fallback queue", extra={"cause": str(exc)})
            client("sqs").send_message(
                QueueUrl=self.fallback_queue_url,
                MessageBody=json.dumps(
                    {"subject": subject(title), "text": text, "alert": document}, default=str
                ),
            )
