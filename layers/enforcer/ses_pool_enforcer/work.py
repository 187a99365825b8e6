"""A unit of work on the queue: look at one set, and why. Pure data.

CloudTrail events become work as they are read; work that must wait (the set is held,
the call budget is spent, a flapping hold has not ended) goes back on the queue as a
``reconcile`` request carrying everything the look needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ses_pool_enforcer.conflicts import Observation
from ses_pool_enforcer.model import Kind
from ses_pool_enforcer.notices import Trigger

RECONCILE_KIND = "reconcile"
NAME_FIELDS = {Kind.CONFIGURATION_SET: "configuration_set", Kind.IDENTITY: "identity"}


LaneKey = tuple[str, str]  # (account, region)


def _lane(value: Any) -> LaneKey | None:
    if value is None:
        return None
    account, region = value["account"], value["region"]
    if not (isinstance(account, str) and account and isinstance(region, str) and region):
        raise ValueError(f"lane must name an account and a region: {value!r}")
    return account, region


class BadRequest(ValueError):
    """A reconcile request that cannot be read."""


@dataclass(frozen=True)
class Work:
    """Look at set (or identity, by ``kind``) ``name``.

    ``observed_at``: the change being reported had surely happened by then, so a look
    that began later covers it (None: look whatever earlier looks saw). ``judged_by``: and
    only a look that judged by this policy version or a newer one does (a sweep's pinned
    version; None: any look). ``observations``:
    delivery options other actors asked for (conflicts.py). ``not_before``: not before
    this time (epoch seconds). ``fresh_pools``: pools just created or deleted, whose
    cached existence must be asked again. ``deferrals``: how often it was put back.
    ``lane``: the member account and region the set lives in (None: the deployment's
    own account and region)."""

    name: str
    trigger: Trigger
    observed_at: float | None = None
    observations: tuple[Observation, ...] = ()
    not_before: float | None = None
    fresh_pools: tuple[str, ...] = ()
    deferrals: int = 0
    kind: Kind = Kind.CONFIGURATION_SET
    lane: LaneKey | None = None
    judged_by: int | None = None

    @property
    def key(self) -> tuple[LaneKey | None, Kind, str]:
        return self.lane, self.kind, self.name

    def to_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "kind": RECONCILE_KIND,
            NAME_FIELDS[self.kind]: self.name,
            "trigger": {k: v for k, v in asdict(self.trigger).items() if v is not None},
        }
        if self.observed_at is not None:
            message["observed_at"] = self.observed_at
        if self.judged_by is not None:
            message["judged_by"] = self.judged_by
        if self.observations:
            message["observations"] = [o.to_dict() for o in self.observations]
        if self.not_before is not None:
            message["not_before"] = self.not_before
        if self.fresh_pools:
            message["fresh_pools"] = list(self.fresh_pools)
        if self.deferrals:
            message["deferrals"] = self.deferrals
        if self.lane is not None:
            message["lane"] = {"account": self.lane[0], "region": self.lane[1]}
        return message

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> Work:
        kind = Kind.IDENTITY if "identity" in data else Kind.CONFIGURATION_SET
        name = data.get(NAME_FIELDS[kind])
        if not isinstance(name, str) or not name:
            raise BadRequest("reconcile request without a configuration_set or identity")
        try:
            trigger = Trigger(**(data.get("trigger") or {"source": "request"}))
            observed = data.get("observed_at")
            not_before = data.get("not_before")
            judged_by = data.get("judged_by")
            return cls(
                name=name,
                trigger=trigger,
                observed_at=None if observed is None else float(observed),
                judged_by=None if judged_by is None else int(judged_by),
                observations=tuple(
                    Observation.from_dict(o) for o in data.get("observations") or ()
                ),
                not_before=None if not_before is None else float(not_before),
                fresh_pools=tuple(str(p) for p in data.get("fresh_pools") or ()),
                deferrals=int(data.get("deferrals") or 0),
                kind=kind,
                lane=_lane(data.get("lane")),
            )
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BadRequest(f"reconcile request for {name} is malformed: {exc}") from exc

    def merged(self, other: Work) -> Work:
        """One look for both: the later change (and the newer policy version a covering
        look must have judged by), every observation, every fresh pool, the later
        ``not_before`` (a hold's wake-up is not looked at early); a look regardless
        of earlier looks if either asks for one."""
        observed = (
            None
            if self.observed_at is None or other.observed_at is None
            else max(self.observed_at, other.observed_at)
        )
        not_before = max(
            (t for t in (self.not_before, other.not_before) if t is not None), default=None
        )
        judged_by = max(
            (v for v in (self.judged_by, other.judged_by) if v is not None), default=None
        )
        # The newest event names the actor in the alert.
        trigger = (
            other.trigger
            if (other.trigger.event_time or "") >= (self.trigger.event_time or "")
            else self.trigger
        )
        return Work(
            name=self.name,
            trigger=trigger,
            observed_at=observed,
            judged_by=judged_by,
            observations=self.observations + other.observations,
            not_before=not_before,
            fresh_pools=tuple(dict.fromkeys(self.fresh_pools + other.fresh_pools)),
            deferrals=max(self.deferrals, other.deferrals),
            kind=self.kind,
            lane=self.lane,
        )
