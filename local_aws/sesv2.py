"""Fill moto's SES v2 gaps so that it behaves as real SES does.

What :func:`install` changes (shapes checked against the botocore ``sesv2`` model):

* ``PutConfigurationSetDeliveryOptions`` (moto: NotImplementedError). An overwrite, as
  the API reference describes each field: ``TlsPolicy``, ``SendingPoolName`` and
  ``MaxDeliverySeconds`` not sent are reset (OPTIONAL, the default pool, unset);
  ``SharedPoolDeliveryMode`` not sent keeps its current value ("If you don't specify a
  value, the current value doesn't change"). Unknown set or unknown pool ->
  ``NotFoundException``; ``ses-default-dedicated-pool`` and ``ses-shared-pool`` are accepted.
* ``CreateConfigurationSet`` rejects an unknown ``SendingPoolName`` (``NotFoundException``)
  and answers a duplicate name with ``AlreadyExistsException`` (moto: a code SES v2 lacks).
* ``GetConfigurationSet`` returns the set's current ``Tags`` (moto returned the creation
  tags, blind to ``TagResource``/``UntagResource``) and ``SendingEnabled`` true by default.
  ``DeleteConfigurationSet`` of an unknown set -> ``NotFoundException``; deleting a set
  drops its tags.
* Dedicated IP pools: the two special names can be neither fetched (``NotFoundException``)
  nor created (``AlreadyExistsException``); a duplicate create -> ``AlreadyExistsException``;
  ``ScalingMode`` defaults to STANDARD; deleting an unknown pool -> ``NotFoundException``;
  configuration sets that named a deleted pool keep the dangling name, as in SES.
* ``PutDedicatedIpInPool`` records the IP in the pool (an IP first seen is fully warm,
  100 %, as a long-held IP is); ``GetDedicatedIps`` (``PoolName`` optional) lists them with
  their warm-up as ``DedicatedIp`` documents it: ``WarmupStatus`` IN_PROGRESS below 100 %,
  DONE at 100 %, and NOT_APPLICABLE with ``WarmupPercentage`` -1 in a MANAGED pool, whose
  warm-up SES handles. ``PutDedicatedIpWarmupAttributes`` sets an IP's percentage (0-100,
  else ``BadRequestException``; unknown IP -> ``NotFoundException``).
  ``PutDedicatedIpPoolScalingAttributes`` turns a STANDARD pool MANAGED; MANAGED cannot go
  back ("MANAGED pools cannot be converted to STANDARD scaling mode":
  ``BadRequestException``); unknown or special pool -> ``NotFoundException``. (moto cannot
  allocate dedicated IPs, so any IP is accepted; the IPs of a deleted pool fall back to
  ``ses-default-dedicated-pool``.)
* Tenants (moto has none): ``CreateTenant`` (name: up to 64 letters, digits, ``-``, ``_``;
  a duplicate -> ``AlreadyExistsException``; ``SendingStatus`` ENABLED), ``GetTenant``,
  ``ListTenants``, ``DeleteTenant`` (its associations go, its resources stay),
  ``CreateTenantResourceAssociation`` (the tenant and the resource, a configuration set,
  identity or template, must exist: ``NotFoundException``; an existing association ->
  ``AlreadyExistsException``), ``DeleteTenantResourceAssociation``, ``ListTenantResources``
  (``Filter`` ``RESOURCE_TYPE``) and ``ListResourceTenants``, all paged. A deleted
  configuration set or identity leaves its tenants. SES sets a tenant's sending status
  itself (reputation findings): :func:`set_tenant_sending_status` stands in for it.
* ``PageSize``/``NextToken`` on ``ListConfigurationSets``, ``ListDedicatedIpPools`` and
  ``GetDedicatedIps``: lists are sorted by name and the token names the last item
  returned, so pages are stable and complete. Default page size 100; larger requests are
  capped at 1000 (the SES v1 documented page maximum; v2 documents none).
* Email identities: ``PutEmailIdentityConfigurationSetAttributes`` (moto: not
  implemented) sets the identity's default configuration set, or removes it when none is
  named; an unknown identity or set -> ``NotFoundException``. ``GetEmailIdentity``
  returns the identity's current ``Tags`` and ``ConfigurationSetName``.
  ``CreateEmailIdentity`` refuses an unknown ``ConfigurationSetName``. Deleting a
  configuration set leaves the identities that used it as their default naming it, as
  SES does (their sends then fail). ``ListEmailIdentities`` pages with ``PageSize`` and
  ``NextToken`` like the other lists.
* Optional throttling of every SES v2 operation (:func:`set_throttle`), answered like
  SES: HTTP 429, ``TooManyRequestsException``, ``{"message": "Rate exceeded"}``; one
  limit for all callers, or (``per_lane=True``) one per account and region, as SES's
  sending quotas are. :func:`lane_call_counts` and :func:`lane_throttle_stats` tell the
  calls apart by account and region.
* Optionally, ``ListDedicatedIpPools`` lists the special pools too
  (:func:`set_special_pools_listed`), as SES may.

This module is for tests, benchmarks and the local demo endpoint only.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

SPECIAL_POOL_NAMES: Final = frozenset({"ses-default-dedicated-pool", "ses-shared-pool"})
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000

_TLS_POLICIES: Final = frozenset({"REQUIRE", "OPTIONAL"})
_SHARED_POOL_DELIVERY_MODES: Final = frozenset({"GLOBAL", "REGIONAL", "ACCOUNT"})
# Options a Put leaves as they are when it does not name them (the API reference says so
# for these; the others are reset).
_KEPT_WHEN_OMITTED: Final = ("SharedPoolDeliveryMode",)
_MIN_DELIVERY_SECONDS: Final = 300
_MAX_DELIVERY_SECONDS: Final = 50400
_DEDICATED_IPS_ATTR: Final = "_local_aws_dedicated_ips"
_WARMUP_ATTR: Final = "_local_aws_warmup"
_TENANTS_ATTR: Final = "_local_aws_tenants"
_TENANT_INFO_AS_DOCUMENTED_ATTR: Final = "_local_aws_tenant_info_as_documented"
_SCALING_MODES: Final = frozenset({"STANDARD", "MANAGED"})
_SENDING_STATUSES: Final = frozenset({"ENABLED", "REINSTATED", "DISABLED"})
_TENANT_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# ResourceType of the ARN's resource part, as ListTenantResources names it.
_TENANT_RESOURCE_TYPES: Final = {
    "configuration-set": "CONFIGURATION_SET",
    "identity": "EMAIL_IDENTITY",
    "template": "EMAIL_TEMPLATE",
}

# Nested paths moto's server URL map lacks (mock_aws itself routes by its "/v2/.*" entry).
_EXTRA_URL_PATHS: Final = (
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/delivery-options$",
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/configuration-set$",
    "{0}/v2/email/dedicated-ips$",
    "{0}/v2/email/dedicated-ips/(?P<IP>[^/]+)/pool$",
    "{0}/v2/email/dedicated-ips/(?P<IP>[^/]+)/warmup$",
    "{0}/v2/email/dedicated-ip-pools/(?P<PoolName>[^/]+)/scaling$",
    "{0}/v2/email/tenants$",
    "{0}/v2/email/tenants/get$",
    "{0}/v2/email/tenants/delete$",
    "{0}/v2/email/tenants/list$",
    "{0}/v2/email/tenants/resources$",
    "{0}/v2/email/tenants/resources/delete$",
    "{0}/v2/email/tenants/resources/list$",
    "{0}/v2/email/resources/tenants/list$",
)

_install_lock = threading.Lock()
_installed = False
_special_pools_listed = False


# --------------------------------------------------------------------------- throttling


@dataclass(frozen=True)
class ThrottleStats:
    """Counts of SES v2 calls let through and refused since the last reset."""

    accepted: int
    throttled: int


class _TokenBucket:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._capacity = 0.0
        self._tokens = 0.0
        self._stamp = 0.0
        self._accepted = 0
        self._throttled = 0

    def configure(self, rate: float | None, burst: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("calls_per_second must be positive or None")
        with self._lock:
            self._rate = rate
            self._capacity = max(1.0, burst if burst is not None else (rate or 0.0))
            self._tokens = self._capacity
            self._stamp = time.monotonic()

    def try_acquire(self) -> bool:
        with self._lock:
            if self._rate is not None:
                now = time.monotonic()
                elapsed = now - self._stamp
                self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
                self._stamp = now
                if self._tokens < 1.0:
                    self._throttled += 1
                    return False
                self._tokens -= 1.0
            self._accepted += 1
            return True

    def count_throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def stats(self) -> ThrottleStats:
        with self._lock:
            return ThrottleStats(accepted=self._accepted, throttled=self._throttled)

    def reset(self) -> None:
        self.configure(None, None)
        with self._lock:
            self._accepted = 0
            self._throttled = 0


_bucket = _TokenBucket()
# (account, region) -> its own bucket, when each lane is throttled apart (set_throttle)
_lane_buckets: dict[tuple[str, str], _TokenBucket] = {}
_lane_limit: list[tuple[float, float | None] | None] = [None]  # (rate, burst) per lane


def set_throttle(
    calls_per_second: float | None, burst: float | None = None, *, per_lane: bool = False
) -> None:
    """Throttle all SES v2 operations with a token bucket, or stop throttling (None).

    The bucket holds ``burst`` tokens (default: ``max(1, calls_per_second)``), starts
    full and refills at ``calls_per_second``. A call finding it empty gets HTTP 429
    ``TooManyRequestsException`` and has no effect. With ``per_lane``, each account and
    region has a bucket of its own (SES's limits are per account and region) instead of
    one for all. Thread-safe; needs :func:`install`.
    """
    with _counts_lock:
        if per_lane and calls_per_second is not None:
            _bucket.configure(None, None)
            _lane_limit[0] = (calls_per_second, burst)
            for lane_bucket in _lane_buckets.values():
                lane_bucket.configure(calls_per_second, burst)
        else:
            _bucket.configure(calls_per_second, burst)
            _lane_limit[0] = None
            for lane_bucket in _lane_buckets.values():
                lane_bucket.configure(None, None)


def _bucket_of(lane: tuple[str, str]) -> _TokenBucket:
    """The bucket that decides a call of ``lane``: its own when lanes are throttled apart."""
    with _counts_lock:
        limit = _lane_limit[0]
        if limit is None:
            return _bucket
        lane_bucket = _lane_buckets.get(lane)
        if lane_bucket is None:
            lane_bucket = _lane_buckets[lane] = _TokenBucket()
            lane_bucket.configure(*limit)
        return lane_bucket


def throttle_stats() -> ThrottleStats:
    """SES v2 calls accepted and throttled since the last :func:`reset` (every lane)."""
    stats = [_bucket.stats(), *lane_throttle_stats().values()]
    return ThrottleStats(
        accepted=sum(s.accepted for s in stats), throttled=sum(s.throttled for s in stats)
    )


def lane_throttle_stats() -> dict[tuple[str, str], ThrottleStats]:
    """(account, region) -> calls its own bucket let through and refused (``per_lane``)."""
    with _counts_lock:
        buckets = dict(_lane_buckets)
    return {lane: lane_bucket.stats() for lane, lane_bucket in buckets.items()}


_counts: Counter[str] = Counter()
_throttled_counts: Counter[str] = Counter()
_lane_counts: Counter[tuple[str, str]] = Counter()
_counts_lock = threading.Lock()
_calls_seen = 0
_throttle_every: int | None = None


def set_throttle_every(every: int | None) -> None:
    """Answer every ``every``-th SES v2 call with 429, whatever the rate: another tenant
    of the account's budget, at a known proportion (None: off)."""
    global _throttle_every, _calls_seen
    if every is not None and every < 2:
        raise ValueError("every must be at least 2 (or None)")
    with _counts_lock:
        _throttle_every = every
        _calls_seen = 0


def call_counts() -> dict[str, int]:
    """SES v2 requests received per operation (throttled ones included) since reset."""
    with _counts_lock:
        return dict(_counts)


def throttled_counts() -> dict[str, int]:
    """SES v2 requests answered 429 per operation since reset (counted in
    :func:`call_counts` too)."""
    with _counts_lock:
        return dict(_throttled_counts)


def lane_call_counts() -> dict[tuple[str, str], int]:
    """SES v2 requests received per (account, region) (throttled ones included) since reset."""
    with _counts_lock:
        return dict(_lane_counts)


def set_special_pools_listed(enabled: bool = True) -> None:
    """Make ``ListDedicatedIpPools`` list the two special pools too, as SES may."""
    global _special_pools_listed
    _special_pools_listed = enabled


def reset() -> None:
    """Stop throttling, zero the counters and stop listing the special pools.

    moto's own state is not touched (``mock_aws`` resets it per context).
    """
    global _special_pools_listed
    _bucket.reset()
    set_throttle_every(None)
    with _counts_lock:
        _lane_limit[0] = None
        _lane_buckets.clear()
        _counts.clear()
        _throttled_counts.clear()
        _lane_counts.clear()
    _special_pools_listed = False


# --------------------------------------------------------------------------- errors


def _error(code: str, message: str, status: int = 400) -> Exception:
    from moto.core.exceptions import JsonRESTError

    err: Exception = JsonRESTError(code, message)
    err.code = status  # type: ignore[attr-defined]
    return err


def _not_found(message: str) -> Exception:
    return _error("NotFoundException", message, 404)


def _bad_request(message: str) -> Exception:
    return _error("BadRequestException", message)


# --------------------------------------------------------------------------- helpers


def _core(resp: Any) -> Any:
    return resp.sesv2_backend.core_backend


def _arn(resp: Any, resource: str) -> str:
    backend = resp.sesv2_backend
    return f"arn:{backend.partition}:ses:{backend.region_name}:{backend.account_id}:{resource}"


def _body(resp: Any) -> dict[str, Any]:
    if not resp.body:
        return {}
    try:
        data = json.loads(resp.body)
    except ValueError as exc:
        raise _bad_request("Request body is not valid JSON.") from exc
    return data if isinstance(data, dict) else {}


def _get_set(resp: Any, name: str) -> Any:
    config_set = _core(resp).config_sets.get(name)
    if config_set is None:
        raise _not_found(f"Configuration set <{name}> does not exist.")
    return config_set


def _require_pool(resp: Any, pool_name: str) -> None:
    if pool_name not in SPECIAL_POOL_NAMES and pool_name not in _core(resp).dedicated_ip_pools:
        raise _not_found(f"Pool {pool_name} does not exist.")


def _delivery_options(resp: Any, given: dict[str, Any]) -> dict[str, Any]:
    """Validate DeliveryOptions and keep exactly the known fields that were sent."""
    options: dict[str, Any] = {}
    tls = given.get("TlsPolicy")
    if tls is not None:
        if tls not in _TLS_POLICIES:
            raise _bad_request(f"Invalid TlsPolicy: {tls}")
        options["TlsPolicy"] = tls
    pool = given.get("SendingPoolName")
    if pool is not None:
        _require_pool(resp, str(pool))
        options["SendingPoolName"] = pool
    seconds = given.get("MaxDeliverySeconds")
    if seconds is not None:
        if not isinstance(seconds, int) or not (
            _MIN_DELIVERY_SECONDS <= seconds <= _MAX_DELIVERY_SECONDS
        ):
            raise _bad_request(f"MaxDeliverySeconds out of range: {seconds}")
        options["MaxDeliverySeconds"] = seconds
    mode = given.get("SharedPoolDeliveryMode")
    if mode is not None:
        if mode not in _SHARED_POOL_DELIVERY_MODES:
            raise _bad_request(f"Invalid SharedPoolDeliveryMode: {mode}")
        options["SharedPoolDeliveryMode"] = mode
    return options


def _encode_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_key}).encode()).decode()


