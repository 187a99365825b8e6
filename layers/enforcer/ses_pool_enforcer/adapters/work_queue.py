"""The work queue's messages in SQS: work put back for later (a set held by another
worker, no call budget left before the deadline, a flapping hold that ends later), and
sets a pool change fans out. Sent, never received here: Lambda's event source mapping
delivers them to the event function like any CloudTrail event."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.model import Kind
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.work import Work

SQS_BATCH = 10
MAX_DELAY_SECONDS = 900  # SQS's limit; a later not_before is reached in hops


class QueueError(RuntimeError):
    """SQS did not take every message: the work that needed them is retried."""


class WorkQueue:
    def __init__(self, queue_url: str, clock: Clock = SYSTEM) -> None:
        self.queue_url = queue_url
        self._clock = clock
        self._sqs: Any = None

    def send(self, items: Sequence[Work], delay: float = 0.0) -> None:
        """Queue ``items``, visible after ``delay`` seconds (rounded up, at most 900)."""
        if self._sqs is None:
            self._sqs = client("sqs")
        seconds = max(0, min(MAX_DELAY_SECONDS, math.ceil(delay)))
        for start in range(0, len(items), SQS_BATCH):
            batch = items[start : start + SQS_BATCH]
            answer = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": json.dumps(item.to_message()),
                        "DelaySeconds": seconds,
                    }
                    for i, item in enumerate(batch)
                ],
            )
            if answer.get("Failed"):
                raise QueueError(f"SQS refused {len(answer['Failed'])} reconcile requests")

    def later(
        self, name: str, at: float, trigger: Trigger, kind: Kind = Kind.CONFIGURATION_SET
    ) -> None:
        """Look at ``name`` again at ``at`` (epoch seconds)."""
        self.send([Work(name, trigger, not_before=at, kind=kind)], at - self._clock.time())
