"""The inventory table: one item per configuration set, holding what reports read (its
latest outcome) and the set's place in the work queue (who holds it, when it was last
looked at, an effect still owed, its recent moves). Every write after the claim is
fenced by the claim's owner token, so two workers can never both act on one set.

Item attributes (see docs/tables.md):

* outcome: ``outcome``, ``current_pool``, ``expected_pool``, ``rule_id``, ``reason``,
  ``checked_at`` (ISO), ``sweep_id``, ``policy_version``; when read, ``pool_scaling_mode``,
  ``pool_ips``, ``pool_coldest_warmup`` (the target pool's state) and ``tenants``;
* queue: ``lease_owner``, ``lease_until``, ``claimed_at`` (epoch seconds), ``seen_by``
  (the last sweep that claimed it);
* effects: ``intent`` (a move in progress or an alert owed), ``moves`` and
  ``held_until`` (the flap guard), ``last_write`` (what the enforcer last sent) and
  ``earlier_writes`` (the windows of the writes before it that can still matter).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.adapters.budget import SlotRequest
from ses_pool_enforcer.flapping import Move
from ses_pool_enforcer.model import NON_COMPLIANT_OUTCOMES, Outcome, OutcomeRecord

EXPECTED_POOL_INDEX = "by-expected-pool"
KEY = "configuration_set"
TEXT_FIELDS = (
    "outcome",
    "current_pool",
    "expected_pool",
    "rule_id",
    "reason",
    "checked_at",
    # Only when read (else absent): the target pool's state, the tenants (comma-joined).
    "pool_scaling_mode",
    "pool_ips",
    "pool_coldest_warmup",
    "tenants",
)
# When the set became non-compliant (kept while it stays so, whatever the problem): what a
# Security Hub finding gives as its CreatedAt.
PROBLEM_SINCE = "problem_since"


@dataclass(frozen=True)
class Layout:
    """How a table names what the enforcer keeps: its key, and the attributes some of the
    record's fields are stored under (an identity's pools are its default sets)."""

    key: str = KEY
    stored: Mapping[str, str] = field(default_factory=dict)  # field -> attribute
    index: str = EXPECTED_POOL_INDEX
    index_field: str = "expected_pool"
    # A member lane's entries share the table, keyed "<account>/<region>/<name>" (neither
    # a set's nor an identity's name can hold a "/"); the hub's own lane keeps bare names,
    # so a single-account deployment's table is what it always was.
    prefix: str = ""

    def attr(self, name: str) -> str:
        return self.stored.get(name, name)

    lane: str = ""  # a member lane's "<account>#<region>", its entries' `lane` attribute

    def in_lane(self, account: str, region: str) -> Layout:
        return replace(self, prefix=f"{account}/{region}/", lane=f"{account}#{region}")

    def owns(self, key: str) -> bool:
        """Whether the entry keyed ``key`` belongs to this layout's lane."""
        return key.startswith(self.prefix) if self.prefix else "/" not in key

    def name_of(self, key: str) -> str:
        return key.removeprefix(self.prefix)

    def public(self, row: Mapping[str, str]) -> dict[str, str]:
        """A row as reports read it: the table's own names."""
        return {(self.key if k == KEY else self.attr(k)): v for k, v in row.items()}


LANE_INDEX = "by-lane"  # a member lane's entries, by their `lane` attribute
BATCH_WRITE = 25  # BatchWriteItem's most requests a call
BATCH_ATTEMPTS = 5  # what DynamoDB leaves unprocessed is tried again, backing off

SETS = Layout()
IDENTITIES = Layout(
    key="identity",
    stored={"current_pool": "default_configuration_set", "expected_pool": "required"},
    index="by-default-configuration-set",
    index_field="current_pool",
)


class LeaseLost(RuntimeError):
    """Another worker holds the set now (our lease ran out): whatever we were about to
    do is left to it, and our message is retried."""


