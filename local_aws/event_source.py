"""Lambda's SQS event source mapping, done locally: receive batches from a queue, invoke
the handler, delete what succeeded, let failures come back until the queue's redrive
policy moves them to the dead-letter queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from local_aws.replay import LambdaContext

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class DrainStats:
    invocations: int = 0
    messages: int = 0
    failures: int = 0


def _as_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def drain(
    queue_url: str,
    handler: Handler,
    *,
    batch_size: int = 10,
    region: str = "us-east-1",
    max_invocations: int = 100_000,
) -> DrainStats:
    """Invoke ``handler`` until the queue is empty. A failed message is made visible again
    at once (where Lambda would wait for its visibility timeout)."""
    sqs: Any = boto3.client("sqs", region_name=region)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    stats = DrainStats()
    while stats.invocations < max_invocations:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch_size,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return stats
        records = [_as_lambda_record(m, queue_arn, region) for m in messages]
        result = handler({"Records": records}, LambdaContext())
        stats.invocations += 1
        stats.messages += len(messages)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        stats.failures += len(failed)
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise RuntimeError(f"queue {queue_url} not drained after {max_invocations} invocations")


def queue_depth(queue_url: str, region: str = "us-east-1") -> int:
    sqs: Any = boto3.client("sqs", region_name=region)
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
