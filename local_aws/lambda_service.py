"""Lambda's side of the deployment, locally: an SQS event source mapping with several
concurrent consumers, invocation deadlines that are enforced, and a clock that can run
faster than real time, so that a burst at SES's real budget (1 call per second) can be
measured in minutes.

* ``ScaledClock(scale)``: the enforcer's clock (``ses_pool_enforcer.clock.SYSTEM``), local
  SQS's (its stamps, delays, visibility timeouts) and the SDK's retry backoff all run
  ``scale`` times faster than the wall clock while ``installed``. A slot every second is
  then a slot every 1/scale seconds of real time; local AWS's own latency is not scaled
  (it is counted in virtual seconds, which makes it look ``scale`` times slower than it
  is), and neither is the CPU the threads share: run it on a quiet machine.
* ``EventSourceMapping``: up to ``max_concurrency`` consumers poll the queue, each
  invoking the handler with up to ``batch_size`` messages once ``batching_window``
  seconds have passed since the first one arrived, with a context whose remaining time
  runs down from ``timeout``. An invocation that returns after its timeout counts as
  timed out and its answer is thrown away, as Lambda does: none of its messages are
  deleted, and they come back after the queue's visibility timeout. Failed messages
  come back likewise; the queue's redrive policy moves them to the dead-letter queue.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

from ses_pool_enforcer.clock import SYSTEM

Handler = Callable[[dict[str, Any], Any], Any]


class ScaledClock:
    """Virtual seconds that pass ``scale`` times faster than real ones."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._real0 = time.time()
        self._virtual0 = self._real0

    def time(self) -> float:
        return self._virtual0 + (time.time() - self._real0) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)

    @contextlib.contextmanager
    def installed(self) -> Iterator[ScaledClock]:
        """Make it the clock of the enforcer and of local SQS for the block."""
        sqs_models: Any = importlib.import_module("moto.sqs.models")
        endpoint: Any = importlib.import_module("botocore.endpoint")
        saved = (
            SYSTEM.time,
            SYSTEM.sleep,
            sqs_models.unix_time,
            sqs_models.unix_time_millis,
            endpoint.time,
        )
        SYSTEM.time = self.time  # type: ignore[method-assign]
        SYSTEM.sleep = self.sleep  # type: ignore[method-assign]
        sqs_models.unix_time = lambda *_: self.time()
        sqs_models.unix_time_millis = lambda *_: self.time() * 1000
        # The SDK's retry backoff sleeps on the same clock.
        endpoint.time = types.SimpleNamespace(**{**vars(time), "sleep": self.sleep})
        try:
            yield self
        finally:
            SYSTEM.time, SYSTEM.sleep = saved[0], saved[1]  # type: ignore[method-assign]
            sqs_models.unix_time, sqs_models.unix_time_millis = saved[2], saved[3]
            endpoint.time = saved[4]


@dataclass
class Context:
    """A Lambda context whose remaining time runs down on the enforcer's clock."""

    deadline: float
    function_name: str = "ses-pool-enforcer-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:ses-pool-enforcer-local"
    )
    aws_request_id: str = "local-request"

    @classmethod
    def for_timeout(cls, seconds: float) -> Context:
        return cls(deadline=SYSTEM.time() + seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - SYSTEM.time()) * 1000))


@dataclass
class MappingStats:
    invocations: int = 0
    messages: int = 0
    failed_messages: int = 0
    timeouts: int = 0
    longest_invocation: float = 0.0  # virtual seconds
    errors: list[str] = field(default_factory=list)


class EventSourceMapping:
    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        batching_window: float = 1.0,
        max_concurrency: int = 2,
        timeout: float = 60.0,
        region: str = "us-east-1",
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.batching_window = batching_window
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.region = region
        self.stats = MappingStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._queue_arn = boto3.client("sqs", region_name=region).get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    def start(self) -> EventSourceMapping:
        for index in range(self.max_concurrency):
            thread = threading.Thread(target=self._poll, name=f"consumer-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> MappingStats:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=600)
        return self.stats

    def _poll(self) -> None:
        sqs: Any = boto3.client("sqs", region_name=self.region)
        while not self._stop.is_set():
            messages = self._receive(sqs)
            if not messages:
                SYSTEM.sleep(0.5)
                continue
            self._invoke(sqs, messages)

    def _receive(self, sqs: Any) -> list[dict[str, Any]]:
        first = sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size, AttributeNames=["All"]
        ).get("Messages", [])
        if not first or len(first) >= self.batch_size:
            return list(first)
        # Lambda waits up to the batching window to fill the batch.
        SYSTEM.sleep(self.batching_window)
        more = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size - len(first),
            AttributeNames=["All"],
        ).get("Messages", [])
        return list(first) + list(more)

    def _invoke(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": self._queue_arn,
                "awsRegion": self.region,
            }
            for m in messages
        ]
        context = Context.for_timeout(self.timeout)
        started = SYSTEM.time()
        try:
            result = self.handler({"Records": records}, context) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception as exc:  # a function error: every message comes back
            failed = {m["MessageId"] for m in messages}
            with self._lock:
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
        took = SYSTEM.time() - started
        timed_out = took > self.timeout
        with self._lock:
            self.stats.invocations += 1
            self.stats.messages += len(messages)
            self.stats.longest_invocation = max(self.stats.longest_invocation, took)
            if timed_out:
                self.stats.timeouts += 1
            else:
                self.stats.failed_messages += len(failed)
        if timed_out:
            return  # Lambda discards the answer: everything comes back later
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
