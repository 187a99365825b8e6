"""What a template or a plan declares: configuration sets and pools, with where each
one is written. A value that cannot be known before deploy is ``Unresolved``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class IacError(ValueError):
    """The file cannot be read as a template or a plan: one line, exit 1."""


@dataclass(frozen=True)
class Unresolved:
    """A value known only at deploy (or apply) time, and why."""

    reason: str


@dataclass(frozen=True)
class Position:
    """1-based line and column (in characters) of a resource in its file."""

    line: int
    column: int


Path = tuple[str | int, ...]
"""Keys and indexes from the document's root: ``("Resources", "MarketingSet")``."""


@dataclass(frozen=True)
class DeclaredSet:
    """One configuration set as a file declares it; the pool is normalised."""

    source: str
    resource: str
    position: Position | None
    name: str | Unresolved
    pool: str | Unresolved
    tags: Mapping[str, str] | Unresolved = field(default_factory=dict)
    fixed_pool: str | None = None
    """Why this kind of resource cannot carry a pool at all (SES v1), if it cannot."""
    construct: str | None = None
    """The CDK construct that synthesized the resource, as its author knows it."""

    @property
    def label(self) -> str:
        """``MarketingSet (mkt-weekly)``: the resource, and the set's name when known."""
        resource = self.construct or self.resource
        return f"{resource} ({self.name})" if isinstance(self.name, str) else resource


@dataclass(frozen=True)
class Scan:
    """Everything one file declares."""

    source: str
    kind: str
    sets: list[DeclaredSet]
    pools: set[str]