def _decode_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise _bad_request("Invalid NextToken.") from exc
    if not isinstance(after, str):
        raise _bad_request("Invalid NextToken.")
    return after


def _paginate(resp: Any, keys: list[str]) -> tuple[list[str], str | None]:
    """One page of sorted ``keys`` after the request's NextToken, and the next token."""
    raw_size = resp._get_param("PageSize")
    try:
        size = DEFAULT_PAGE_SIZE if raw_size is None else int(raw_size)
    except (TypeError, ValueError) as exc:
        raise _bad_request(f"Invalid PageSize: {raw_size}") from exc
    if size < 1:
        raise _bad_request(f"Invalid PageSize: {size}")
    size = min(size, MAX_PAGE_SIZE)
    ordered = sorted(keys)
    token = resp._get_param("NextToken")
    start = bisect.bisect_right(ordered, _decode_token(str(token))) if token else 0
    page = ordered[start : start + size]
    more = start + size < len(ordered)
    return page, (_encode_token(page[-1]) if more and page else None)


def _page_response(key: str, items: list[Any], next_token: str | None) -> str:
    out: dict[str, Any] = {key: items}
    if next_token is not None:
        out["NextToken"] = next_token
    return json.dumps(out)


def _dedicated_ips(resp: Any) -> dict[str, str]:
    """IP -> pool name, kept on the (per account and region) SES v2 backend."""
    backend = resp.sesv2_backend
    ips: dict[str, str] | None = getattr(backend, _DEDICATED_IPS_ATTR, None)
    if ips is None:
        ips = {}
        setattr(backend, _DEDICATED_IPS_ATTR, ips)
    return ips


