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
from ses_pool_enforcer.notices import Trigger

RECONCILE_KIND = "reconcile"


class BadRequest(ValueError):
    """A reconcile request that cannot be read."""


@dataclass(frozen=True)
class Work:
    """Look at set ``name``.

    ``observed_at``: the change being reported had surely happened by then, so a look
    that began later covers it (None: look whatever earlier looks saw). ``observations``:
    delivery options other actors asked for (conflicts.py). ``not_before``: not before
    this time (epoch seconds). ``fresh_pools``: pools just created or deleted, whose
    cached existence must be asked again. ``deferrals``: how often it was put back."""

    name: str
    trigger: Trigger
    observed_at: float | None = None
    observations: tuple[Observation, ...] = ()
    not_before: float | None = None
    fresh_pools: tuple[str, ...] = ()
    deferrals: int = 0

    def to_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "kind": RECONCILE_KIND,
            "configuration_set": self.name,
            "trigger": {k: v for k, v in asdict(self.trigger).items() if v is not None},
        }
        if self.observed_at is not None:
            message["observed_at"] = self.observed_at
        if self.observations:
            message["observations"] = [o.to_dict() for o in self.observations]
        if self.not_before is not None:
            message["not_before"] = self.not_before
        if self.fresh_pools:
            message["fresh_pools"] = list(self.fresh_pools)
        if self.deferrals:
            message["deferrals"] = self.deferrals
        return message

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> Work:
        name = data.get("configuration_set")
        if not isinstance(name, str) or not name:
            raise BadRequest("reconcile request without a configuration_set")
        try:
            trigger = Trigger(**(data.get("trigger") or {"source": "request"}))
            observed = data.get("observed_at")
            not_before = data.get("not_before")
            return cls(
                name=name,
                trigger=trigger,
                observed_at=None if observed is None else float(observed),
                observations=tuple(
                    Observation.from_dict(o) for o in data.get("observations") or ()
                ),
                not_before=None if not_before is None else float(not_before),
                fresh_pools=tuple(str(p) for p in data.get("fresh_pools") or ()),
                deferrals=int(data.get("deferrals") or 0),
            )
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BadRequest(f"reconcile request for {name} is malformed: {exc}") from exc

    def merged(self, other: Work) -> Work:
        """One look for both: the later change, every observation, every fresh pool; a
        look regardless of earlier looks if either asks for one."""
        observed = (
            None
            if self.observed_at is None or other.observed_at is None
            else max(self.observed_at, other.observed_at)
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
            observations=self.observations + other.observations,
            fresh_pools=tuple(dict.fromkeys(self.fresh_pools + other.fresh_pools)),
            deferrals=max(self.deferrals, other.deferrals),
        )
