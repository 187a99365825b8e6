"""Policy document, version 1: the contract users write (reference: docs/policy.md).

Pure: no boto3, no I/O. ``parse_policy`` turns YAML or JSON text into a validated
``Policy`` or raises ``PolicyError`` whose message names every offending field.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ses_pool_enforcer import documents
from ses_pool_enforcer.pools import SHARED_POOL, SPECIAL_POOLS

POOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# The patterns AWS Organizations documents for its ids (ListParents' ChildId, a root's Id).
ACCOUNT_ID = re.compile(r"[0-9]{12}")
ORGANIZATIONAL_UNIT_ID = re.compile(r"ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}")
ROOT_ID = re.compile(r"r-[0-9a-z]{4,32}")
# A region name (eu-west-1) or a glob on region names (eu-*, us-*-1): lower case.
REGION_GLOB = re.compile(r"[a-z0-9*?\[\]!-]{1,32}")

# The same patterns in the JSON Schema, for editors; the validators below say which value
# is wrong and what it should look like.
AccountId = Annotated[str, StringConstraints(pattern=f"^{ACCOUNT_ID.pattern}$")]
OrganizationalUnitId = Annotated[
    str,
    StringConstraints(pattern=f"^({ORGANIZATIONAL_UNIT_ID.pattern}|{ROOT_ID.pattern})$"),
]
RegionGlob = Annotated[str, StringConstraints(pattern=f"^{REGION_GLOB.pattern}$")]

PoolName = Annotated[str, StringConstraints(pattern=POOL_NAME_PATTERN)]
Glob = Annotated[str, StringConstraints(min_length=1, max_length=256)]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Mode(StrEnum):
    ENFORCE = "enforce"
    AUDIT = "audit"


class _Strict(BaseModel):
    # The parts of a document are validated inside Policy's own validator, which holds
    # their schemas: built on their own (at import) they would cost every cold start a
    # validator nothing uses. They are built when first used alone (the CLI does).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _account_ids(values: Any) -> Any:
    """Account ids are twelve-digit strings. YAML reads an unquoted id as a number (and
    drops a leading zero), so a number is refused with how to write it."""
    if not isinstance(values, list):
        return values
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"account id {value} must be a quoted string: '{value}'")
        if isinstance(value, str) and not ACCOUNT_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS account id (12 digits)")
    return values


def _organizational_unit_ids(values: Any) -> Any:
    if not isinstance(values, list):
        return values
    for value in values:
        if isinstance(value, str) and not (
            ORGANIZATIONAL_UNIT_ID.fullmatch(value) or ROOT_ID.fullmatch(value)
        ):
            raise ValueError(
                f"{value!r} is not an organizational unit id (ou-xxxx-xxxxxxxx) or a root id "
                "(r-xxxx)"
            )
    return values


def _region_globs(values: Any) -> Any:
    if not isinstance(values, list):
        return values
    for value in values:
        if isinstance(value, str) and not REGION_GLOB.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a region or a glob on region names (eu-west-1, eu-*), "
                "in lower case"
            )
    return values


class Scope(_Strict):
    """Where a rule or an exemption applies: which accounts, organizational units and
    regions. Absent keys do not narrow it: a rule without any applies everywhere, as every
    version 1 document without them always did. Given keys must all hold together."""

    accounts: list[AccountId] | None = Field(
        default=None,
        min_length=1,
        description="AWS account ids (12 digits, quoted); the set's account must be one.",
    )
    organizational_units: list[OrganizationalUnitId] | None = Field(
        default=None,
        min_length=1,
        description="Organizational unit ids (ou-xxxx-xxxxxxxx) or a root id (r-xxxx); the "
        "set's account must be in one of them or below it.",
    )
    regions: list[RegionGlob] | None = Field(
        default=None,
        min_length=1,
        description="Globs on the region name (eu-west-1, eu-*); any may match.",
    )

    @field_validator("accounts", mode="before")
    @classmethod
    def _check_accounts(cls, value: Any) -> Any:
        return _account_ids(value)

    @field_validator("organizational_units", mode="before")
    @classmethod
    def _check_ous(cls, value: Any) -> Any:
        return _organizational_unit_ids(value)

    @field_validator("regions", mode="before")
    @classmethod
    def _check_regions(cls, value: Any) -> Any:
        return _region_globs(value)

    def scoped(self) -> bool:
        """Whether any scope key is given."""
        return (
            self.accounts is not None
            or self.organizational_units is not None
            or self.regions is not None
        )


SCOPE_KEYS = "'accounts', 'organizational_units', 'regions'"


class Match(Scope):
    names: list[Glob] | None = Field(
        default=None,
        min_length=1,
        description="Shell-style globs on the set name, case-sensitive; any may match.",
    )
    tags: dict[Annotated[str, StringConstraints(min_length=1)], str] | None = Field(
        default=None,
        min_length=1,
        description='Every listed tag must be present with this value; "*" means any value.',
    )
    tenants: list[Glob] | None = Field(
        default=None,
        min_length=1,
        description="Globs on the names of the SES tenants the set is associated with, "
        "case-sensitive; the set matches when one of its tenants matches one of them.",
    )

    @model_validator(mode="after")
    def _names_or_tags(self) -> Match:
        # A match with only scope keys is every set of those accounts, OUs or regions.
        if self.names is None and self.tags is None and self.tenants is None and not self.scoped():
            raise ValueError(
                f"match needs at least one of 'names', 'tags', {SCOPE_KEYS}, 'tenants'"
            )
        return self


class ScalingMode(StrEnum):
    STANDARD = "STANDARD"
    MANAGED = "MANAGED"


class SharedPoolDeliveryMode(StrEnum):
    GLOBAL = "GLOBAL"
    REGIONAL = "REGIONAL"
    ACCOUNT = "ACCOUNT"


class DisabledTenants(StrEnum):
    REPORT = "report"
    ENFORCE = "enforce"


class PoolHealth(_Strict):
    """What the target pool must be before a set is moved onto it (and what reports hold
    it to). A MANAGED pool meets ``min_ips`` and ``min_warmup_percent``: SES scales and
    warms its IPs itself."""

    scaling_mode: ScalingMode | None = Field(
        default=None, description="STANDARD or MANAGED, as GetDedicatedIpPool spells it."
    )
    min_ips: int | None = Field(
        default=None, ge=1, description="At least this many dedicated IPs in the pool."
    )
    min_warmup_percent: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Every IP of the pool at least this far through its warm-up "
        "(WarmupPercentage; 100 = warm).",
    )

    @model_validator(mode="after")
    def _says_something(self) -> PoolHealth:
        if self.scaling_mode is None and self.min_ips is None and self.min_warmup_percent is None:
            raise ValueError(
                "pool_health needs at least one of 'scaling_mode', 'min_ips', 'min_warmup_percent'"
            )
        return self


def _pool_health_field() -> Any:
    return Field(
        default=None,
        description="What the dedicated pool must be before a set is moved onto it: a set "
        "bound for a pool that falls short is not moved (an error that says why).",
    )


def _shared_pool_delivery_mode_field() -> Any:
    return Field(
        default=None,
        description="With pool ses-shared-pool only: the set's SharedPoolDeliveryMode "
        "(GLOBAL, REGIONAL, ACCOUNT), written in the same call as the pool.",
    )


def _disabled_tenants_field() -> Any:
    return Field(
        default=None,
        description="A set (or identity) of a tenant whose SendingStatus is DISABLED: "
        "'report' (the default) reports it without changing it; 'enforce' moves it (gives "
        "it its default set) as any other.",
    )


def _fits_the_pool(
    pool: str, pool_health: PoolHealth | None, mode: SharedPoolDeliveryMode | None
) -> None:
    """A pool's health is asked of the account's own pools; a shared-pool delivery mode of
    sets sent to the shared pool."""
    if pool_health is not None and pool in SPECIAL_POOLS:
        raise ValueError(f"pool_health applies to a dedicated pool of the account, not {pool}")
    if mode is not None and pool != SHARED_POOL:
        raise ValueError(
            f"shared_pool_delivery_mode needs pool {SHARED_POOL} (this one sends to {pool})"
        )


class Rule(_Strict):
    id: Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)] = Field(
        description="Unique rule id, used in reports and alerts."
    )
    description: str | None = None
    match: Match
    pool: PoolName = Field(
        description="A dedicated pool, ses-default-dedicated-pool (no pool association) "
        "or ses-shared-pool."
    )
    mode: Mode | None = Field(default=None, description="Overrides the document's mode.")
    iac_principals: list[Glob] | None = Field(
        default=None,
        description="ARN globs of the roles that deploy this rule's sets (CloudFormation, "
        "CDK, Terraform pipelines); replaces the document's list for this rule.",
    )
    pool_health: PoolHealth | None = _pool_health_field()
    shared_pool_delivery_mode: SharedPoolDeliveryMode | None = _shared_pool_delivery_mode_field()
    disabled_tenants: DisabledTenants | None = _disabled_tenants_field()

    @model_validator(mode="after")
    def _fits_its_pool(self) -> Rule:
        _fits_the_pool(self.pool, self.pool_health, self.shared_pool_delivery_mode)
        return self


class DefaultRule(_Strict):
    pool: PoolName
    mode: Mode | None = None
    pool_health: PoolHealth | None = _pool_health_field()
    shared_pool_delivery_mode: SharedPoolDeliveryMode | None = _shared_pool_delivery_mode_field()
    disabled_tenants: DisabledTenants | None = _disabled_tenants_field()

    @model_validator(mode="after")
    def _fits_its_pool(self) -> DefaultRule:
        _fits_the_pool(self.pool, self.pool_health, self.shared_pool_delivery_mode)
        return self


class IdentityMatch(Scope):
    identities: list[Glob] | None = Field(
        default=None,
        min_length=1,
        description="Globs on the identity (a domain, news.example.com, or an address, "
        "*@news.example.com), not case-sensitive; any may match.",
    )
    tags: dict[Annotated[str, StringConstraints(min_length=1)], str] | None = Field(
        default=None,
        min_length=1,
        description='Every listed tag must be on the identity with this value; "*" means '
        "any value.",
    )
    tenants: list[Glob] | None = Field(
        default=None,
        min_length=1,
        description="Globs on the names of the SES tenants the identity is associated "
        "with, case-sensitive; any of its tenants may match any of them.",
    )

    @model_validator(mode="after")
    def _identities_or_tags(self) -> IdentityMatch:
        if (
            self.identities is None
            and self.tags is None
            and self.tenants is None
            and not self.scoped()
        ):
            raise ValueError(
                f"match needs at least one of 'identities', 'tags', {SCOPE_KEYS}, 'tenants'"
            )
        return self


class IdentityRule(_Strict):
    """What default configuration set the mail of some identities must go out with."""

    id: Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)] = Field(
        description="Unique among every rule of the document, used in reports and alerts."
    )
    description: str | None = None
    match: IdentityMatch
    configuration_set: Glob | None = Field(
        default=None,
        description="The default configuration set the identity must have: a name (enforce "
        "mode sets it) or a glob such as mkt-* (reported only: a glob names no one set).",
    )
    default_configuration_set: Literal["required"] | None = Field(
        default=None,
        description="'required': any default configuration set, as long as there is one "
        "(reported only).",
    )
    mode: Mode | None = Field(default=None, description="Overrides the document's mode.")
    disabled_tenants: DisabledTenants | None = _disabled_tenants_field()

    @model_validator(mode="after")
    def _one_requirement(self) -> IdentityRule:
        if (self.configuration_set is None) == (self.default_configuration_set is None):
            raise ValueError(
                "an identity rule needs exactly one of 'configuration_set' and "
                "'default_configuration_set: required'"
            )
        return self


class Exemption(Scope):
    """An exemption covers the sets (or identities) its glob matches, in its scope
    (accounts, organizational_units, regions; absent = everywhere)."""

    configuration_set: Glob | None = Field(default=None, description="Glob on the set name.")
    identity: Glob | None = Field(
        default=None, description="Glob on the identity, not case-sensitive (instead of a set)."
    )
    tenant: Glob | None = Field(
        default=None,
        description="Glob on a tenant's name (instead of a set or an identity): covers every "
        "set and identity associated with a tenant it matches.",
    )
    reason: NonEmptyText
    expires: dt.date = Field(description="Last day (UTC) on which the exemption applies.")

    @field_validator("expires", mode="before")
    @classmethod
    def _a_calendar_date(cls, value: Any) -> Any:
        # A number or a timestamp would be accepted by pydantic's lax mode; an expiry
        # date is a date, written YYYY-MM-DD.
        if isinstance(value, dt.datetime) or not isinstance(value, str | dt.date):
            raise ValueError("expected a date written YYYY-MM-DD")
        if isinstance(value, str) and not DATE_PATTERN.fullmatch(value):
            raise ValueError("expected a date written YYYY-MM-DD")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Exemption:
        named = [self.configuration_set, self.identity, self.tenant]
        if sum(target is not None for target in named) != 1:
            raise ValueError(
                "an exemption names exactly one of 'configuration_set' and 'identity' "
                "(or, instead, 'tenant')"
            )
        return self


class Policy(_Strict):
    model_config = ConfigDict(defer_build=False)  # (built at import: the whole document)

    version: Literal[1]
    mode: Mode = Field(
        default=Mode.AUDIT,
        description="Default mode of every rule. Absent means audit: nothing is reassigned "
        "unless the document says enforce.",
    )
    default: DefaultRule | None = Field(
        default=None, description="Pool for sets that match no rule; absent = unmanaged."
    )
    # Defaults, not default_factory=list: pydantic reads a factory's signature, and a
    # builtin's costs a cold start the tokenizer (1.5 ms). Each document gets its own copy.
    rules: list[Rule] = Field(default=[], description="First matching rule wins.")
    exemptions: list[Exemption] = Field(default=[])
    identities: list[IdentityRule] | None = Field(
        default=None,
        description="Rules for the identities mail is sent from: the default configuration "
        "set their mail uses when it names none. First matching rule wins.",
    )
    iac_principals: list[Glob] | None = Field(
        default=None,
        description="ARN globs of the roles that deploy infrastructure (a CloudFormation "
        "service role, CDK's cfn-exec role, a Terraform CI role). A set such a role "
        "changes away from its pool is reported as the pipeline's source disagreeing with "
        "the policy; the rule's mode still decides whether it is moved.",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # True == 1 in Python, so Literal[1] alone would accept `version: true`.
        if isinstance(value, bool):
            raise ValueError("Input should be 1")
        return value

    @field_validator("rules")
    @classmethod
    def _unique_rule_ids(cls, rules: list[Rule]) -> list[Rule]:
        first: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule.id in first:
                raise ValueError(
                    f"duplicate rule id {rule.id!r} "
                    f"(rules[{first[rule.id]}].id and rules[{index}].id)"
                )
            first[rule.id] = index
        return rules

    @field_validator("identities")
    @classmethod
    def _ids_unique_across_kinds(
        cls, identities: list[IdentityRule] | None, info: ValidationInfo
    ) -> list[IdentityRule] | None:
        sets = {rule.id: index for index, rule in enumerate(info.data.get("rules") or [])}
        seen: dict[str, int] = {}
        for index, rule in enumerate(identities or []):
            if rule.id in sets:
                raise ValueError(
                    f"duplicate rule id {rule.id!r} (rules[{sets[rule.id]}].id and "
                    f"identities[{index}].id)"
                )
            if rule.id in seen:
                raise ValueError(
                    f"duplicate rule id {rule.id!r} (identities[{seen[rule.id]}].id and "
                    f"identities[{index}].id)"
                )
            seen[rule.id] = index
        return identities

    def scopes(self) -> list[Scope]:
        """Every rule's match and every exemption: whatever may narrow where it applies."""
        return [
            *(rule.match for rule in self.rules),
            *(rule.match for rule in self.identities or []),
            *self.exemptions,
        ]

    def names_accounts(self) -> bool:
        """Whether deciding needs the account id: some scope names accounts or OUs."""
        return any(
            s.accounts is not None or s.organizational_units is not None for s in self.scopes()
        )

    def names_organizational_units(self) -> bool:
        """Whether deciding needs the account's place in the organization."""
        return any(s.organizational_units is not None for s in self.scopes())

    def names_tenants(self) -> bool:
        """Whether deciding needs the tenants of a set or identity (``ListResourceTenants``
        or, in a sweep, ``ListTenantResources``): some match or exemption names tenants, or
        a rule asks for DISABLED tenants' sets to be reported. Without it, no tenant is read
        and every set is decided as before tenants existed."""
        targets: list[Rule | DefaultRule] = [*self.rules, *filter(None, [self.default])]
        return (
            any(rule.match.tenants is not None for rule in self.rules)
            or any(rule.match.tenants is not None for rule in self.identities or [])
            or any(exemption.tenant is not None for exemption in self.exemptions)
            or any(t.disabled_tenants is DisabledTenants.REPORT for t in targets)
            or any(r.disabled_tenants is DisabledTenants.REPORT for r in self.identities or [])
        )

    def pools_with_health(self) -> set[str]:
        """The pools a rule (or the default) asks health of: those whose IPs matter."""
        targets: list[Rule | DefaultRule] = [*self.rules, *filter(None, [self.default])]
        return {t.pool for t in targets if t.pool_health is not None}

    def pools_with_warmup_health(self) -> set[str]:
        """The pools a rule (or the default) asks a minimum warm-up of."""
        targets: list[Rule | DefaultRule] = [*self.rules, *filter(None, [self.default])]
        return {
            t.pool
            for t in targets
            if t.pool_health is not None and t.pool_health.min_warmup_percent is not None
        }

    def pools_with_shared_pool_mode(self) -> set[str]:
        """The pools (the shared pool) a rule asks a ``SharedPoolDeliveryMode`` with."""
        targets: list[Rule | DefaultRule] = [*self.rules, *filter(None, [self.default])]
        return {t.pool for t in targets if t.shared_pool_delivery_mode is not None}

    def pools(self) -> set[str]:
        """Every pool the document names."""
        named = {rule.pool for rule in self.rules}
        if self.default is not None:
            named.add(self.default.pool)
        return named

    def to_json(self) -> str:
        """The canonical JSON stored in SSM."""
        return self.model_dump_json(exclude_none=True)