# --------------------------------------------------------------------------- responses

_originals: dict[str, Callable[..., Any]] = {}


def _create_configuration_set(self: Any) -> Any:
    name = self._get_param("ConfigurationSetName")
    if name in _core(self).config_sets:
        raise _error("AlreadyExistsException", f"Configuration set <{name}> already exists.")
    delivery = self._get_param("DeliveryOptions")
    if isinstance(delivery, dict):
        _delivery_options(self, delivery)
    return _originals["create_configuration_set"](self)


def _get_configuration_set(self: Any) -> str:
    name = self._get_param("ConfigurationSetName")
    config_set = _get_set(self, name)
    out: dict[str, Any] = config_set.to_dict_v2()
    enabled = config_set.enabled
    if isinstance(enabled, dict):
        enabled = enabled.get("SendingEnabled", True)
    out["SendingOptions"] = {"SendingEnabled": bool(enabled)}
    tags = _core(self).tagger.list_tags_for_resource(_arn(self, f"configuration-set/{name}"))
    out["Tags"] = tags.get("Tags", [])
    return json.dumps(out)


def _delete_configuration_set(self: Any) -> str:
    name = self._get_param("ConfigurationSetName")
    _get_set(self, name)
    core = _core(self)
    core.config_sets.pop(name)
    core.tagger.delete_all_tags_for_resource(_arn(self, f"configuration-set/{name}"))
    return "{}"


