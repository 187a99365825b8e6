"""Stop fighting: remember when the enforcer reassigned each set (state table item
``flap#<set>``) and hold off once another actor keeps reverting it.

At most ``threshold`` reassignments of one set per ``window``; the next one is held
(outcome ``flapping``, one alert per window) until the oldest falls out of the window.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.config import Settings

PREFIX = "flap#"


class Hold(StrEnum):
    NO = "no"
    NEW = "new"  # just started holding: alert once
    ONGOING = "ongoing"  # already alerted in this window: stay quiet


def _epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


class FlapGuard:
    def __init__(self, table: str, threshold: int, window_seconds: int) -> None:
        self.table = table
        self.threshold = threshold
        self.window = window_seconds
        self._ddb: Any = client("dynamodb")
        self._checked: tuple[str, dict[str, Any]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FlapGuard | None:
        if not settings.state_table:
            return None
        return cls(settings.state_table, settings.flap_threshold, settings.flap_window_seconds)

    def _item(self, name: str) -> dict[str, Any]:
        answer = self._ddb.get_item(
            TableName=self.table, Key={"id": {"S": PREFIX + name}}, ConsistentRead=True
        )
        item: dict[str, Any] = answer.get("Item") or {}
        return item

    def check(self, name: str, now: dt.datetime) -> Hold:
        """Whether the next reassignment of ``name`` must be held."""
        item = self._item(name)
        self._checked = (name, item)  # reassigned() right after needs no second read
        since = _epoch(now) - self.window
        recent = sorted(
            float(v["N"]) for v in item.get("changes", {}).get("L", []) if float(v["N"]) > since
        )
        if len(recent) < self.threshold:
            return Hold.NO
        alerted_until = float(item.get("alerted_until", {}).get("N", "0"))
        if alerted_until > _epoch(now):
            return Hold.ONGOING
        # Quiet until the hold ends: when the oldest counted reassignment leaves the window.
        self._ddb.update_item(
            TableName=self.table,
            Key={"id": {"S": PREFIX + name}},
            UpdateExpression="SET alerted_until = :until",
            ExpressionAttributeValues={":until": {"N": str(recent[0] + self.window)}},
        )
        return Hold.NEW

    def reassigned(self, name: str, now: dt.datetime) -> None:
        """Count one reassignment; entries older than the window are dropped."""
        checked, self._checked = self._checked, None
        item = checked[1] if checked is not None and checked[0] == name else self._item(name)
        since = _epoch(now) - self.window
        kept = [v for v in item.get("changes", {}).get("L", []) if float(v["N"]) > since]
        kept.append({"N": str(_epoch(now))})
        self._ddb.put_item(
            TableName=self.table,
            Item={
                "id": {"S": PREFIX + name},
                "changes": {"L": kept},
                "alerted_until": item.get("alerted_until", {"N": "0"}),
                "expiration": {"N": str(int(_epoch(now) + self.window))},
            },
        )
