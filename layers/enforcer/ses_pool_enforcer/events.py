"""CloudTrail records of SES calls, as EventBridge delivers them, read defensively (SES
v1, v2 and Pinpoint Email spell things apart).

The envelope is a small pydantic model of its own rather than Powertools'
``EventBridgeModel``: importing that pulls in every parser model Powertools ships
(about 40 ms of every cold start) for the six fields used here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ses_pool_enforcer.conflicts import Observation
from ses_pool_enforcer.notices import Trigger

SES_EVENT_SOURCE = "ses.amazonaws.com"


class Target(StrEnum):
    CONFIGURATION_SET = "configuration_set"
    POOL = "pool"
    IDENTITY = "identity"
    # An IP moved between pools or its warm-up changed: the pool it left (or its pool) is
    # not in the record, so every pool a rule asks health of is looked at again.
    POOL_IPS = "pool_ips"
    # A tenant deleted: its sets, no longer listed under it, are looked at again.
    TENANT = "tenant"
    # An account-wide setting some rules' decisions lean on (the account's automatic IP
    # warm-up, its shared pool delivery mode): the record names no set or pool.
    ACCOUNT = "account"


# eventName -> what it touches and where its name may stand in ``requestParameters``
# (keys compared case-insensitively; each path is tried in turn). Data, not ifs.
EVENT_TARGETS: dict[str, tuple[Target, tuple[tuple[str, ...], ...]]] = {
    "CreateConfigurationSet": (
        Target.CONFIGURATION_SET,
        (("configurationSetName",), ("configurationSet", "name")),
    ),
    "PutConfigurationSetDeliveryOptions": (
        Target.CONFIGURATION_SET,
        (("configurationSetName",), ("configurationSet", "name")),
    ),
    "DeleteConfigurationSet": (
        Target.CONFIGURATION_SET,
        (("configurationSetName",), ("configurationSet", "name")),
    ),
    "TagResource": (Target.CONFIGURATION_SET, (("resourceArn",),)),
    "UntagResource": (Target.CONFIGURATION_SET, (("resourceArn",),)),
    # Sending identities: SES v2 (and Pinpoint Email) name them emailIdentity; SES v1
    # creates them by verifying an address or a domain and deletes them as "identity".
    "CreateEmailIdentity": (Target.IDENTITY, (("emailIdentity",),)),
    "PutEmailIdentityConfigurationSetAttributes": (Target.IDENTITY, (("emailIdentity",),)),
    "DeleteEmailIdentity": (Target.IDENTITY, (("emailIdentity",),)),
    "VerifyEmailIdentity": (Target.IDENTITY, (("emailAddress",),)),
    "VerifyDomainIdentity": (Target.IDENTITY, (("domain",),)),
    "DeleteIdentity": (Target.IDENTITY, (("identity",),)),
    "CreateDedicatedIpPool": (Target.POOL, (("poolName",),)),
    "DeleteDedicatedIpPool": (Target.POOL, (("poolName",),)),
    # A pool's state: its scaling mode, its IPs and their warm-up (pool_health rules).
    "PutDedicatedIpPoolScalingAttributes": (Target.POOL, (("poolName",),)),
    "PutDedicatedIpInPool": (Target.POOL_IPS, (("destinationPoolName",),)),
    "PutDedicatedIpWarmupAttributes": (Target.POOL_IPS, (("ip",),)),
    # A set's (or identity's) tenants: the ARN says which.
    "CreateTenantResourceAssociation": (Target.CONFIGURATION_SET, (("resourceArn",),)),
    "DeleteTenantResourceAssociation": (Target.CONFIGURATION_SET, (("resourceArn",),)),
    "DeleteTenant": (Target.TENANT, (("tenantName",),)),
    # Account-wide: named by the account the record is about (recipientAccountId).
    "PutAccountDedicatedIpWarmupAttributes": (Target.ACCOUNT, ()),
    "PutAccountDeliveryAttributes": (Target.ACCOUNT, ()),
}

# The calls that change what a sweep reads once for all its steps (adapters/sweep_view.py):
# the pools, their state, a resource's tenants. Each marks the lane's view stale.
SWEEP_VIEW_CHANGES = frozenset(
    {
        "CreateDedicatedIpPool",
        "DeleteDedicatedIpPool",
        "PutDedicatedIpPoolScalingAttributes",
        "PutDedicatedIpInPool",
        "PutDedicatedIpWarmupAttributes",
        "CreateTenantResourceAssociation",
        "DeleteTenantResourceAssociation",
        "DeleteTenant",
        "PutAccountDedicatedIpWarmupAttributes",
    }
)

ARN_PATH_KEYS = frozenset({"resourcearn"})
CONFIGURATION_SET_ARN_MARKER = ":configuration-set/"
IDENTITY_ARN_MARKER = ":identity/"


class CloudTrailDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    event_id: str | None = Field(default=None, alias="eventID")
    event_time: str | None = Field(default=None, alias="eventTime")
    aws_region: str | None = Field(default=None, alias="awsRegion")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId")
    error_code: str | None = Field(default=None, alias="errorCode")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    user_identity: dict[str, Any] | None = Field(default=None, alias="userIdentity")


class SesCloudTrailEvent(BaseModel):
    """An EventBridge event whose detail is a CloudTrail record; keeps id, account and
    region for correlation and alerts."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    account: str
    region: str
    time: dt.datetime
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: CloudTrailDetail