def _put_configuration_set_delivery_options(self: Any) -> str:
    config_set = _get_set(self, self._get_param("ConfigurationSetName"))
    options = _delivery_options(self, _body(self))
    current = config_set.delivery_options or {}
    for kept in _KEPT_WHEN_OMITTED:
        if kept not in options and kept in current:
            options[kept] = current[kept]
    config_set.delivery_options = options
    return "{}"


def _list_configuration_sets(self: Any) -> str:
    page, token = _paginate(self, list(_core(self).config_sets))
    return _page_response("ConfigurationSets", page, token)


def _create_dedicated_ip_pool(self: Any) -> Any:
    name = self._get_param("PoolName")
    if name in SPECIAL_POOL_NAMES or name in _core(self).dedicated_ip_pools:
        raise _error("AlreadyExistsException", f"Pool {name} already exists.")
    result = _originals["create_dedicated_ip_pool"](self)
    pool = _core(self).dedicated_ip_pools.get(name)
    if pool is not None and not pool.scaling_mode:
        pool.scaling_mode = "STANDARD"
    return result


def _get_dedicated_ip_pool(self: Any) -> str:
    name = self._get_param("PoolName")
    pool = None if name in SPECIAL_POOL_NAMES else _core(self).dedicated_ip_pools.get(name)
    if pool is None:
        raise _not_found(f"Pool {name} does not exist.")
    return json.dumps(
        {"DedicatedIpPool": {"PoolName": name, "ScalingMode": pool.scaling_mode or "STANDARD"}}
    )