@dataclass(frozen=True)
class Intent:
    """An effect the enforcer owes for one set, recorded before the write that causes it.

    ``phase`` "move": the write may or may not have happened; whoever holds the set next
    re-reads it and finishes the move (it happened) or drops the intent (it did not).
    ``phase`` "alert": the move is recorded; only the alert (``notice``) is owed.
    ``phase`` "notify": an outcome is recorded; its alert (if ``notice`` holds one) and
    its Security Hub finding (if ``finding``) are owed."""

    token: str
    phase: str
    from_pool: str
    to_pool: str
    notice: dict[str, Any]  # the record, and the alert built from it (when one is owed)
    read_at: float
    options: dict[str, Any] = field(default_factory=dict)  # what the write sends
    finding: dict[str, Any] | None = None  # the Security Hub finding owed with it

    def to_item(self) -> dict[str, Any]:
        item = {
            "token": {"S": self.token},
            "phase": {"S": self.phase},
            "from_pool": {"S": self.from_pool},
            "to_pool": {"S": self.to_pool},
            "notice": {"S": json.dumps(self.notice, sort_keys=True, default=str)},
            "read_at": {"N": repr(self.read_at)},
            "options": {"S": json.dumps(self.options, sort_keys=True)},
        }
        if self.finding is not None:
            item["finding"] = {"S": json.dumps(self.finding, sort_keys=True)}
        return {"M": item}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Intent:
        m = item["M"]
        return cls(
            token=m["token"]["S"],
            phase=m["phase"]["S"],
            from_pool=m["from_pool"]["S"],
            to_pool=m["to_pool"]["S"],
            notice=json.loads(m["notice"]["S"]),
            read_at=float(m["read_at"]["N"]),
            options=json.loads(m.get("options", {}).get("S", "{}")),
            finding=json.loads(m["finding"]["S"]) if "finding" in m else None,
        )


@dataclass(frozen=True)
class LastWrite:
    """What the enforcer's last write sent, and the window between its read and write."""

    read_at: float
    written_at: float
    options: dict[str, Any]

    def to_item(self) -> dict[str, Any]:
        return {
            "M": {
                "read_at": {"N": repr(self.read_at)},
                "written_at": {"N": repr(self.written_at)},
                "options": {"S": json.dumps(self.options, sort_keys=True)},
            }
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> LastWrite:
        m = item["M"]
        return cls(
            float(m["read_at"]["N"]), float(m["written_at"]["N"]), json.loads(m["options"]["S"])
        )


def _windows(item: Mapping[str, Any]) -> tuple[LastWrite, ...]:
    """The item's write windows, oldest first: ``earlier_writes``, then ``last_write``."""
    earlier = tuple(LastWrite.from_item(w) for w in item.get("earlier_writes", {}).get("L", []))
    last = (LastWrite.from_item(item["last_write"]),) if "last_write" in item else ()
    return earlier + last


@dataclass(frozen=True)
class Previous:
    """The set's item as the claim found it."""

    row: dict[str, str]  # the outcome fields, as reports read them
    intent: Intent | None = None
    moves: tuple[Move, ...] = ()
    held_until: float = 0.0
    claimed_at: float | None = None
    windows: tuple[LastWrite, ...] = ()  # every write window kept, oldest first (the last too)

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None, layout: Layout | None = None) -> Previous:
        if not item:
            return cls({})
        return cls(
            row=_row(item, layout or SETS),
            intent=Intent.from_item(item["intent"]) if "intent" in item else None,
            moves=tuple(_move(v) for v in item.get("moves", {}).get("L", [])),
            held_until=float(item.get("held_until", {}).get("N", "0")),
            claimed_at=float(item["claimed_at"]["N"]) if "claimed_at" in item else None,
            windows=_windows(item),
        )


@dataclass(frozen=True)
class Claim:
    """This worker holds the set until ``lease_until``; ``owner`` fences every write.
    ``slot``: the SES call slot taken with the claim (None: none was)."""

    name: str
    owner: str
    lease_until: float
    slot: float | None = None


@dataclass(frozen=True)
class Covered:
    """A look that began after the change this work reports already covers it.
    ``windows``: the enforcer's write windows the item keeps, oldest first (what a
    person's option asked for in one of them needs, covered or not)."""

    windows: tuple[LastWrite, ...] = ()


