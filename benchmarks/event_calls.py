"""AWS calls per event: how many API calls the event function makes for one CloudTrail
event about a compliant set, a non-compliant set (moved), and the enforcer's own echo.

Counts every botocore API call (all services) made while the real handler runs against
local AWS (moto in process). Usage: python -m benchmarks.event_calls
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient
from moto import mock_aws

from local_aws import install, seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import provision

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
"""

calls: Counter[str] = Counter()
_original = BaseClient._make_api_call


def _counting(self: BaseClient, operation_name: str, api_params: Any) -> Any:
    calls[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
    return _original(self, operation_name, api_params)


@contextmanager
def counted() -> Iterator[Counter[str]]:
    calls.clear()
    yield calls


def main() -> None:
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        SES_CALLS_PER_SECOND="50",
        POWERTOOLS_METRICS_DISABLED="1",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    install()
    with mock_aws():
        stack = provision()
        os.environ.update(stack.environment())
        seed.create_pool("marketing")
        seed.create_pool("transactional")
        seed.put_policy(POLICY)
        seed.create_set("mkt-good", pool="marketing")
        seed.create_set("mkt-bad", pool="transactional", tls_policy="REQUIRE")
        seed.create_set("mkt-cold", pool="marketing")
        from functions.on_event.app import handler

        BaseClient._make_api_call = _counting  # type: ignore[method-assign]

        def event_about(name: str) -> dict[str, Any]:
            return sqs_event(
                [
                    sample_event(
                        "create_configuration_set_v2.json", configuration_set=name, fresh_id=True
                    )
                ]
            )

        stale = event_about("mkt-good")  # stamped by SQS before the look below began
        time.sleep(0.5)
        cases = [
            ("first event of a cold process (compliant)", lambda: event_about("mkt-cold")),
            ("compliant set, warm process", lambda: event_about("mkt-good")),
            ("an event a look that began later covers", lambda: stale),
            ("non-compliant set: moved", lambda: event_about("mkt-bad")),
            ("the enforcer's own write echoed back", lambda: event_about("mkt-bad")),
        ]
        print("AWS API calls per event (event function, warm caches unless stated)")
        for label, message in cases:
            with counted() as seen, contextlib.redirect_stdout(io.StringIO()):
                handler(message(), LambdaContext())
            ses = sum(v for k, v in seen.items() if k.startswith("sesv2:"))
            detail = ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
            print(f"  {label:44} total {sum(seen.values()):2}  SES {ses}  ({detail})")
        BaseClient._make_api_call = _original  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
