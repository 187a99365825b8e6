"""A burst of CloudTrail events while a sweep runs, at SES's real budget: the figures
issue 8 asks for (timeouts, dead-letter queue, compliance, alerts per remediation, SES
calls per event), measured on local AWS with the real handlers.

1,000 sets are created on the wrong pool; their 1,000 creation events reach the work
queue at once, while a scheduled sweep starts over the same sets. Two consumers (the
template's MaximumConcurrency), batches of 10 with a 1 s batching window, a 60 s
timeout, the queue's 360 s visibility timeout and 5 receives before the dead-letter
queue; the sweep runs on the real state machine definition. Everything shares the
deployment's budget of ``--rate`` SES calls per second, and local SES throttles at that
rate too. The clock runs ``--scale`` times faster than real time (local AWS's own
latency is then counted ``--scale`` times: a pessimistic figure).

Usage: python -m benchmarks.burst [--events 1000] [--rate 1] [--scale 25]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from moto import mock_aws

from local_aws import (
    MOTO_CONFIG,
    call_counts,
    install,
    seed,
    set_throttle,
    sfn,
    throttle_stats,
    throttled_counts,
)
from local_aws.event_source import queue_depth
from local_aws.lambda_service import Context, EventSourceMapping, ScaledClock
from local_aws.replay import sample_event
from local_aws.stack import provision, received_alerts

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
"""

calls: Counter[str] = Counter()
results: Counter[str] = Counter()


@contextlib.contextmanager
def counting() -> Iterator[None]:
    """Count every AWS API call the clients make, and what each reconcile returned."""
    from ses_pool_enforcer import reconciler

    make_api_call = BaseClient._make_api_call
    reconcile = reconciler.Reconciler.reconcile

    def counted_call(self: BaseClient, operation: str, params: Any) -> Any:
        calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return make_api_call(self, operation, params)

    def counted_reconcile(self: Any, work: Any, **limits: Any) -> Any:
        result = reconcile(self, work, **limits)
        results[type(result).__name__] += 1
        return result

    calls.clear()
    results.clear()
    BaseClient._make_api_call = counted_call  # type: ignore[method-assign]
    reconciler.Reconciler.reconcile = counted_reconcile  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        reconciler.Reconciler.reconcile = reconcile  # type: ignore[method-assign]


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.0, help="SES calls per second")
    parser.add_argument("--scale", type=float, default=25.0, help="virtual seconds per second")
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    figures = run(args.events, args.rate, args.scale, args.consumers, args.timeout)
    print_figures(figures)


def run(events: int, rate: float, scale: float, consumers: int, timeout: float) -> dict[str, Any]:
    """The burst, on a local AWS of its own; returns the figures."""
    install()
    with (
        environment(
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            SES_CALLS_PER_SECOND=str(rate),
            POWERTOOLS_METRICS_DISABLED="1",
            POWERTOOLS_LOG_LEVEL="ERROR",
        ),
        mock_aws(config=MOTO_CONFIG),
        counting(),
    ):
        from ses_pool_enforcer.adapters.aws import reset as reset_clients
        from ses_pool_enforcer.config import get_settings
        from ses_pool_enforcer.runtime import forget_runtime

        reset_clients()
        get_settings.cache_clear()
        forget_runtime()
        stack = provision()
        os.environ.update(stack.environment())
        seed.create_pool("marketing")
        seed.create_pool("transactional")
        seed.put_policy(POLICY)
        names = [f"mkt-{i:04d}" for i in range(events)]
        ses = seed.sesv2()
        for name in names:
            ses.create_configuration_set(
                ConfigurationSetName=name,
                DeliveryOptions={"SendingPoolName": "transactional", "TlsPolicy": "REQUIRE"},
            )
        bodies = [
            sample_event("create_configuration_set_v2.json", configuration_set=n, fresh_id=True)
            for n in names
        ]
        from functions.on_event import app as on_event
        from functions.sweep import app as sweep_app

        clock = ScaledClock(scale)
        set_throttle(rate * scale, burst=2)  # SES's own limit, in real calls per second
        before, refused_before = call_counts(), throttled_counts()
        quiet = io.StringIO()
        # moto's engine waits (retries, the Wait state) on the scaled clock too.
        sfn.set_time_scale(scale)
        with clock.installed(), contextlib.redirect_stdout(quiet):
            started = clock.time()
            real_started = time.monotonic()
            _send(stack.work_queue_url, bodies)
            sweep: dict[str, Any] = {}

            def run_sweep() -> None:
                execution = sfn.run_sweep(
                    lambda payload, _context: sweep_app.handler(payload, Context.for_timeout(900)),
                    {"trigger": "schedule"},
                    timeout=24 * 3600.0,
                )
                sweep.update(
                    status=execution.status,
                    cause=execution.cause,
                    seconds=clock.time() - started,
                    waited=execution.waited,
                    steps=execution.entered("Step"),
                )

            sweeper = threading.Thread(target=run_sweep, daemon=True)
            sweeper.start()
            mapping = EventSourceMapping(
                stack.work_queue_url,
                on_event.handler,
                max_concurrency=consumers,
                timeout=timeout,
            ).start()
            drained_at = None
            while drained_at is None or sweeper.is_alive():
                clock.sleep(5)
                if drained_at is None and _depth(stack.work_queue_url) == 0:
                    drained_at = clock.time()
            stats = mapping.stop()
            finished = clock.time()
        sfn.set_time_scale(1)
        sent = {k: v - before.get(k, 0) for k, v in call_counts().items()}
        refused = {k: v - refused_before.get(k, 0) for k, v in throttled_counts().items()}
        set_throttle(None)
        alerts = received_alerts(stack)
        remediations = Counter(
            a["alert"]["configuration_set"]
            for a in alerts
            if a["attributes"].get("outcome") == "remediated"
        )
        pools = Counter(seed.delivery_options(n).get("SendingPoolName") for n in names)
        tls = Counter(seed.delivery_options(n).get("TlsPolicy") for n in names)
        return {
            "events": events,
            "rate": rate,
            "scale": scale,
            "consumers": consumers,
            "timeout": timeout,
            "virtual_seconds": finished - started,
            "queue_drained_after": (drained_at or finished) - started,
            "real_seconds": time.monotonic() - real_started,
            "sweep": sweep,
            "mapping": stats,
            "dead_letters": queue_depth(stack.dead_letter_queue_url),
            "left_in_queue": _depth(stack.work_queue_url),
            "on_marketing": pools.get("marketing", 0),
            "tls_kept": tls.get("REQUIRE", 0),
            "alerted_once": sum(1 for n in names if remediations.get(n) == 1),
            "alerted_twice_or_more": sum(1 for n in names if remediations.get(n, 0) > 1),
            "not_alerted": sum(1 for n in names if n not in remediations),
            "calls": dict(calls),
            "ses_sent": {k: v for k, v in sent.items() if v},
            "ses_throttled": {k: v for k, v in refused.items() if v},
            "results": dict(results),
            "throttled": throttle_stats().throttled,
        }