def _delete_dedicated_ip_pool(self: Any) -> str:
    name = self._get_param("PoolName")
    core = _core(self)
    if name not in core.dedicated_ip_pools:
        raise _not_found(f"Pool {name} does not exist.")
    core.dedicated_ip_pools.pop(name)
    core.tagger.delete_all_tags_for_resource(_arn(self, f"dedicated-ip-pool/{name}"))
    ips = _dedicated_ips(self)
    for ip in [ip for ip, pool in ips.items() if pool == name]:
        ips[ip] = "ses-default-dedicated-pool"
    return "{}"


def _list_dedicated_ip_pools(self: Any) -> str:
    names = list(_core(self).dedicated_ip_pools)
    if _special_pools_listed:
        names += sorted(SPECIAL_POOL_NAMES)
    page, token = _paginate(self, names)
    return _page_response("DedicatedIpPools", page, token)


def _warmup(resp: Any) -> dict[str, int]:
    """IP -> warm-up percentage set for it (absent: 100), per account and region."""
    backend = resp.sesv2_backend
    warmup: dict[str, int] | None = getattr(backend, _WARMUP_ATTR, None)
    if warmup is None:
        warmup = {}
        setattr(backend, _WARMUP_ATTR, warmup)
    return warmup


def _scaling_mode(resp: Any, pool_name: str) -> str:
    pool = _core(resp).dedicated_ip_pools.get(pool_name)
    return str(getattr(pool, "scaling_mode", None) or "STANDARD") if pool else "STANDARD"


def _dedicated_ip(resp: Any, ip: str, pool: str) -> dict[str, Any]:
    """One ``DedicatedIp`` as the API reference describes its fields."""
    if _scaling_mode(resp, pool) == "MANAGED":
        status, percentage = "NOT_APPLICABLE", -1
    else:
        percentage = _warmup(resp).get(ip, 100)
        status = "DONE" if percentage >= 100 else "IN_PROGRESS"
    return {"Ip": ip, "WarmupStatus": status, "WarmupPercentage": percentage, "PoolName": pool}


def _ip_param(resp: Any) -> str:
    ip = resp._get_param("IP") or resp._get_param("Ip")
    if not ip:
        raise _bad_request("Ip is required.")
    return str(ip)


def _put_dedicated_ip_in_pool(self: Any) -> str:
    ip = _ip_param(self)
    destination = _body(self).get("DestinationPoolName")
    if not isinstance(destination, str):
        raise _bad_request("Ip and DestinationPoolName are required.")
    _require_pool(self, destination)
    _dedicated_ips(self)[ip] = destination
    return "{}"


def _get_dedicated_ips(self: Any) -> str:
    pool = self._get_param("PoolName")
    ips = _dedicated_ips(self)
    if pool is not None:
        _require_pool(self, str(pool))
    keys = [ip for ip, ip_pool in ips.items() if pool is None or ip_pool == pool]
    page, token = _paginate(self, keys)
    items = [_dedicated_ip(self, ip, ips[ip]) for ip in page]
    return _page_response("DedicatedIps", items, token)


def _put_dedicated_ip_warmup_attributes(self: Any) -> str:
    ip = _ip_param(self)
    percentage = _body(self).get("WarmupPercentage")
    if (
        isinstance(percentage, bool)
        or not isinstance(percentage, int)
        or not 0 <= percentage <= 100
    ):
        raise _bad_request(f"Invalid WarmupPercentage: {percentage}")
    if ip not in _dedicated_ips(self):
        raise _not_found(f"Dedicated IP {ip} does not exist.")
    _warmup(self)[ip] = percentage
    return "{}"


