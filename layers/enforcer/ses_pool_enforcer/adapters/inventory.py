"""The compliance inventory in DynamoDB: the latest outcome of every set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.model import Outcome, OutcomeRecord

EXPECTED_POOL_INDEX = "by-expected-pool"
FIELDS = ("outcome", "current_pool", "expected_pool", "rule_id", "reason", "checked_at", "sweep_id")


def _item(record: OutcomeRecord, sweep_id: str | None) -> dict[str, Any]:
    values = record.to_dict()
    item: dict[str, Any] = {"configuration_set": {"S": record.configuration_set}}
    for name in FIELDS:
        value = sweep_id if name == "sweep_id" else values.get(name)
        if value:
            item[name] = {"S": str(value)}
    return item


def _row(item: dict[str, Any]) -> dict[str, str]:
    return {key: value["S"] for key, value in item.items() if "S" in value}


class Inventory:
    def __init__(self, table: str) -> None:
        self.table = table
        self._ddb = client("dynamodb")

    def record(self, record: OutcomeRecord, sweep_id: str | None = None) -> dict[str, str] | None:
        """Store the outcome (a set that no longer exists leaves the inventory); returns the
        entry it replaced, at no extra cost, so callers can tell what changed."""
        if record.outcome is Outcome.DELETED:
            answer = self._ddb.delete_item(
                TableName=self.table,
                Key={"configuration_set": {"S": record.configuration_set}},
                ReturnValues="ALL_OLD",
            )
        else:
            answer = self._ddb.put_item(
                TableName=self.table, Item=_item(record, sweep_id), ReturnValues="ALL_OLD"
            )
        old = answer.get("Attributes")
        return _row(old) if old else None

    def rows(self) -> Iterator[dict[str, str]]:
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table):
            for item in page.get("Items", []):
                yield _row(item)

    def sets_expecting(self, pool: str) -> list[str]:
        paginator = self._ddb.get_paginator("query")
        names: list[str] = []
        for page in paginator.paginate(
            TableName=self.table,
            IndexName=EXPECTED_POOL_INDEX,
            KeyConditionExpression="expected_pool = :pool",
            ExpressionAttributeValues={":pool": {"S": pool}},
            ProjectionExpression="configuration_set",
        ):
            names.extend(item["configuration_set"]["S"] for item in page.get("Items", []))
        return names

    def remove_unseen(self, sweep_id: str, started_at: str) -> int:
        """Delete the entries a finished sweep did not see and nothing touched since it
        started (an event may have recorded a new set mid-sweep): their sets are gone."""
        removed = 0
        for row in self.rows():
            if row.get("sweep_id") == sweep_id or row.get("checked_at", "") >= started_at:
                continue
            try:
                self._ddb.delete_item(
                    TableName=self.table,
                    Key={"configuration_set": {"S": row["configuration_set"]}},
                    ConditionExpression="checked_at < :t",
                    ExpressionAttributeValues={":t": {"S": started_at}},
                )
                removed += 1
            except self._ddb.exceptions.ConditionalCheckFailedException:
                continue
        return removed
