"""AWS calls per event: how many API calls the event function makes for one CloudTrail
event about a compliant set, a non-compliant set (moved), and the enforcer's own echo;
and about an identity: compliant, given its default set, and a deleted set's fan-out.

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
identities:
  - id: news
    match: {identities: ["*.example.com"]}
    configuration_set: mkt-good
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
        seed.create_set("mkt-doomed", pool="marketing")
        seed.create_identity("ok.example.com", configuration_set="mkt-good")
        seed.create_identity("new.example.com")
        seed.create_identity("a.example.org", configuration_set="mkt-doomed")
        seed.create_identity("b.example.org", configuration_set="mkt-doomed")
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

        def identity_event(name: str, file: str = "create_email_identity.json") -> dict[str, Any]:
            return sqs_event([sample_event(file, identity=name, fresh_id=True)])

        def deletion() -> dict[str, Any]:
            event = sample_event(
                "delete_configuration_set.json", configuration_set="mkt-doomed", fresh_id=True
            )
            return sqs_event([event])

        with contextlib.redirect_stdout(io.StringIO()):  # the deleted set's identities, known
            handler(identity_event("a.example.org"), LambdaContext())
            handler(identity_event("b.example.org"), LambdaContext())
        BaseClient._make_api_call = _original  # type: ignore[method-assign]
        seed.sesv2().delete_configuration_set(ConfigurationSetName="mkt-doomed")
        BaseClient._make_api_call = _counting  # type: ignore[method-assign]
        stale = event_about("mkt-good")  # stamped by SQS before the look below began
        time.sleep(0.5)
        cases = [
            ("first event of a cold process (compliant)", lambda: event_about("mkt-cold")),
            ("compliant set, warm process", lambda: event_about("mkt-good")),
            ("an event a look that began later covers", lambda: stale),
            ("non-compliant set: moved", lambda: event_about("mkt-bad")),
            ("the enforcer's own write echoed back", lambda: event_about("mkt-bad")),
            ("identity on its required set", lambda: identity_event("ok.example.com")),
            ("identity given its default set", lambda: identity_event("new.example.com")),
            ("set deleted: 2 identities alerted", deletion),
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