def _put_dedicated_ip_pool_scaling_attributes(self: Any) -> str:
    name = self._get_param("PoolName")
    mode = _body(self).get("ScalingMode")
    if mode not in _SCALING_MODES:
        raise _bad_request(f"Invalid ScalingMode: {mode}")
    pool = None if name in SPECIAL_POOL_NAMES else _core(self).dedicated_ip_pools.get(name)
    if pool is None:
        raise _not_found(f"Pool {name} does not exist.")
    if (pool.scaling_mode or "STANDARD") == "MANAGED" and mode == "STANDARD":
        raise _bad_request("MANAGED pools cannot be converted to STANDARD scaling mode.")
    pool.scaling_mode = mode
    return "{}"


# --------------------------------------------------------------------------- tenants


@dataclass
class _Tenant:
    name: str
    tenant_id: str
    arn: str
    created: float
    tags: list[dict[str, str]]
    sending_status: str = "ENABLED"
    # resource ARN -> (ResourceType, AssociatedTimestamp)
    resources: dict[str, tuple[str, float]] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {
            "TenantName": self.name,
            "TenantId": self.tenant_id,
            "TenantArn": self.arn,
            "CreatedTimestamp": self.created,
            "SendingStatus": self.sending_status,
        }


def _tenants_of(backend: Any) -> dict[str, _Tenant]:
    tenants: dict[str, _Tenant] | None = getattr(backend, _TENANTS_ATTR, None)
    if tenants is None:
        tenants = {}
        setattr(backend, _TENANTS_ATTR, tenants)
    return tenants


def _tenant_name(resp: Any) -> str:
    name = _body(resp).get("TenantName")
    if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
        raise _bad_request(
            f"Invalid TenantName: {name!r} (up to 64 letters, digits, hyphens and underscores)"
        )
    return name


def _get_tenant_of(resp: Any) -> _Tenant:
    name = _tenant_name(resp)
    tenant = _tenants_of(resp.sesv2_backend).get(name)
    if tenant is None:
        raise _not_found(f"Tenant {name} does not exist.")
    return tenant


def _resource(resp: Any) -> tuple[str, str]:
    """The request's ``ResourceArn`` and its ResourceType; NotFound if it does not exist."""
    arn = _body(resp).get("ResourceArn")
    prefix = _arn(resp, "")
    if not isinstance(arn, str) or not arn:
        raise _bad_request("ResourceArn is required.")
    kind, _, name = arn.removeprefix(prefix).partition("/")
    resource_type = _TENANT_RESOURCE_TYPES.get(kind) if arn.startswith(prefix) else None
    if resource_type is None or not name:
        raise _bad_request(f"ResourceArn {arn} is not a configuration set, identity or template.")
    core = _core(resp)
    known = {"configuration-set": core.config_sets, "identity": core.email_identities}
    if name not in known.get(kind, core.templates):
        raise _not_found(f"Resource {arn} does not exist.")
    return arn, resource_type


def _create_tenant(self: Any) -> str:
    name = _tenant_name(self)
    tenants = _tenants_of(self.sesv2_backend)
    if name in tenants:
        raise _error("AlreadyExistsException", f"Tenant {name} already exists.")
    tenant_id = "tn-" + uuid.uuid4().hex[:24]
    tags = _body(self).get("Tags") or []
    tenant = tenants[name] = _Tenant(
        name, tenant_id, _arn(self, f"tenant/{name}/{tenant_id}"), time.time(), list(tags)
    )
    return json.dumps({**tenant.info(), "Tags": tenant.tags})


def _get_tenant(self: Any) -> str:
    tenant = _get_tenant_of(self)
    return json.dumps({"Tenant": {**tenant.info(), "Tags": tenant.tags}})


def _delete_tenant(self: Any) -> str:
    tenant = _get_tenant_of(self)
    del _tenants_of(self.sesv2_backend)[tenant.name]
    return "{}"


def _list_tenants(self: Any) -> str:
    tenants = _tenants_of(self.sesv2_backend)
    page, token = _paginate(self, list(tenants))
    infos = [tenants[name].info() for name in page]
    if getattr(self.sesv2_backend, _TENANT_INFO_AS_DOCUMENTED_ATTR, False):
        for info in infos:
            del info["SendingStatus"]
    return _page_response("Tenants", infos, token)


def _create_tenant_resource_association(self: Any) -> str:
    tenant = _get_tenant_of(self)
    arn, resource_type = _resource(self)
    if arn in tenant.resources:
        raise _error("AlreadyExistsException", f"{arn} is already associated with {tenant.name}.")
    tenant.resources[arn] = (resource_type, time.time())
    return "{}"


