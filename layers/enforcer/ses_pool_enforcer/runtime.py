"""Wiring: the objects a warm Lambda process (or the CLI) builds once from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ses_pool_enforcer.adapters.alerts import Alerts
from ses_pool_enforcer.adapters.flapping import FlapGuard
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.adapters.pacing import Pacer, SharedPacer
from ses_pool_enforcer.adapters.policy_store import load_policy
from ses_pool_enforcer.adapters.ses import PoolDirectory, Ses
from ses_pool_enforcer.config import Settings, get_settings
from ses_pool_enforcer.policy import Policy, PolicyError
from ses_pool_enforcer.reconciler import Reconciler


@dataclass
class Runtime:
    settings: Settings
    ses: Ses
    pools: PoolDirectory
    inventory: Inventory | None
    alerts: Alerts
    flap_guard: FlapGuard | None = None
    memo: dict[str, Any] = field(default_factory=dict)  # per-process helpers built on first use

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        rate = settings.ses_calls_per_second
        # The deployment shares one budget through the state table; without one (a local
        # run), each process keeps to the budget on its own.
        pacer = SharedPacer(settings.state_table, rate) if settings.state_table else Pacer(rate)
        ses = Ses(pacer=pacer)
        return cls(
            settings=settings,
            ses=ses,
            pools=PoolDirectory(ses),
            inventory=Inventory(settings.inventory_table) if settings.inventory_table else None,
            alerts=Alerts(settings.alert_topic_arn, settings.alert_fallback_queue_url),
            flap_guard=(
                FlapGuard(
                    settings.state_table, settings.flap_threshold, settings.flap_window_seconds
                )
                if settings.state_table
                else None
            ),
        )

    def policy(self) -> Policy | PolicyError:
        """The current policy, or why there is none to enforce. SSM failures that are
        worth a retry (PolicyUnavailable) propagate."""
        try:
            return load_policy(self.settings.policy_parameter, self.settings.policy_cache_seconds)
        except PolicyError as exc:
            return exc

    def reconciler(
        self, *, pools: PoolDirectory | None = None, sweep_id: str | None = None
    ) -> Reconciler:
        return Reconciler(
            ses=self.ses,
            pools=pools or self.pools,
            policy=self.policy(),
            enforcement=self.settings.enforcement_mode,
            inventory=self.inventory,
            alerts=self.alerts,
            flap_guard=self.flap_guard,
            sweep_id=sweep_id,
        )


@cache
def get_runtime() -> Runtime:
    return Runtime.from_settings(get_settings())