def _send(queue_url: str, bodies: list[dict[str, Any]]) -> None:
    import json

    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps(b)}
                for i, b in enumerate(bodies[start : start + 10])
            ],
        )


def _depth(queue_url: str) -> int:
    import boto3

    attributes = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def print_figures(f: dict[str, Any]) -> None:
    stats = f["mapping"]
    # What reached SES (calls the budget refused before sending are not calls).
    ses = f["ses_sent"]
    ddb = sum(v for k, v in f["calls"].items() if k.startswith("dynamodb:"))
    print(
        f"burst: {f['events']} events, sweep over the same sets, {f['consumers']} consumers, "
        f"budget {f['rate']:g} SES call/s, clock x{f['scale']:g} "
        f"({f['real_seconds']:.0f} s real)"
    )
    # The floor: a read and a write per set, at the budget's rate.
    floor = 2 * f["events"] / f["rate"]
    print(
        f"  queue drained after           {f['queue_drained_after']:9.0f} s "
        f"({f['queue_drained_after'] / floor:.2f} x the 2 x sets / rate = {floor:.0f} s floor)"
    )
    print(
        f"  sweep                         {f['sweep'].get('status')}, "
        f"{f['sweep'].get('seconds', 0):.0f} s, {f['sweep'].get('steps')} steps, "
        f"{f['sweep'].get('waited', 0):.0f} s in Wait states"
    )
    print(
        f"  invocations                   {stats.invocations} "
        f"(longest {stats.longest_invocation:.1f} s of the {f['timeout']:.0f} s timeout)"
    )
    print(f"  Lambda timeouts               {stats.timeouts}")
    print(f"  messages failed (to retry)    {stats.failed_messages}")
    print(f"  function errors               {len(stats.errors)}")
    print(f"  messages in dead-letter queue {f['dead_letters']}")
    print(f"  messages left in the queue    {f['left_in_queue']}")
    print(f"  sets on their pool            {f['on_marketing']} of {f['events']}")
    print(f"  sets that kept TLS REQUIRE    {f['tls_kept']} of {f['events']}")
    print(
        f"  remediation alerts            {f['alerted_once']} sets once, "
        f"{f['alerted_twice_or_more']} more than once, {f['not_alerted']} never"
    )
    print(f"  reconcile results             {f['results']}")
    print(
        f"  SES calls                     {sum(ses.values())}, "
        f"{f['throttled']} of them answered 429 by SES"
    )
    # Per operation: requests SES received, and how many of them it answered 429 (a
    # refused request is a call: it spent the account's rate).
    for operation, count in sorted(ses.items(), key=lambda item: -item[1]):
        refused = f["ses_throttled"].get(operation, 0)
        print(f"    {operation:31} {count:6} ({refused} answered 429)")
    print(f"  SES calls per set             {sum(ses.values()) / f['events']:.3f}")
    print(
        f"  SES calls per second          "
        f"{sum(ses.values()) / max(f['virtual_seconds'], 1):.3f} "
        f"(budget {f['rate']:g})"
    )
    print(f"  DynamoDB calls per set        {ddb / f['events']:.2f}")
    sqs = {k: v for k, v in f["calls"].items() if k.startswith("sqs:")}
    print(f"  SQS calls (enforcer + harness) {sqs}")
    if stats.errors:
        print("  first errors:", *stats.errors[:3], sep="\n    ", file=sys.stderr)


if __name__ == "__main__":
    main()
