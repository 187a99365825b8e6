"""What a template or a plan declares: configuration sets and pools, with where each
one is written. A value that cannot be known before deploy is ``Unresolved``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ses_pool_enforcer.iac.patterns import shown


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
class Alternative:
    """One way a set may be deployed, under the parameter values that make it so."""

    assumption: str
    """``Stage=prod``: the parameter values that give this alternative."""
    name: str | Unresolved
    pool: str | Unresolved
    tags: Mapping[str, str] | Unresolved


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
    condition: str | None = None
    """The template condition the resource is created under, if any."""
    alternatives: tuple[Alternative, ...] = ()
    """When the file leaves a choice open (a condition, a parameter's allowed values):
    each way the set may be deployed; name, pool and tags then say what they share."""
    defaults: str | None = None
    """``Stage=dev``: the parameter Defaults that decided a condition the set depends on
    (a deploy passing other values may decide otherwise)."""
    tenants: tuple[str, ...] | None = None
    """The tenants the file associates the set with (CloudFormation's
    ``AWS::SES::Tenant`` ``ResourceAssociations``); None where no file does, which leaves
    a rule that names tenants undecided (an association may be made elsewhere)."""

    @property
    def label(self) -> str:
        """``MarketingSet (mkt-weekly)``: the resource, and the set's name when known."""
        resource = self.construct or self.resource
        if self.condition is not None:
            resource += f" [Condition {self.condition}]"
        return f"{resource} ({shown(self.name)})" if isinstance(self.name, str) else resource


@dataclass(frozen=True)
class DeclaredIdentity:
    """A sending identity (``AWS::SES::EmailIdentity``) and the default configuration
    set it declares (None: it declares none)."""

    source: str
    resource: str
    position: Position | None
    name: str | Unresolved
    configuration_set: str | Unresolved | None
    condition: str | None = None

    @property
    def label(self) -> str:
        name = f" ({shown(self.name)})" if isinstance(self.name, str) else ""
        return f"{self.resource}{name}"


@dataclass(frozen=True)
class NestedStack:
    """A nested stack a template declares: where its template is, if on this disk."""

    resource: str
    location: str | Unresolved
    """The local path of its template, relative to the parent's folder, or why not."""
    parameters: Mapping[str, str]
    """The values the parent passes it, as far as the parent decides them."""


@dataclass(frozen=True)
class Scan:
    """Everything one file declares."""

    source: str
    kind: str
    sets: list[DeclaredSet]
    pools: set[str]
    notes: list[str] = field(default_factory=list)
    """What the file declares that was not checked, and why (one line each)."""
    nested: list[NestedStack] = field(default_factory=list)
    identities: list[DeclaredIdentity] = field(default_factory=list)
    ssm_parameters: dict[str, str] = field(default_factory=dict)
    """Template parameters of an SSM type not given a value: name -> SSM parameter."""
    # pool -> ScalingMode, where the file declares the pool (and so its mode)
    pool_modes: dict[str, str] = field(default_factory=dict)
