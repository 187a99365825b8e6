"""Helpers the integration tests share: deliver messages to the real event handler, and
read what local SES was asked to do."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import boto3
import pytest
from moto.sqs import models as sqs_models

from functions.on_event import app
from local_aws import call_counts, faults, seed
from local_aws.replay import LambdaContext, sqs_event
from ses_pool_enforcer import clock

MARKETING_POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit
"""


def invoke(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """One invocation of the event function with one SQS message per body."""
    result: dict[str, Any] = app.handler(sqs_event(bodies), LambdaContext())
    return result


def ses_writes() -> int:
    """PutConfigurationSetDeliveryOptions calls local SES has received (anyone's)."""
    return call_counts().get("PutConfigurationSetDeliveryOptions", 0)


def marketing_account(policy: str = MARKETING_POLICY) -> None:
    """Two dedicated pools, marketing and transactional, and ``policy`` in SSM."""
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(policy)


def shift_clock(monkeypatch: pytest.MonkeyPatch, to: dt.datetime) -> None:
    """Move the clock of the enforcer and of local SQS (its stamps, delays and visibility
    timeouts) so that both read ``to`` now; they go on ticking from there."""
    offset = to.timestamp() - time.time()
    monkeypatch.setattr(clock.SYSTEM, "time", lambda: time.time() + offset)
    monkeypatch.setattr(sqs_models, "unix_time", lambda *_: time.time() + offset)
    monkeypatch.setattr(sqs_models, "unix_time_millis", lambda *_: (time.time() + offset) * 1000)


def s3_object(uri: str) -> str:
    """The text of the S3 object at ``s3://bucket/key``."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"]
    return str(body.read().decode())


def tls_required_between_read_and_write(name: str, pool: str = "transactional") -> None:
    """A person requires TLS on ``name`` (on ``pool``) right after the enforcer's next read
    of it, before its write: the write sends back what it read, TLS optional."""
    sesv2 = boto3.client("sesv2")
    faults.after(
        "sesv2",
        "GetConfigurationSet",
        lambda: sesv2.put_configuration_set_delivery_options(
            ConfigurationSetName=name, SendingPoolName=pool, TlsPolicy="REQUIRE"
        ),
    )