def _delete_tenant_resource_association(self: Any) -> str:
    tenant = _get_tenant_of(self)
    arn = _body(self).get("ResourceArn")
    if arn not in tenant.resources:
        raise _not_found(f"{arn} is not associated with tenant {tenant.name}.")
    del tenant.resources[arn]
    return "{}"


def _list_tenant_resources(self: Any) -> str:
    tenant = _get_tenant_of(self)
    wanted = (_body(self).get("Filter") or {}).get("RESOURCE_TYPE")
    if wanted is not None and wanted not in _TENANT_RESOURCE_TYPES.values():
        raise _bad_request(f"Invalid RESOURCE_TYPE filter: {wanted}")
    arns = [a for a, (kind, _) in tenant.resources.items() if wanted in (None, kind)]
    page, token = _paginate(self, arns)
    items = [{"ResourceType": tenant.resources[a][0], "ResourceArn": a} for a in page]
    return _page_response("TenantResources", items, token)


def _list_resource_tenants(self: Any) -> str:
    arn, _ = _resource(self)
    tenants = {t.name: t for t in _tenants_of(self.sesv2_backend).values() if arn in t.resources}
    page, token = _paginate(self, list(tenants))
    items = [
        {
            "TenantName": name,
            "TenantId": tenants[name].tenant_id,
            "ResourceArn": arn,
            "AssociatedTimestamp": tenants[name].resources[arn][1],
        }
        for name in page
    ]
    return _page_response("ResourceTenants", items, token)


def list_tenants_as_documented(
    on: bool = True, *, account_id: str = "123456789012", region: str = "us-east-1"
) -> None:
    """Answer ListTenants as the API reference documents its entries (TenantInfo,
    https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_TenantInfo.html: name, id,
    ARN, creation time, and no ``SendingStatus``), not as botocore's model does (which
    adds ``SendingStatus``): a client must then ask ``GetTenant`` for the status."""
    from moto.sesv2.models import sesv2_backends

    setattr(sesv2_backends[account_id][region], _TENANT_INFO_AS_DOCUMENTED_ATTR, on)


def set_tenant_sending_status(
    name: str, status: str, *, account_id: str = "123456789012", region: str = "us-east-1"
) -> None:
    """What SES does itself when a tenant's reputation findings disable (or an operator
    reinstates) it: there is no API call that sets ``SendingStatus``."""
    from moto.sesv2.models import sesv2_backends

    if status not in _SENDING_STATUSES:
        raise ValueError(f"SendingStatus must be one of {sorted(_SENDING_STATUSES)}")
    _tenants_of(sesv2_backends[account_id][region])[name].sending_status = status


def _get_identity(resp: Any, name: str) -> Any:
    identity = _core(resp).email_identities.get(name)
    if identity is None:
        raise _not_found(f"Email identity <{name}> does not exist.")
    return identity


def _create_email_identity(self: Any) -> Any:
    name = self._get_param("ConfigurationSetName")
    if name is not None:
        _get_set(self, name)
    return _originals["create_email_identity"](self)


def _get_email_identity(self: Any) -> str:
    name = self._get_param("EmailIdentity")
    identity = _get_identity(self, name)
    out: dict[str, Any] = dict(identity.get_response_object)
    tags = _core(self).tagger.list_tags_for_resource(_arn(self, f"identity/{name}"))
    out["Tags"] = tags.get("Tags", []) or (identity.tags or [])
    if not identity.configuration_set_name:
        out.pop("ConfigurationSetName", None)
    return json.dumps(out)


def _put_email_identity_configuration_set_attributes(self: Any) -> str:
    identity = _get_identity(self, self._get_param("EmailIdentity"))
    name = _body(self).get("ConfigurationSetName")
    if name is not None:
        _get_set(self, str(name))
    identity.configuration_set_name = name
    return "{}"


def _list_email_identities(self: Any) -> str:
    identities = _core(self).email_identities
    page, token = _paginate(self, list(identities))
    items = [identities[name].list_response_object for name in page]
    return _page_response("EmailIdentities", items, token)


def _call_action(self: Any) -> Any:
    global _calls_seen
    lane = (str(self.current_account), str(self.region))
    with _counts_lock:
        _counts[str(self._get_action())] += 1
        _lane_counts[lane] += 1
        _calls_seen += 1
        storm_hit = _throttle_every is not None and _calls_seen % _throttle_every == 0
    bucket = _bucket_of(lane)
    if storm_hit:
        bucket.count_throttled()
    if storm_hit or not bucket.try_acquire():
        with _counts_lock:
            _throttled_counts[str(self._get_action())] += 1
        headers = {
            "status": "429",
            "Content-Type": "application/json",
            "X-Amzn-ErrorType": "TooManyRequestsException",
        }
        return 429, headers, json.dumps({"message": "Rate exceeded"})
    answer = _originals["call_action"](self)
    if _listeners and _succeeded(answer):
        call = SesCall(
            action=str(self._get_action()),
            account=lane[0],
            region=lane[1],
            parameters={k: v for k in _CALL_KEYS if (v := self._get_param(k)) is not None},
        )
        for listener in list(_listeners):
            listener(call)
    return answer


