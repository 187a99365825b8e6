"""AWS Config advanced queries through an organization aggregator
(``SelectAggregateResourceConfig``): what Config recorded about every SES configuration
set of the organization, 100 sets a call, no SES call at all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.pools import normalise_pool

RESOURCE_TYPE = "AWS::SES::ConfigurationSet"
PAGE_SIZE = 100  # the most a call may answer
# Queryable for AWS::SES::ConfigurationSet (awslabs/aws-config-resource-schema,
# config/properties/resource-types/AWS::SES::ConfigurationSet.properties.json).
EXPRESSION = (
    "SELECT accountId, awsRegion, resourceName, configurationItemCaptureTime, "
    "configuration.DeliveryOptions.SendingPoolName, tags "
    f"WHERE resourceType = '{RESOURCE_TYPE}'"
)


@dataclass(frozen=True)
class RecordedSet:
    """One set as Config last recorded it: it may have changed since."""

    account: str
    region: str
    name: str
    pool: str
    tags: dict[str, str] = field(default_factory=dict)
    captured_at: float | None = None  # epoch seconds; None when Config gave none


def _captured(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def recorded_set(text: str) -> RecordedSet | None:
    """One ``Results`` entry, or None when it names no set."""
    item = json.loads(text)
    account, region, name = item.get("accountId"), item.get("awsRegion"), item.get("resourceName")
    if not (account and region and name):
        return None
    delivery = (item.get("configuration") or {}).get("DeliveryOptions") or {}
    tags = {
        str(t["key"]): str(t.get("value", ""))
        for t in item.get("tags") or []
        if isinstance(t, dict) and "key" in t
    }
    return RecordedSet(
        str(account),
        str(region),
        str(name),
        normalise_pool(delivery.get("SendingPoolName")),
        tags,
        _captured(item.get("configurationItemCaptureTime")),
    )


class Aggregator:
    """Pages of an aggregator's answer; ``calls`` counts the requests made."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self._config: Any = None

    def pages(self) -> Iterator[list[RecordedSet]]:
        """Every recorded set, a page (at most 100) at a time. Raises ClientError."""
        if self._config is None:
            self._config = client("config")
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Expression": EXPRESSION,
                "ConfigurationAggregatorName": self.name,
                "Limit": PAGE_SIZE,
            }
            if token:
                kwargs["NextToken"] = token
            answer = self._config.select_aggregate_resource_config(**kwargs)
            self.calls += 1
            found = (recorded_set(r) for r in answer.get("Results") or [])
            yield [s for s in found if s is not None]
            token = answer.get("NextToken")
            if not token:
                return
