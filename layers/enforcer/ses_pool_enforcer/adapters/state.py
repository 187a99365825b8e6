"""The sweep's lock and checkpoint in the state table (``id`` hash key, TTL ``expiration``).

``sweep#lock`` admits one sweep at a time: the owner (a Step Functions execution) holds
a lease it renews on every step; a lease that ran out (the execution died) may be taken
over. ``sweep#checkpoint`` says where the sweep stands, so that a failure resumes rather
than restarts. Every write is conditional: two executions can never both own the lock.
``sweep#view-changed`` says when the event path last heard a change to the pools or
tenants, which a sweep's view of them must not predate (adapters/sweep_view.py).
Uses GetItem, PutItem, UpdateItem and DeleteItem; ``lanes_kept`` (the organization
sweep's summary, for lanes that left) scans the table, a few small items a lane.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ses_pool_enforcer.adapters.aws import client

LOCK_ID = "sweep#lock"
CHECKPOINT_ID = "sweep#checkpoint"
VIEW_CHANGED_ID = "sweep#view-changed"
LOCK_KEEP_SECONDS = 86_400  # an expired lease's item lingers a day, then TTL removes it
CHECKPOINT_KEEP_SECONDS = 2 * 86_400  # an abandoned sweep older than this starts afresh
# A member lane's items: its budget, lock, checkpoint, report history, "<what>#<lane>".
LANE_ITEM = re.compile(r"^.+#(?P<account>[0-9]{12})#(?P<region>[a-z0-9-]+)$")


def lanes_kept(table: str) -> dict[tuple[str, str], list[str]]:
    """The member lanes (account, region) the state table keeps items for, each with its
    items' ids: a lane that has ever been swept keeps its report history; one that has
    called SES lately, its budget."""
    kept: dict[tuple[str, str], list[str]] = {}
    pages = (
        client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=table, ProjectionExpression="id")
    )
    for page in pages:
        for item in page.get("Items", []):
            match = LANE_ITEM.match(item["id"]["S"])
            if match:
                kept.setdefault((match["account"], match["region"]), []).append(match[0])
    return kept


def note_view_changed(table: str, lane: str, now: float) -> None:
    """The event path heard a change to a pool or a tenant in ``lane`` ("" for the
    deployment's own): a sweep's view read before ``now`` is stale. One UpdateItem;
    kept as long as a checkpoint, the longest a sweep's view may be used."""
    client("dynamodb").update_item(
        TableName=table,
        Key={"id": _s(f"{VIEW_CHANGED_ID}#{lane}" if lane else VIEW_CHANGED_ID)},
        UpdateExpression="SET changed_at = :now, expiration = :exp",
        ExpressionAttributeValues={
            ":now": _n(now),
            ":exp": {"N": str(int(now + CHECKPOINT_KEEP_SECONDS))},
        },
    )


def forget(table: str, ids: Iterable[str]) -> None:
    """Delete the items ``ids`` (a lane that is governed no more)."""
    ddb = client("dynamodb")
    for item_id in ids:
        ddb.delete_item(TableName=table, Key={"id": {"S": item_id}})


class LockLost(RuntimeError):
    """The lock is no longer ours: its lease ran out and another execution took it."""


@dataclass(frozen=True)
class Lock:
    owner: str
    lease_until: float
    sweep_id: str | None = None
    rerun_requested: bool = False
    rerun_trigger: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Where a sweep stands: the page being processed (``page_token``, None for the
    first) and how far into it (``offset`` names, the last one ``last_name``)."""

    sweep_id: str
    started_at: str
    trigger: str
    owner: str
    page_token: str | None = None
    offset: int = 0
    last_name: str | None = None
    processed: int = 0
    complete: bool = False  # every page was processed: what is left is the report
    stopped: str | None = None  # why the sweep ended early (an unusable policy)
    policy_version: int | None = None  # the policy version every set is judged by
    phase: str = "sets"  # what the page token and offset walk: "sets", then "identities"
    view_at: float | None = None  # when the sweep's kept view was read (None: none kept)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(round(value, 3))}


def _lock(item: dict[str, Any]) -> Lock:
    return Lock(
        owner=item["owner"]["S"],
        lease_until=float(item["lease_until"]["N"]),
        sweep_id=item.get("sweep_id", {}).get("S"),
        rerun_requested=bool(item.get("rerun_requested", {}).get("BOOL", False)),
        rerun_trigger=item.get("rerun_trigger", {}).get("S"),
    )


def _checkpoint(item: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        sweep_id=item["sweep_id"]["S"],
        started_at=item["started_at"]["S"],
        trigger=item["trigger"]["S"],
        owner=item["owner"]["S"],
        page_token=item.get("page_token", {}).get("S"),
        offset=int(item.get("offset", {}).get("N", "0")),
        last_name=item.get("last_name", {}).get("S"),
        processed=int(item.get("processed", {}).get("N", "0")),
        complete=bool(item.get("complete", {}).get("BOOL", False)),
        stopped=item.get("stopped", {}).get("S"),
        policy_version=(int(item["policy_version"]["N"]) if "policy_version" in item else None),
        phase=item.get("phase", {}).get("S", "sets"),
        view_at=float(item["view_at"]["N"]) if "view_at" in item else None,
    )


class StateTable:
    def __init__(self, table: str, clock: Callable[[], float] = time.time, lane: str = "") -> None:
        """``lane``: a member lane's "<account>#<region>" (each lane sweeps under its own
        lock and checkpoint); "" for the deployment's own, whose items keep their names."""
        self.table = table
        self.clock = clock
        self._ddb = client("dynamodb")
        self.lock_id = f"{LOCK_ID}#{lane}" if lane else LOCK_ID
        self.checkpoint_id = f"{CHECKPOINT_ID}#{lane}" if lane else CHECKPOINT_ID
        self.view_changed_id = f"{VIEW_CHANGED_ID}#{lane}" if lane else VIEW_CHANGED_ID

    # ------------------------------------------------------------------ lock

    def acquire(self, owner: str, lease_seconds: float) -> Lock | None:
        """Take the lock (free, ours already, or its lease ran out); None if another
        execution holds a live lease. Taking over keeps a rerun request already made."""
        now = self.clock()
        try:
            answer = self._ddb.update_item(
                TableName=self.table,
                Key={"id": _s(self.lock_id)},
                UpdateExpression="SET #owner = :me, lease_until = :lease, expiration = :exp",
                ConditionExpression=(
                    "attribute_not_exists(id) OR lease_until < :now OR #owner = :me"
                ),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":me": _s(owner),
                    ":now": _n(now),
                    ":lease": _n(now + lease_seconds),
                    ":exp": {"N": str(int(now + lease_seconds + LOCK_KEEP_SECONDS))},
                },
                ReturnValues="ALL_NEW",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return _lock(answer["Attributes"])

    def lock(self) -> Lock | None:
        item = self._ddb.get_item(
            TableName=self.table, Key={"id": _s(self.lock_id)}, ConsistentRead=True
        ).get("Item")
        return _lock(item) if item else None

    def request_rerun(self, trigger: str) -> Lock | None:
        """Ask the live lock's owner for one more sweep when it finishes. None if no
        live lock holds (it was released or expired meanwhile: take it instead)."""
        try:
            answer = self._ddb.update_item(
                TableName=self.table,
                Key={"id": _s(self.lock_id)},
                UpdateExpression="SET rerun_requested = :yes, rerun_trigger = :trigger",
                ConditionExpression="attribute_exists(id) AND lease_until >= :now",
                ExpressionAttributeValues={
                    ":yes": {"BOOL": True},
                    ":trigger": _s(trigger),
                    ":now": _n(self.clock()),
                },
                ReturnValues="ALL_NEW",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return _lock(answer["Attributes"])

    def renew(self, owner: str, lease_seconds: float, sweep_id: str | None = None) -> None:
        """Extend our lease (and name the sweep it runs); raises LockLost if not ours."""
        now = self.clock()
        names = {"#owner": "owner"}
        values = {
            ":me": _s(owner),
            ":lease": _n(now + lease_seconds),
            ":exp": {"N": str(int(now + lease_seconds + LOCK_KEEP_SECONDS))},
        }
        update = "SET lease_until = :lease, expiration = :exp"
        if sweep_id is not None:
            update += ", sweep_id = :sweep"
            values[":sweep"] = _s(sweep_id)
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key={"id": _s(self.lock_id)},
                UpdateExpression=update,
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._ddb.exceptions.ConditionalCheckFailedException as exc:
            raise LockLost(f"sweep lock is no longer held by {owner}") from exc

    def release(self, owner: str) -> Lock | None:
        """Give the lock up; returns it as it was at that instant (its rerun request
        included, so none is lost), or None if it was not ours."""
        try:
            answer = self._ddb.delete_item(
                TableName=self.table,
                Key={"id": _s(self.lock_id)},
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": _s(owner)},
                ReturnValues="ALL_OLD",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        item = answer.get("Attributes")
        return _lock(item) if item else None

    # ------------------------------------------------------------------ view

    def view_changed_at(self) -> float:
        """When the event path last heard a change to this lane's pools or tenants
        (``note_view_changed``); -inf if it heard none lately."""
        item = self._ddb.get_item(
            TableName=self.table, Key={"id": _s(self.view_changed_id)}, ConsistentRead=True
        ).get("Item")
        return float(item["changed_at"]["N"]) if item else float("-inf")

    # ------------------------------------------------------------------ checkpoint

    def checkpoint(self) -> Checkpoint | None:
        """The unfinished sweep's checkpoint; one past its expiration counts as gone
        (TTL deletes lazily)."""
        item = self._ddb.get_item(
            TableName=self.table, Key={"id": _s(self.checkpoint_id)}, ConsistentRead=True
        ).get("Item")
        if not item or float(item.get("expiration", {}).get("N", "inf")) < self.clock():
            return None
        return _checkpoint(item)

    def save_checkpoint(self, checkpoint: Checkpoint, replace: bool = False) -> None:
        """Store ``checkpoint``: it overwrites the same sweep's, or (``replace``) an
        abandoned one, never another live sweep's by accident."""
        item: dict[str, Any] = {
            "id": _s(self.checkpoint_id),
            "sweep_id": _s(checkpoint.sweep_id),
            "started_at": _s(checkpoint.started_at),
            "trigger": _s(checkpoint.trigger),
            "owner": _s(checkpoint.owner),
            "offset": {"N": str(checkpoint.offset)},
            "processed": {"N": str(checkpoint.processed)},
            "complete": {"BOOL": checkpoint.complete},
            "phase": _s(checkpoint.phase),
            "expiration": {"N": str(int(self.clock() + CHECKPOINT_KEEP_SECONDS))},
        }
        for name in ("page_token", "last_name", "stopped"):
            value = getattr(checkpoint, name)
            if value is not None:
                item[name] = _s(value)
        if checkpoint.policy_version is not None:
            item["policy_version"] = {"N": str(checkpoint.policy_version)}
        if checkpoint.view_at is not None:
            item["view_at"] = _n(checkpoint.view_at)
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if not replace:
            kwargs["ConditionExpression"] = "attribute_not_exists(id) OR sweep_id = :sweep"
            kwargs["ExpressionAttributeValues"] = {":sweep": _s(checkpoint.sweep_id)}
        try:
            self._ddb.put_item(**kwargs)
        except self._ddb.exceptions.ConditionalCheckFailedException as exc:
            raise LockLost(
                f"checkpoint belongs to another sweep than {checkpoint.sweep_id}"
            ) from exc

    def delete_checkpoint(self, sweep_id: str) -> None:
        try:
            self._ddb.delete_item(
                TableName=self.table,
                Key={"id": _s(self.checkpoint_id)},
                ConditionExpression="sweep_id = :sweep",
                ExpressionAttributeValues={":sweep": _s(sweep_id)},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return  # already gone, or another sweep's: not ours to delete
