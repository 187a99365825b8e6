"""One reconciler: read a set, decide, act, record, alert. Every entry point (events,
sweep, CLI) calls ``Reconciler.reconcile``; they only gather names. (The CLI's plan,
which judges one read of a set under two documents, calls ``Reconciler.assess``.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ses_pool_enforcer.adapters.aws import error_code
from ses_pool_enforcer.adapters.flapping import Hold
from ses_pool_enforcer.adapters.ses import NOT_FOUND, PoolDirectory, Ses
from ses_pool_enforcer.evaluation import evaluate
from ses_pool_enforcer.model import (
    ALERTING_OUTCOMES,
    Action,
    ConfigurationSet,
    Outcome,
    OutcomeRecord,
)
from ses_pool_enforcer.notices import Notice, Trigger, notice
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.policy import Mode, Policy, PolicyError


class RecordSink(Protocol):
    def record(
        self, record: OutcomeRecord, sweep_id: str | None = None
    ) -> dict[str, str] | None: ...


class AlertSink(Protocol):
    def publish(
        self, title: str, text: str, document: dict[str, object], attributes: dict[str, str]
    ) -> None: ...


class FlapGuard(Protocol):
    threshold: int
    window: int

    def check(self, name: str, now: dt.datetime) -> Hold:
        """Whether reassigning ``name`` now would be fighting another actor."""
        ...

    def reassigned(self, name: str, now: dt.datetime) -> None:
        """Count one reassignment of ``name``."""
        ...


def unchanged_problem(record: OutcomeRecord, previous: dict[str, str] | None) -> bool:
    """A violation or error the inventory already holds, as it was: alerted before."""
    return (
        previous is not None
        and record.outcome is not Outcome.REMEDIATED
        and previous.get("outcome") == record.outcome.value
        and previous.get("current_pool") == record.current_pool
        and previous.get("expected_pool") == record.expected_pool
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Reconciler:
    ses: Ses
    pools: PoolDirectory
    policy: Policy | PolicyError
    enforcement: Mode = Mode.ENFORCE
    inventory: RecordSink | None = None
    alerts: AlertSink | None = None
    flap_guard: FlapGuard | None = None
    sweep_id: str | None = None

    def reconcile(self, name: str, trigger: Trigger, *, dry_run: bool = False) -> OutcomeRecord:
        """Bring ``name`` onto the pool the policy demands; ``dry_run`` decides only."""
        record, quiet = self._decide_and_act(name, dry_run)
        logger.info(
            "reconciled",
            extra={"record": record.to_dict(), "trigger": trigger.source, "dry_run": dry_run},
        )
        if dry_run:
            return record
        metrics.add_metric(name=f"Outcome_{record.outcome.value}", unit=MetricUnit.Count, value=1)
        previous = None
        if self.inventory is not None and not isinstance(self.policy, PolicyError):
            previous = self.inventory.record(record, self.sweep_id)
        if trigger.source == "sweep" and unchanged_problem(record, previous):
            quiet = True  # said before; the sweep's report lists it again
        if self.alerts is not None and record.outcome in ALERTING_OUTCOMES and not quiet:
            self.send(notice(record, trigger))
        return record

    def send(self, message: Notice) -> None:
        if self.alerts is not None:
            self.alerts.publish(message.title, message.text, message.document, message.attributes)

    def assess(self, cs: ConfigurationSet) -> OutcomeRecord:
        """What reconciling the snapshot ``cs`` would conclude, writing nothing: the
        policy's decision and the target pool's existence check. For callers that read
        sets themselves (the CLI's plan judges one read under two documents)."""
        record, _ = self._decide(cs, utcnow())
        return record

    def _decide_and_act(self, name: str, dry_run: bool) -> tuple[OutcomeRecord, bool]:
        """The record, and True when its alert has already been sent (a set still held)."""
        now = utcnow()
        if isinstance(self.policy, PolicyError):
            return self._not_enforced(name, now), False
        cs = self.ses.get_configuration_set(name)
        if cs is None:
            gone = "configuration set does not exist"
            return OutcomeRecord(name, Outcome.DELETED, None, None, None, gone, now), False
        record, target = self._decide(cs, now)
        if target is None or dry_run:
            return record, False
        if self.flap_guard is not None:
            hold = self.flap_guard.check(name, now)
            if hold is not Hold.NO:
                reason = (
                    f"moved {self.flap_guard.threshold} times within {self.flap_guard.window}s "
                    f"and changed back again; not moved until that window has passed "
                    f"({record.reason})"
                )
                held = replace(record, outcome=Outcome.FLAPPING, reason=reason)
                return held, hold is Hold.ONGOING
        try:
            self.ses.reassign(cs, target)
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
            # Between our read and our write the set or the pool went away.
            return replace(record, outcome=Outcome.ERROR, reason=f"not moved: {exc}"), False
        if self.flap_guard is not None:
            self.flap_guard.reassigned(name, now)
        return replace(record, current_pool=target, previous_pool=cs.pool), False

    def _not_enforced(self, name: str, now: dt.datetime) -> OutcomeRecord:
        return OutcomeRecord(
            name, Outcome.ERROR, None, None, None, f"policy not enforced: {self.policy}", now
        )

    def _decide(self, cs: ConfigurationSet, now: dt.datetime) -> tuple[OutcomeRecord, str | None]:
        """The record for ``cs``, and the pool to move it to when a reassignment is due."""
        if isinstance(self.policy, PolicyError):
            return self._not_enforced(cs.name, now), None
        decision = evaluate(self.policy, cs, now, enforcement=self.enforcement)
        record = OutcomeRecord(
            cs.name,
            decision.outcome,
            cs.pool,
            decision.expected_pool,
            decision.rule_id,
            decision.reason,
            now,
        )
        if decision.expected_pool is None or decision.outcome is Outcome.VIOLATION:
            return record, None
        if not self.pools.exists(decision.expected_pool):
            # Also for a set already "on" it: SES keeps a deleted pool's name on its sets.
            return replace(
                record,
                outcome=Outcome.ERROR,
                reason=f"target pool {decision.expected_pool} does not exist; not moved",
            ), None
        if decision.action is not Action.REASSIGN:
            return record, None
        return record, decision.expected_pool
