"""Someone else's change caught between the enforcer's read and its write.

SES has no conditional write: the enforcer reads a set, then (one budget slot later)
puts its delivery options back with the required pool. A person who sets, say,
``TlsPolicy: REQUIRE`` in that window has it overwritten with the value the enforcer
read. Their own CloudTrail record then arrives: it says what they asked for and when.
If it fell inside the window of the enforcer's last write, and the set still holds what
the enforcer sent, the person's option was lost, and the enforcer puts it back.

Pure: observations come from CloudTrail records, the last write from the set's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# CloudTrail's eventTime has whole seconds, and clocks differ a little: a change this
# close to the window counts as inside it. (A change made just before the read was read
# and sent back unchanged, so it can never look lost.)
FUZZ_SECONDS = 2.0


@dataclass(frozen=True)
class Observation:
    """Delivery options another actor's ``PutConfigurationSetDeliveryOptions`` asked for
    (API spelling, pool excluded), and when."""

    event_time: float
    actor: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"event_time": self.event_time, "actor": self.actor, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observation:
        return cls(float(data["event_time"]), data.get("actor"), dict(data.get("options") or {}))


@dataclass(frozen=True)
class Lost:
    option: str
    value: Any
    actor: str | None
    event_time: float


def in_window(read_at: float, written_at: float, observations: Iterable[Observation]) -> bool:
    """Whether any of ``observations`` was asked for between a write's read and its
    landing (give or take the clocks' fuzz)."""
    return any(_within(read_at, written_at, seen) for seen in observations)


def _within(read_at: float, written_at: float, seen: Observation) -> bool:
    return read_at - FUZZ_SECONDS <= seen.event_time <= written_at + FUZZ_SECONDS


def lost_options(
    read_at: float,
    written_at: float,
    sent: Mapping[str, Any],
    observations: Iterable[Observation],
    live: Mapping[str, Any],
) -> list[Lost]:
    """The options someone asked for between ``read_at`` and ``written_at`` that the
    write (which sent ``sent``) replaced, and that the set (``live``) still lacks."""
    lost: dict[str, Lost] = {}
    for seen in sorted(observations, key=lambda o: o.event_time):
        if not _within(read_at, written_at, seen):
            continue
        for option, value in seen.options.items():
            if sent.get(option) != value and live.get(option) == sent.get(option):
                lost[option] = Lost(option, value, seen.actor, seen.event_time)
    return list(lost.values())