class PolicyError(ValueError):
    """The policy document is unreadable or invalid; it must never be enforced."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def describe_errors(error: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """One line per problem: ``rules[1].pool: String should match pattern ..., got 'x y'``;
    an unknown field gets a "did you mean" from ``model``'s field names, when one is close."""
    lines = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not str(p).startswith("function-"))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field" + _did_you_mean(str(loc[-1]) if loc else "", model)
        elif item["type"] == "string_pattern_mismatch":
            message += f", got {item['input']!r}"
        lines.append(f"{_field_path(loc)}: {message}")
    return lines


def _did_you_mean(name: str, model: type[BaseModel] | None) -> str:
    import difflib  # only on an error: the functions' cold start does not pay for it

    if model is None:
        return ""
    close = difflib.get_close_matches(name, sorted(_field_names(model)), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every field name of ``model`` and of the models its fields hold."""
    import typing

    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    pending = [f.annotation for f in model.model_fields.values()]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _field_names(annotation, seen)
        pending.extend(typing.get_args(annotation))
    return names


def governs_identities(*policies: Policy | PolicyError | None) -> bool:
    """Whether any of ``policies`` governs sending identities: it has an ``identities``
    list, even an empty one (which asks only for the checks every identity gets: a
    default configuration set that no longer exists). Only then do the sweep and the
    CLI's scans read every identity, one SES call each."""
    return any(isinstance(p, Policy) and p.identities is not None for p in policies)


def parse_policy(text: str | bytes) -> Policy:
    """Validate a policy document written as YAML or JSON (JSON is YAML)."""
    try:
        data = documents.load(text)
    except documents.DuplicateKey as exc:
        raise PolicyError(str(exc)) from exc
    except documents.NotADocument as exc:
        raise PolicyError(f"policy is {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError("policy must be a mapping with 'version', 'rules', ...")
    if "AWSTemplateFormatVersion" in data or "Resources" in data:
        raise PolicyError(
            "policy is a CloudFormation template (it has "
            f"{'AWSTemplateFormatVersion' if 'AWSTemplateFormatVersion' in data else 'Resources'}"
            "), not a policy document"
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        errors = describe_errors(exc, Policy)
        raise PolicyError("invalid policy: " + "; ".join(errors), errors) from exc


def policy_json_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ses-pool-enforcer policy, version 1"
    return schema