@dataclass(frozen=True)
class SesCall:
    """A successful SES v2 call, as CloudTrail would record it: the action, where, and
    the names it was about (``ConfigurationSetName``, ``PoolName``, ``EmailIdentity``,
    ``ResourceArn``, whichever the call had)."""

    action: str
    account: str
    region: str
    parameters: dict[str, str]


_CALL_KEYS: Final = ("ConfigurationSetName", "PoolName", "EmailIdentity", "ResourceArn")
_listeners: list[Callable[[SesCall], None]] = []


def on_call(listener: Callable[[SesCall], None]) -> Callable[[], None]:
    """Call ``listener`` after every successful SES v2 call (in the thread serving it: keep
    it quick, and make no call to local AWS from it). Returns what stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _succeeded(answer: Any) -> bool:
    if isinstance(answer, tuple) and answer:
        return 200 <= int(answer[0]) < 300
    return True


# Botocore 1.43.105 moved two SES v2 list operations from ``GET`` on the collection to
# ``POST /v2/email/list-...`` (its sesv2 service-2.json, ``ListConfigurationSets`` and
# ``ListEmailIdentities``); SES answers both. moto resolves the action from the botocore it
# runs with, so a client with an older botocore (the aws CLI v1 bundles its own: 1.43.62 in
# aws-cli 1.46.3) got a 404 for the old form. These are the old routes, paged by query string.
_OLDER_LIST_ROUTES: Final = {
    ("GET", "/v2/email/configuration-sets"): "ListConfigurationSets",
    ("GET", "/v2/email/identities"): "ListEmailIdentities",
}


def _get_action(self: Any) -> str:
    route = (str(self.method).upper(), str(self.path).rstrip("/"))
    older = _OLDER_LIST_ROUTES.get(route)
    return older if older is not None else str(_originals["_get_action"](self))


_PATCHES: Final[dict[str, Callable[..., Any]]] = {
    "_get_action": _get_action,
    "call_action": _call_action,
    "create_configuration_set": _create_configuration_set,
    "get_configuration_set": _get_configuration_set,
    "delete_configuration_set": _delete_configuration_set,
    "put_configuration_set_delivery_options": _put_configuration_set_delivery_options,
    "list_configuration_sets": _list_configuration_sets,
    "create_dedicated_ip_pool": _create_dedicated_ip_pool,
    "get_dedicated_ip_pool": _get_dedicated_ip_pool,
    "delete_dedicated_ip_pool": _delete_dedicated_ip_pool,
    "list_dedicated_ip_pools": _list_dedicated_ip_pools,
    "put_dedicated_ip_in_pool": _put_dedicated_ip_in_pool,
    "get_dedicated_ips": _get_dedicated_ips,
    "put_dedicated_ip_warmup_attributes": _put_dedicated_ip_warmup_attributes,
    "put_dedicated_ip_pool_scaling_attributes": _put_dedicated_ip_pool_scaling_attributes,
    "create_tenant": _create_tenant,
    "get_tenant": _get_tenant,
    "delete_tenant": _delete_tenant,
    "list_tenants": _list_tenants,
    "create_tenant_resource_association": _create_tenant_resource_association,
    "delete_tenant_resource_association": _delete_tenant_resource_association,
    "list_tenant_resources": _list_tenant_resources,
    "list_resource_tenants": _list_resource_tenants,
    "create_email_identity": _create_email_identity,
    "get_email_identity": _get_email_identity,
    "put_email_identity_configuration_set_attributes": (
        _put_email_identity_configuration_set_attributes
    ),
    "list_email_identities": _list_email_identities,
}


def install() -> None:
    """Patch moto's SES v2 in this process; idempotent and thread-safe.

    Call it before ``moto.mock_aws`` starts and before moto's server is started (or at
    least before it serves its first SES v2 request): the server builds its URL map,
    which needs the extra nested paths, when it creates the SES v2 backend app.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.sesv2 import urls
        from moto.sesv2.responses import SESV2Response

        for name, function in _PATCHES.items():
            _originals[name] = getattr(SESV2Response, name, None) or _missing(name)
            setattr(SESV2Response, name, function)
        for path in _EXTRA_URL_PATHS:
            urls.url_paths.setdefault(path, SESV2Response.dispatch)
        _installed = True


def _missing(name: str) -> Callable[..., Any]:
    def missing(self: Any) -> Any:
        raise NotImplementedError(name)

    return missing