@dataclass(frozen=True)
class Leased:
    """Another worker holds the set until ``until``."""

    until: float


@dataclass(frozen=True)
class SlotTaken:
    """The set was free but the budget slot was not: ``seen`` is the budget's next_at
    (None: the budget has none yet)."""

    seen: str | None


@dataclass(frozen=True)
class AlreadyTold:
    """The outcome to record is the problem the item already holds: it was alerted
    before; nothing was written."""


@dataclass(frozen=True)
class IntentPending:
    """An effect is still owed on the set (a previous holder died): settle it first."""

    previous: Previous


def _move(value: Mapping[str, Any]) -> Move:
    if "N" in value:  # written before moves said whose change they undid
        return Move(float(value["N"]))
    m = value["M"]
    return Move(float(m["at"]["N"]), m.get("undid", {}).get("S"))


def _move_item(move: Move) -> dict[str, Any]:
    item: dict[str, Any] = {"at": {"N": repr(move.at)}}
    if move.undid:
        item["undid"] = {"S": move.undid}
    return {"M": item}


class _IntentFound(Exception):
    def __init__(self, previous: Previous) -> None:
        super().__init__("an effect is still owed")
        self.previous = previous


class _Unchanged(Exception):
    """A fenced write's own condition (beyond the fence) did not hold."""


def _refusal(item: Mapping[str, Any], now: float) -> Covered | Leased:
    until = float(item.get("lease_until", {}).get("N", "0"))
    if until >= now:
        return Leased(until)
    return Covered(_windows(item))


def _row(item: Mapping[str, Any], layout: Layout) -> dict[str, str]:
    """The item's outcome fields, by the record's names."""
    row = {
        name: item[layout.attr(name)]["S"]
        for name in (*TEXT_FIELDS, "sweep_id", PROBLEM_SINCE)
        if layout.attr(name) in item
    }
    if layout.key in item:
        row[KEY] = layout.name_of(item[layout.key]["S"])
    if "policy_version" in item:
        row["policy_version"] = item["policy_version"]["N"]
    if "claimed_at" in item and "outcome" in item:
        # An unchanged outcome is not written again: the last look is the last claim.
        looked = dt.datetime.fromtimestamp(float(item["claimed_at"]["N"]), dt.UTC).isoformat()
        row["checked_at"] = max(row.get("checked_at", ""), looked)
    return row


@dataclass
class _Update:
    """An UpdateExpression under construction: ``SET a = :a, ... REMOVE b, ...``."""

    sets: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def set(self, name: str, value: dict[str, Any]) -> _Update:
        ref = self._ref(name, value)
        self.sets.append(f"#{ref} = :{ref}")
        return self

    def keep_first(self, name: str, value: dict[str, Any]) -> _Update:
        """Set ``name`` unless the item already has it."""
        ref = self._ref(name, value)
        self.sets.append(f"#{ref} = if_not_exists(#{ref}, :{ref})")
        return self

    def remove(self, name: str) -> _Update:
        self.removes.append(f"#{self._ref(name)}")
        return self

    def _ref(self, name: str, value: dict[str, Any] | None = None) -> str:
        ref = f"f{len(self.names)}"
        self.names[f"#{ref}"] = name
        if value is not None:
            self.values[f":{ref}"] = value
        return ref

    def unless_held(self, record: OutcomeRecord, layout: Layout) -> str:
        """A condition: the item does not already hold ``record``'s problem (its
        outcome, current and expected pool, unchanged): that was alerted before."""
        ref = self._ref(layout.attr("outcome"), {"S": record.outcome.value})
        parts = [f"#{ref} = :{ref}"]
        for name in ("current_pool", "expected_pool"):
            value = getattr(record, name)
            if value is None:
                parts.append(f"attribute_not_exists(#{self._ref(layout.attr(name))})")
            else:
                ref = self._ref(layout.attr(name), {"S": value})
                parts.append(f"#{ref} = :{ref}")
        return f"NOT ({' AND '.join(parts)})"

    def outcome(self, record: OutcomeRecord, sweep_id: str | None, layout: Layout) -> _Update:
        """Write ``record``'s fields; the ones it lacks are removed."""
        values = record.to_dict()
        texts = {name: values.get(name) for name in TEXT_FIELDS}
        texts["sweep_id"] = sweep_id
        if record.tenants is not None:
            texts["tenants"] = ",".join(record.tenants)
        for name, text in texts.items():
            attribute = layout.attr(name)
            if text is None or text == "":  # a pool's 0 IPs is kept: it is the news
                self.remove(attribute)
            else:
                self.set(attribute, {"S": str(text)})
        if record.policy_version is not None:
            self.set("policy_version", {"N": str(record.policy_version)})
        else:
            self.remove("policy_version")
        if record.outcome in NON_COMPLIANT_OUTCOMES:
            self.keep_first(PROBLEM_SINCE, {"S": record.checked_at.isoformat()})
        else:
            self.remove(PROBLEM_SINCE)
        return self

    @property
    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        return " ".join(parts)