class Ignored(Exception):
    """An event that names nothing the enforcer manages: logged, counted, dropped."""


@dataclass(frozen=True)
class Change:
    """What one CloudTrail record asks the enforcer to look at."""

    target: Target
    name: str
    trigger: Trigger
    observation: Observation | None = None  # the delivery options it asked for, if any


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        folded = {str(k).lower(): v for k, v in value.items()}
        value = folded.get(key.lower())
    return value


def _tagged(arn: str, event_name: str) -> tuple[Target, str]:
    """What a tag call's resource ARN names: a configuration set or an identity."""
    name = configuration_set_from_arn(arn)
    if name is not None:
        return Target.CONFIGURATION_SET, name
    if arn.startswith("arn:") and IDENTITY_ARN_MARKER in arn:
        identity = arn.split(IDENTITY_ARN_MARKER, 1)[1]
        if identity:
            return Target.IDENTITY, identity
    raise Ignored(f"{event_name} on {arn}, which is not a configuration set or an identity")


def configuration_set_from_arn(arn: str) -> str | None:
    if not arn.startswith("arn:") or CONFIGURATION_SET_ARN_MARKER not in arn:
        return None
    return arn.split(CONFIGURATION_SET_ARN_MARKER, 1)[1] or None


# requestParameters keys of a delivery options call (v2 flat, v1 under deliveryOptions),
# folded to lower case, and the API's names for them. The pool is the policy's business.
REQUESTED_OPTIONS = {
    "tlspolicy": "TlsPolicy",
    "maxdeliveryseconds": "MaxDeliverySeconds",
    "sharedpooldeliverymode": "SharedPoolDeliveryMode",
}


def observation_of(detail: CloudTrailDetail) -> Observation | None:
    """The delivery options a PutConfigurationSetDeliveryOptions record asked for."""
    if detail.event_name != "PutConfigurationSetDeliveryOptions" or not detail.event_time:
        return None
    params = detail.request_parameters or {}
    nested = _lookup(params, ("deliveryOptions",))
    options: dict[str, Any] = {}
    for source in (params, nested if isinstance(nested, Mapping) else {}):
        for key, value in source.items():
            name = REQUESTED_OPTIONS.get(str(key).lower())
            if name is not None and isinstance(value, str | int) and not isinstance(value, bool):
                # SES v1 spells enum values "Require"; v2, which the enforcer reads, "REQUIRE".
                options[name] = value.upper() if isinstance(value, str) else value
    if not options:
        return None
    try:
        at = dt.datetime.fromisoformat(detail.event_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return Observation(at, actor_of(detail), options)


def change_from(event: SesCloudTrailEvent) -> Change:
    """What to look at. Raises Ignored with the cause for anything else."""
    detail = event.detail
    if detail.event_source != SES_EVENT_SOURCE:
        raise Ignored(f"event source {detail.event_source} is not SES")
    if detail.error_code:
        raise Ignored(f"{detail.event_name} failed with {detail.error_code}; nothing changed")
    if detail.event_name not in EVENT_TARGETS:
        raise Ignored(f"{detail.event_name} does not change a configuration set or pool")
    target, paths = EVENT_TARGETS[detail.event_name]
    if target is Target.ACCOUNT:
        trigger = trigger_of(event)
        return Change(target, trigger.account or event.account, trigger)
    params = detail.request_parameters or {}
    for path in paths:
        value = _lookup(params, path)
        if not isinstance(value, str) or not value:
            continue
        if path[-1].lower() in ARN_PATH_KEYS:
            target, name = _tagged(value, detail.event_name)
        else:
            name = value
        return Change(target, name, trigger_of(event), observation_of(detail))
    raise Ignored(f"{detail.event_name} carries no {target.value} name in requestParameters")


def role_of(detail: CloudTrailDetail) -> str | None:
    issuer = _lookup(detail.user_identity or {}, ("sessionContext", "sessionIssuer", "arn"))
    return str(issuer) if issuer else None


def actor_of(detail: CloudTrailDetail) -> str | None:
    identity = detail.user_identity or {}
    issuer = _lookup(identity, ("sessionContext", "sessionIssuer", "arn"))
    arn = identity.get("arn") or issuer or identity.get("principalId")
    return str(arn) if arn else None


def trigger_of(event: SesCloudTrailEvent) -> Trigger:
    detail = event.detail
    return Trigger(
        source="event",
        account=detail.recipient_account_id or event.account,
        region=detail.aws_region or event.region,
        actor=actor_of(detail),
        actor_role=role_of(detail),
        event_id=detail.event_id or event.id,
        event_name=detail.event_name,
        event_time=detail.event_time or event.time.isoformat(),
    )
