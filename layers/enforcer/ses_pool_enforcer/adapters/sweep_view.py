"""What a sweep knows of an account's pools and tenants, read from SES once per sweep.

A sweep of 10,000 sets runs for about three hours in some seventeen steps. Each step
needs the pool list, the state of every pool a rule asks health of, and, when the
policy speaks of tenants, every tenant's status and resources. Read per step, that is
17 x (pools + tenants + 2) SES calls, from the same budget as the sets. Read once, at
the sweep's first step, and kept where every later step reads it without SES, it is
one call per pool and per tenant (plus ``ListTenants`` and ``ListDedicatedIpPools``).

The tenant map is a set ARN per associated set: about 800 KB at 10,000 sets, past a
DynamoDB item (400 KB) and a Step Functions state (256 KB). It is kept as one JSON
object in the report bucket (``sweeps/<sweep id>.json``), which the bucket's lifecycle
expires; see docs/design/sweep-view.md.

Fresh where it matters: a view is read after its sweep started, and a step uses it
only while it is newer than the last pool or tenant change the event path heard
(``StateTable.view_changed_at``); else the step reads it again and stores the new one.
An execution that resumes a dead one's sweep reads it again too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ses_pool_enforcer.adapters.ses import PoolDirectory, Ses, TenantDirectory
from ses_pool_enforcer.clock import Clock
from ses_pool_enforcer.model import DedicatedIp, PoolState
from ses_pool_enforcer.policy import Policy

VIEWS = "sweeps"  # the report bucket's prefix for sweeps' views


@dataclass(frozen=True)
class SweepView:
    """The pools and tenants as SES answered at ``read_at`` (epoch seconds)."""

    sweep_id: str
    read_at: float
    pools: frozenset[str]  # ListDedicatedIpPools: the dedicated pools that exist
    states: Mapping[str, PoolState | None]  # the pools a rule asks health of (None: gone)
    # None: the policy names no tenant, and none was read
    statuses: Mapping[str, str] | None = None  # tenant -> SendingStatus
    resources: Mapping[str, list[str]] | None = None  # tenant -> its resources' ARNs

    @classmethod
    def read(cls, ses: Ses, policy: Policy, sweep_id: str, now: float) -> SweepView:
        """Read what ``policy`` needs: the pools always, the states of the pools it asks
        health of, the tenants if it names any."""
        pools = frozenset(ses.list_dedicated_pools())
        states = {pool: ses.pool_state(pool) for pool in sorted(policy.pools_with_health())}
        if not policy.names_tenants():
            return cls(sweep_id, now, pools, states)
        statuses = ses.tenant_statuses()
        resources = {tenant: ses.tenant_resources(tenant) for tenant in sorted(statuses)}
        return cls(sweep_id, now, pools, states, statuses, resources)

    def calls(self) -> int:
        """What reading it cost in SES calls (a page each)."""
        tenants = 0 if self.statuses is None else 1 + len(self.statuses)
        return 1 + len(self.states) + tenants

    def key(self) -> str:
        return key_of(self.sweep_id)

    def pool_directory(self, ses: Ses, clock: Clock) -> PoolDirectory:
        return PoolDirectory.listed(ses, clock, set(self.pools), self.states)

    def tenant_directory(self, ses: Ses, clock: Clock) -> TenantDirectory | None:
        if self.statuses is None or self.resources is None:
            return None
        return TenantDirectory.of(ses, self.statuses, self.resources, clock)

    def to_json(self) -> str:
        document: dict[str, Any] = {
            "sweep_id": self.sweep_id,
            "read_at": self.read_at,
            "pools": sorted(self.pools),
            "states": {name: _state(state) for name, state in sorted(self.states.items())},
        }
        if self.statuses is not None and self.resources is not None:
            document["tenants"] = {
                name: {"status": status, "resources": list(self.resources.get(name, []))}
                for name, status in sorted(self.statuses.items())
            }
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SweepView:
        document = json.loads(text)
        tenants = document.get("tenants")
        return cls(
            sweep_id=str(document["sweep_id"]),
            read_at=float(document["read_at"]),
            pools=frozenset(document["pools"]),
            states={name: _pool(name, state) for name, state in document["states"].items()},
            statuses=(
                {n: str(t["status"]) for n, t in tenants.items()} if tenants is not None else None
            ),
            resources=(
                {n: [str(a) for a in t["resources"]] for n, t in tenants.items()}
                if tenants is not None
                else None
            ),
        )


def key_of(sweep_id: str) -> str:
    """Where a sweep's view is kept in the report bucket."""
    return f"{VIEWS}/{sweep_id}.json"


def _state(state: PoolState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "scaling_mode": state.scaling_mode,
        "ips": [[ip.ip, ip.warmup_status, ip.warmup_percentage] for ip in state.ips or ()],
    }


def _pool(name: str, state: dict[str, Any] | None) -> PoolState | None:
    if state is None:
        return None
    ips = tuple(DedicatedIp(str(ip), str(status), int(pct)) for ip, status, pct in state["ips"])
    return PoolState(name, state.get("scaling_mode"), ips)
