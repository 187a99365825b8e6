"""boto3 clients, built lazily and once per process (honours ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Throttling (429) and transient errors are retried with jittered exponential backoff.
# Standard, not adaptive, mode: the Pacer already spaces SES calls to the budget, and
# adaptive mode's own client-side limiter would throttle us a second time.
# SES throttles at about 1 call/s per account, so its calls get more attempts; elsewhere a
# failure soon sends the message back to the queue, which retries it later.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)
SES_RETRY_CONFIG = RETRY_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 10}))
# The Config rule sends up to 100 PutEvaluations in a row, and nothing retries them for
# it until the next scheduled run: worth the same patience.
PATIENT_SERVICES = frozenset({"sesv2", "config"})


@cache
def _session() -> Any:
    # One session for all clients: each session loads and keeps its own copy of
    # botocore's endpoint data (about 7 MB), which a Lambda's memory pays per client.
    return cast(Any, boto3.session.Session())  # the stubs type one overload per service


@cache
def client(service: str) -> Any:
    config = SES_RETRY_CONFIG if service in PATIENT_SERVICES else RETRY_CONFIG
    return _session().client(service, config=config)


def reset() -> None:
    """Forget the session and clients (credentials, endpoints): a fresh process's state."""
    client.cache_clear()
    _session.cache_clear()


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalFailure",
    }
)


def transient(exc: BaseException) -> bool:
    """Throttling, server-side and connection failures: worth retrying later. A client
    error (access denied, a request SES refuses) is not: it fails the same way again."""
    if isinstance(exc, BotoCoreError):
        return True
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    code = error_code(exc)
    return status >= 500 or status == 429 or code in TRANSIENT_CODES or "Throttl" in code
