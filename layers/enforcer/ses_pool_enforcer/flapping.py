"""Stop fighting: at most ``threshold`` reassignments of one set per ``window`` seconds.
The next one is held (outcome ``flapping``, one alert per hold) until the oldest counted
move leaves the window; then the set is looked at again. Pure: the moves come from the
set's record, read with its claim, and go back with its next write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Hold(StrEnum):
    NO = "no"
    NEW = "new"  # just started holding: alert once, and look again when it ends
    ONGOING = "ongoing"  # already alerted for this hold: stay quiet


@dataclass(frozen=True)
class Move:
    """One reassignment by the enforcer, and whose change it undid (an actor's ARN,
    ``pipeline <glob>`` for an IaC principal, None when unknown: a sweep)."""

    at: float
    undid: str | None = None


@dataclass(frozen=True)
class FlapGuard:
    threshold: int
    window: float

    def recent(self, moves: Iterable[Move], now: float) -> list[Move]:
        since = now - self.window
        return sorted((m for m in moves if m.at > since), key=lambda m: m.at)

    def hold(self, moves: Iterable[Move], held_until: float, now: float) -> tuple[Hold, float]:
        """Whether the next reassignment must wait, and until when."""
        recent = self.recent(moves, now)
        if len(recent) < self.threshold:
            return Hold.NO, 0.0
        until = recent[-self.threshold].at + self.window
        return (Hold.ONGOING if held_until > now else Hold.NEW), until

    def after_move(self, moves: Iterable[Move], now: float, undid: str | None) -> list[Move]:
        """The moves to keep once one more happened ``now``."""
        return [*self.recent(moves, now), Move(now, undid)]

    def fighting(self, moves: Iterable[Move], now: float) -> str | None:
        """Who the counted moves undid most often (None: nobody known)."""
        counts = Counter(m.undid for m in self.recent(moves, now) if m.undid)
        return counts.most_common(1)[0][0] if counts else None