class Inventory:
    def __init__(self, table: str, layout: Layout = SETS) -> None:
        self.table = table
        self.layout = layout
        self._ddb: Any = client("dynamodb")

    def _key(self, name: str) -> dict[str, Any]:
        return {self.layout.key: {"S": self.layout.prefix + name}}

    # ------------------------------------------------------------------ the queue

    def claim(
        self,
        name: str,
        owner: str,
        now: float,
        lease_seconds: float,
        *,
        observed_at: float | None = None,
        judged_by: int | None = None,
        sweep_id: str | None = None,
        slot: SlotRequest | None = None,
    ) -> Claim | Covered | Leased | SlotTaken:
        """Hold ``name`` until ``lease_seconds`` after ``now`` (or after the slot, when one
        is taken with it, in one transaction). With ``observed_at`` (when the change the
        caller reports had surely happened), a set last claimed after it answers Covered,
        unless an effect is still owed on it, that claim never ended (its worker died
        before letting go), or (``judged_by``) the outcome it recorded was judged by a
        policy version older than that; a live lease answers Leased."""
        start = now if slot is None else max(now, slot.slot)
        lease_until = start + lease_seconds
        update = (
            "SET lease_owner = :me, lease_until = :until, claimed_at = :now,"
            " prior_claimed_at = if_not_exists(claimed_at, :never)"
        )
        values: dict[str, Any] = {
            ":me": {"S": owner},
            ":until": {"N": repr(lease_until)},
            ":now": {"N": repr(now)},
            ":never": {"N": "0"},
        }
        condition = "(attribute_not_exists(lease_until) OR lease_until < :now)"
        if observed_at is not None:  # claimed (not covered) only if one of these holds
            look = ["attribute_not_exists(claimed_at)", "claimed_at <= :observed"]
            # An effect still owed; a claim that never ended (its worker died: no look).
            look += ["attribute_exists(intent)", "attribute_exists(prior_claimed_at)"]
            values[":observed"] = {"N": repr(observed_at)}
            if judged_by is not None:  # (the outcome recorded is the last look's)
                look += ["attribute_not_exists(policy_version)", "policy_version < :judged_by"]
                values[":judged_by"] = {"N": str(judged_by)}
            condition += f" AND ({' OR '.join(look)})"
        if sweep_id is not None:
            update += ", seen_by = :sweep"
            values[":sweep"] = {"S": sweep_id}
        if self.layout.lane:  # a member lane's entries are read by lane (LANE_INDEX)
            update += ", lane = :lane"
            values[":lane"] = {"S": self.layout.lane}
        claim_update = {
            "TableName": self.table,
            "Key": self._key(name),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if slot is None:
            try:
                self._ddb.update_item(**claim_update)
            except self._ddb.exceptions.ConditionalCheckFailedException as exc:
                return _refusal(exc.response.get("Item") or {}, now)
            return Claim(name, owner, lease_until)
        try:
            self._ddb.transact_write_items(
                TransactItems=[{"Update": claim_update}, {"Update": slot.update}]
            )
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or [{}, {}]
            set_reason, slot_reason = reasons[0], reasons[-1]
            if set_reason.get("Code") == "ConditionalCheckFailed":
                return _refusal(set_reason.get("Item") or {}, now)
            if slot_reason.get("Code") == "ConditionalCheckFailed":
                seen = (slot_reason.get("Item") or {}).get("next_at", {}).get("N")
                return SlotTaken(None if seen is None else str(seen))
            raise  # a conflict with another write: worth a retry like any transient failure
        return Claim(name, owner, lease_until, slot.slot)

    def load(self, claim: Claim) -> Previous:
        """The set's item, as it is now (for a move or a conflict check)."""
        item = self._ddb.get_item(
            TableName=self.table, Key=self._key(claim.name), ConsistentRead=True
        )
        return Previous.from_item(item.get("Item"), self.layout)

    def unclaim(self, claim: Claim) -> None:
        """Give the set back untouched: the look did not count, so it covers nothing. An
        intent stays for whoever holds the set next (a write that may have landed)."""
        update = _Update().remove("lease_owner").remove("lease_until").remove("prior_claimed_at")
        update.sets.append("claimed_at = prior_claimed_at")
        self._fenced(claim, update)

    def _fenced(
        self, claim: Claim, update: _Update, condition: str = "lease_owner = :me"
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(claim.name),
            "UpdateExpression": update.expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":me": {"S": claim.owner}, **update.values},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if update.names:
            kwargs["ExpressionAttributeNames"] = update.names
        try:
            answer: dict[str, Any] = self._ddb.update_item(**kwargs, ReturnValues="ALL_OLD")
        except self._ddb.exceptions.ConditionalCheckFailedException as exc:
            item = exc.response.get("Item") or {}
            if item.get("lease_owner", {}).get("S") == claim.owner:
                if "intent" in item:
                    raise _IntentFound(Previous.from_item(item, self.layout)) from exc
                raise _Unchanged from exc  # held, no intent: the caller's own condition
            raise LeaseLost(f"{claim.name} is held by another worker now") from exc
        return answer.get("Attributes") or {}

    def release(
        self,
        claim: Claim,
        record: OutcomeRecord | None,
        sweep_id: str | None = None,
        held_until: float | None = None,
        *,
        owe: Intent | None = None,
        unless_told: bool = False,
    ) -> dict[str, str] | IntentPending | AlreadyTold:
        """Store the outcome and let the set go, in one write; returns the outcome it
        replaced. A set that no longer exists leaves the inventory. An effect still owed
        on the set is answered IntentPending, and nothing is written.

        ``owe``: the alert the outcome owes, recorded with it (the set stays held until
        ``clear_intent`` says the alert went out); ``unless_told``: not if the item
        already holds this very problem (answered AlreadyTold, nothing written). Only an
        owed alert is held back so: an outcome that owes none is simply written, in one
        request (a compliant set looked at again would otherwise cost a refused write
        and a second one)."""
        if record is not None and record.outcome is Outcome.DELETED:
            try:
                answer = self._ddb.delete_item(
                    TableName=self.table,
                    Key=self._key(claim.name),
                    ConditionExpression="lease_owner = :me AND attribute_not_exists(intent)",
                    ExpressionAttributeValues={":me": {"S": claim.owner}},
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except self._ddb.exceptions.ConditionalCheckFailedException as exc:
                item = exc.response.get("Item") or {}
                if item.get("lease_owner", {}).get("S") == claim.owner:
                    return IntentPending(Previous.from_item(item, self.layout))
                raise LeaseLost(f"{claim.name} is held by another worker now") from exc
            return _row(answer.get("Attributes") or {}, self.layout)
        update = _Update()
        if owe is None:
            update.remove("lease_owner").remove("lease_until").remove("prior_claimed_at")
        else:
            update.set("intent", owe.to_item())
        if record is not None:
            update.outcome(record, sweep_id, self.layout)
        if held_until is not None:
            update.set("held_until", {"N": repr(held_until)})
        condition = "lease_owner = :me AND attribute_not_exists(intent)"
        if (
            unless_told
            and owe is not None
            and record is not None
            and record.outcome is not Outcome.REMEDIATED
        ):
            condition += " AND " + update.unless_held(record, self.layout)
        try:
            old = self._fenced(claim, update, condition)
        except _IntentFound as found:
            return IntentPending(found.previous)
        except _Unchanged:
            return AlreadyTold()
        return _row(old, self.layout)

    # ------------------------------------------------------------------ effects

    def begin_move(
        self,
        claim: Claim,
        intent: Intent,
        lease_until: float,
        window: LastWrite | None = None,
        earlier: Sequence[LastWrite] | None = None,
    ) -> None:
        """Record the move about to be made (and hold the set long enough to make it),
        and, with ``window``, the write's window as wide as the lease: a write landing
        late, or whose worker dies, is still seen by the lost-option check. ``earlier``:
        the windows before it still kept (owed.windows_kept), oldest first."""
        update = (
            _Update().set("intent", intent.to_item()).set("lease_until", {"N": repr(lease_until)})
        )
        if window is not None:
            update.set("last_write", window.to_item())
        if earlier:
            update.set("earlier_writes", {"L": [w.to_item() for w in earlier]})
        elif earlier is not None:
            update.remove("earlier_writes")
        self._fenced(claim, update)

    def finish_move(
        self,
        claim: Claim,
        record: OutcomeRecord,
        intent: Intent,
        moves: list[Move],
        last_write: LastWrite,
        sweep_id: str | None = None,
    ) -> None:
        """The move happened: record it, count it, and leave only its alert owed."""
        update = (
            _Update()
            .outcome(record, sweep_id, self.layout)
            .set("intent", replace(intent, phase="alert").to_item())
            .set("moves", {"L": [_move_item(m) for m in moves]})
            .set("last_write", last_write.to_item())
        )
        self._fenced(claim, update)

    def clear_intent(self, claim: Claim, token: str, *, release: bool) -> None:
        """The owed alert went out: forget the intent (and let the set go, if
        ``release``). Conditional on the intent being this one, not on the lease: once the
        alert is sent, saying so must not fail for a lapsed lease."""
        removed = "intent, lease_owner, lease_until, prior_claimed_at" if release else "intent"
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(claim.name),
                UpdateExpression=f"REMOVE {removed}",
                ConditionExpression="intent.#token = :token AND lease_owner = :me",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}, ":me": {"S": claim.owner}},
            )
            return
        except self._ddb.exceptions.ConditionalCheckFailedException:
            pass
        try:  # our lease ran out meanwhile: clear the intent, leave the lease to its holder
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(claim.name),
                UpdateExpression="REMOVE intent",
                ConditionExpression="intent.#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return  # already cleared by whoever finished it

    def drop_intent(self, claim: Claim) -> None:
        """The recorded move never happened: forget it."""
        self._fenced(claim, _Update().remove("intent"))

    # ------------------------------------------------------------------ reading

    def rows(self) -> Iterator[dict[str, str]]:
        """Every entry's latest outcome, by the table's own names (entries a worker
        claimed but never judged: skipped)."""
        for item in self._items():
            if "outcome" in item and self.layout.owns(item[self.layout.key]["S"]):
                yield self.layout.public(_row(item, self.layout))

    def _items(self) -> Iterator[dict[str, Any]]:
        """This lane's items: a member lane's from its index (not every lane's), the
        deployment's own by a scan (its items carry no lane; others' are skipped)."""
        if self.layout.lane:
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self.table,
                IndexName=LANE_INDEX,
                KeyConditionExpression="lane = :lane",
                ExpressionAttributeValues={":lane": {"S": self.layout.lane}},
            )
        else:
            pages = self._ddb.get_paginator("scan").paginate(TableName=self.table)
        for page in pages:
            yield from page.get("Items", [])

    def lane_rows(self) -> Iterator[tuple[str | None, str | None, dict[str, str]]]:
        """Every lane's entries in the table, each with its lane: (account, region, row)
        for a member lane's, (None, None, row) for the hub's own (bare names)."""
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table):
            for item in page.get("Items", []):
                if "outcome" not in item:
                    continue
                key = item[self.layout.key]["S"]
                if "/" not in key:
                    yield None, None, self.layout.public(_row(item, self.layout))
                    continue
                account, region, _ = key.split("/", 2)
                lane = self.layout.in_lane(account, region)
                yield account, region, lane.public(_row(item, lane))

    def remove_lane(self) -> int:
        """Delete every entry of this member lane (its account or region is governed no
        more), whatever its state: nothing will act there again. The deployment's own
        lane is never removed this way."""
        if not self.layout.lane:
            raise ValueError("only a member lane's entries can be removed")
        keys = [{self.layout.key: item[self.layout.key]} for item in self._items()]
        for start in range(0, len(keys), BATCH_WRITE):
            self._delete_batch(keys[start : start + BATCH_WRITE])
        return len(keys)

    def _delete_batch(self, keys: list[dict[str, Any]]) -> None:
        """Delete ``keys`` (25 at most) in one BatchWriteItem, and what DynamoDB leaves
        unprocessed (throttled) again; still unprocessed after BATCH_ATTEMPTS: raises."""
        requests: Any = {self.table: [{"DeleteRequest": {"Key": key}} for key in keys]}
        for attempt in range(BATCH_ATTEMPTS):
            requests = self._ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems")
            if not requests:
                return
            time.sleep(0.05 * 2**attempt)
        raise RuntimeError(f"{self.table}: entries still unprocessed after {BATCH_ATTEMPTS} tries")

    def seen_by(self, name: str, sweep_id: str) -> bool | None:
        """True when sweep ``sweep_id`` saw the entry's set (so it existed then); None
        when it did not: the inventory cannot tell, ask SES."""
        item = self._ddb.get_item(
            TableName=self.table, Key=self._key(name), ProjectionExpression="seen_by"
        ).get("Item")
        return True if item and item.get("seen_by", {}).get("S") == sweep_id else None

    def indexed(self, value: str) -> list[str]:
        """The names whose indexed field (a set's required pool, an identity's default
        set) is ``value``."""
        attribute = self.layout.attr(self.layout.index_field)
        paginator = self._ddb.get_paginator("query")
        names: list[str] = []
        for page in paginator.paginate(
            TableName=self.table,
            IndexName=self.layout.index,
            KeyConditionExpression="#field = :value",
            ExpressionAttributeNames={"#field": attribute, "#key": self.layout.key},
            ExpressionAttributeValues={":value": {"S": value}},
            ProjectionExpression="#key",
        ):
            keys = (item[self.layout.key]["S"] for item in page.get("Items", []))
            names.extend(self.layout.name_of(k) for k in keys if self.layout.owns(k))
        return names

    def sets_expecting(self, pool: str) -> list[str]:
        return self.indexed(pool)

    def remove_unseen(self, sweep_id: str, started_at: float) -> int:
        """Delete the entries a finished sweep did not see and nothing looked at since it
        started (an event may have claimed a new set mid-sweep): their sets are gone.
        An entry with an effect still owed is kept until it is paid."""
        removed = 0
        for item in self._items():
            if item.get("seen_by", {}).get("S") == sweep_id:
                continue
            if not self.layout.owns(item[self.layout.key]["S"]):
                continue  # another lane's: its own sweep prunes it
            try:
                self._ddb.delete_item(
                    TableName=self.table,
                    Key={self.layout.key: item[self.layout.key]},
                    ConditionExpression=(
                        "(attribute_not_exists(claimed_at) OR claimed_at < :t)"
                        " AND attribute_not_exists(intent)"
                        " AND (attribute_not_exists(seen_by) OR seen_by <> :sweep)"
                    ),
                    ExpressionAttributeValues={
                        ":t": {"N": repr(started_at)},
                        ":sweep": {"S": sweep_id},
                    },
                )
                removed += 1
            except self._ddb.exceptions.ConditionalCheckFailedException:
                continue
        return removed


@dataclass(frozen=True)
class SeenInSweep:
    """Which configuration sets exist, as a sweep knows once it has walked them all: the
    ones it saw. (An older row may be a set deleted since: not trusted.)"""

    inventory: Inventory
    sweep_id: str

    def exists(self, name: str) -> bool | None:
        return self.inventory.seen_by(name, self.sweep_id)
