"""boto3 clients, built lazily and once per process (honours ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

import boto3
from botocore.config import Config

# Throttling is retried with backoff; adaptive mode also slows the client down
# when SES answers 429, so a burst converges on the account's real rate.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=20
)


@cache
def client(service: str) -> Any:
    session = cast(Any, boto3.session.Session())  # the stubs type one overload per service
    return session.client(service, config=RETRY_CONFIG)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
