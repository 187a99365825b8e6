"""The full reconciliation sweep: every configuration set of the region through the one
reconciler, within the SES call budget, in steps that a Step Functions Standard workflow
loops over (``statemachine/sweep.asl.json``): ``start`` takes the lock, ``step`` works
until its time is up, ``finish`` reports and lets go.

At 1 SES call per second, 10,000 sets take about three hours: far more than one Lambda
invocation. A checkpoint after every few sets lets a failed step or a dead execution
resume where it stopped; the lock's lease keeps a second sweep from running meanwhile.
"""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ses_pool_enforcer import drift, lanes
from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.adapters.history import HistoryPoint, ReportHistory
from ses_pool_enforcer.adapters.policy_store import PolicySnapshot
from ses_pool_enforcer.adapters.reports import ReportStore
from ses_pool_enforcer.adapters.security_hub import Delivery
from ses_pool_enforcer.adapters.ses import LIST_PAGE_SIZE
from ses_pool_enforcer.adapters.state import Checkpoint, LockLost, StateTable
from ses_pool_enforcer.adapters.sweep_view import SweepView
from ses_pool_enforcer.compliance.security_hub import resync
from ses_pool_enforcer.config import SettingsError
from ses_pool_enforcer.model import Kind
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.policy import Policy, PolicyError, governs_identities
from ses_pool_enforcer.reconciler import Busy, Reconciler
from ses_pool_enforcer.report import Entry, IdentityEntry, Report, build_report, fit_summary
from ses_pool_enforcer.runtime import Runtime
from ses_pool_enforcer.work import LaneKey, Work

# Longer than one Lambda invocation (15 min) plus the state machine's retry waits: a
# live sweep renews it every few seconds; a dead one's lapses and the next run resumes.
LEASE_SECONDS = 1200.0
SAFETY_MARGIN_MS = 60_000  # a step stops this long before Lambda would kill it
CHECKPOINT_EVERY_SETS = 25
CHECKPOINT_EVERY_SECONDS = 10.0
PAGE_SIZE = LIST_PAGE_SIZE
PHASES = ("sets", "identities")
Pages = Callable[[str | None, int], Iterator[tuple[list[str], str | None]]]
START_ATTEMPTS = 3
# Reading the pools and tenants again costs their calls again: after a change the event
# path heard, a sweep reads them again no sooner than when those calls would be this
# share of the budget spent since the last read (a burst of tenant associations must
# not turn a sweep into re-reads).
VIEW_REREAD_SHARE = 0.1

TRIGGERS = frozenset({"schedule", "policy-change", "manual", "new-account"})
# A sweep already running has read part of the account under the old policy: a policy
# change (or an operator) asks for one more sweep after it. A schedule adds nothing, nor
# does a new account: its lanes are new, and one that is busy after all is being swept
# by another execution under the same policy, which is all the new account needs.
RERUN_WHEN_BUSY = frozenset({"policy-change", "manual"})
RERUN_WHEN_RESUMING = frozenset({"policy-change"})


class SweepRequestError(ValueError):
    """The state machine sent something this function does not understand."""


def trigger_from(data: Mapping[str, Any]) -> str:
    """What started the sweep: ``{"trigger": ...}`` (the template's rule targets, the
    CLI, a rerun), or an EventBridge event passed through unchanged."""
    named = data.get("trigger")
    if isinstance(named, str) and named in TRIGGERS:
        return named
    if data.get("source") == "aws.ssm" or data.get("detail-type") == "Parameter Store Change":
        return "policy-change"
    if data.get("detail-type") == "Scheduled Event":
        return "schedule"
    return "manual"


def new_sweep_id(now: dt.datetime) -> str:
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass
class Sweeper:
    runtime: Runtime
    state: StateTable
    reports: ReportStore | None
    lane: LaneKey | None = None  # a member lane (its runtime's), None: the deployment's own
    account_name: str | None = None  # the member account's name, for alerts

    @classmethod
    def from_runtime(
        cls, runtime: Runtime, lane: LaneKey | None = None, account_name: str | None = None
    ) -> Sweeper:
        """A sweep of ``lane`` with ``runtime``, that lane's runtime."""
        settings = runtime.settings
        if not settings.state_table:
            raise SettingsError("STATE_TABLE is not set: a sweep needs its lock and checkpoint")
        state = StateTable(settings.state_table, runtime.clock.time, _lane_id(lane))
        return cls(runtime, state, runtime.report_store(), lane, account_name)

    def now(self) -> dt.datetime:
        return self.runtime.clock.now()

    # ------------------------------------------------------------------ start

    def start(self, execution: str, trigger: str) -> dict[str, Any]:
        """Take the lock and begin (or resume an abandoned sweep); if another sweep
        holds it, answer busy, asking it for a rerun if the trigger calls for one."""
        for _ in range(START_ATTEMPTS):
            if self.state.acquire(execution, LEASE_SECONDS) is not None:
                return self._begin(execution, trigger)
            if trigger in RERUN_WHEN_BUSY:
                held = self.state.request_rerun(trigger)
            else:
                held = self.state.lock()
                held = held if held is not None and held.lease_until >= self.state.clock() else None
            if held is not None:
                metrics.add_metric(name="SweepBusy", unit=MetricUnit.Count, value=1)
                logger.info(
                    "sweep already running",
                    extra={
                        "running": held.sweep_id,
                        "trigger": trigger,
                        "rerun": held.rerun_requested,
                    },
                )
                return {
                    "status": "busy",
                    "execution": execution,
                    "trigger": trigger,
                    "sweep_id": held.sweep_id,
                    "rerun_requested": held.rerun_requested,
                    "done": False,
                }
            # The holder let go between our two calls: try to take the lock again.
        raise RuntimeError("the sweep lock changed hands repeatedly; retry later")

    def _begin(self, execution: str, trigger: str) -> dict[str, Any]:
        checkpoint = self.state.checkpoint()
        if checkpoint is not None and checkpoint.owner == execution:
            status = "started"  # our own start, retried
        elif checkpoint is not None:
            status = "resumed"
            # The dead execution's view of the pools and tenants may be hours old, and
            # what it missed unheard (warm-up, a tenant's status): read it again.
            checkpoint = replace(checkpoint, owner=execution, view_at=None)
            self.state.save_checkpoint(checkpoint, replace=True)
            if trigger in RERUN_WHEN_RESUMING:
                self.state.request_rerun(trigger)
        else:
            status = "started"
            now = self.now()
            checkpoint = Checkpoint(
                sweep_id=new_sweep_id(now) + (f"-{'-'.join(self.lane)}" if self.lane else ""),
                started_at=now.isoformat(),
                trigger=trigger,
                owner=execution,
                policy_version=self._current_policy_version(),
            )
            self.state.save_checkpoint(checkpoint, replace=True)
        self.state.renew(execution, LEASE_SECONDS, sweep_id=checkpoint.sweep_id)
        metrics.add_metric(name=f"Sweep{status.capitalize()}", unit=MetricUnit.Count, value=1)
        logger.info(
            f"sweep {status}",
            extra={
                "sweep_id": checkpoint.sweep_id,
                "trigger": trigger,
                "resumed_at": checkpoint.processed,
                "policy_version": checkpoint.policy_version,
            },
        )
        return _state(checkpoint, status)

    def _current_policy_version(self) -> int | None:
        """The version this sweep will judge by: read now, not from a cache, so that the
        sweep a policy change starts enforces that change. (Unreadable or invalid: None,
        and the first step stops the sweep with the reason.)"""
        snapshot = self.runtime.policy(max_age=0)
        return snapshot.version if isinstance(snapshot, PolicySnapshot) else None

    def _policy_of(self, checkpoint: Checkpoint) -> Policy | PolicyError:
        snapshot = self._pinned_policy(checkpoint)
        return snapshot if isinstance(snapshot, PolicyError) else snapshot.policy

    def _pinned_policy(self, checkpoint: Checkpoint) -> PolicySnapshot | PolicyError:
        if checkpoint.policy_version is None:
            return self.runtime.policy(max_age=0)
        return self.runtime.policy(version=checkpoint.policy_version)

    # ------------------------------------------------------------------ step

    def step(self, sweep: Mapping[str, Any], remaining_ms: Callable[[], int]) -> dict[str, Any]:
        """Reconcile sets from the checkpoint on until the step's time is up or every
        page is done; checkpoint every few sets."""
        execution, sweep_id = _identity(sweep)
        checkpoint = self._owned_checkpoint(execution, sweep_id)
        if checkpoint.complete or checkpoint.stopped:
            return _state(checkpoint, "reconciled")

        clock = self.runtime.clock
        began = clock.time()
        step_end = began + self.runtime.settings.sweep_step_seconds
        pinned = self._pinned_policy(checkpoint)
        if isinstance(pinned, PolicyError):
            checkpoint = replace(checkpoint, stopped=f"policy not enforced: {pinned}")
            self._save(checkpoint)
            logger.error("sweep stopped", extra={"sweep_id": sweep_id, "cause": checkpoint.stopped})
            return _state(checkpoint, "stopped")
        view, checkpoint = self._view(checkpoint, pinned.policy)
        reconciler = self.runtime.reconciler(policy=pinned, sweep_id=sweep_id)
        self._see(view, reconciler)

        trigger = Trigger(
            source="sweep",
            account=self.lane[0] if self.lane else self.runtime.settings.account_id,
            region=self.lane[1] if self.lane else aws.region(),
            account_name=self.account_name,
        )
        at_start = checkpoint.processed
        saved_at, unsaved = began, 0
        # Stingy across paths: a set looked at after the sweep began, by its policy
        # version or a newer one (the version the look recorded), is covered for the
        # sweep, as a change is for an event. With no version pinned, only a look after
        # every cached policy is surely as new (the start plus PolicyCacheSeconds) covers.
        covered_after = dt.datetime.fromisoformat(checkpoint.started_at).timestamp()
        judged_by = checkpoint.policy_version
        if judged_by is None:
            covered_after += self.runtime.settings.policy_cache_seconds
        for phase, pages, walker in self._phases(checkpoint, reconciler):
            if checkpoint.phase != phase:
                checkpoint = replace(
                    checkpoint, phase=phase, page_token=None, offset=0, last_name=None
                )
                self._save(checkpoint)
            resuming = checkpoint.offset > 0
            for names, next_token in pages(checkpoint.page_token, PAGE_SIZE):
                first = resume_index(names, checkpoint) if resuming else 0
                resuming = False
                for index in range(first, len(names)):
                    # The last moment to start an SES call: the step's end, or a minute
                    # before Lambda would end the invocation.
                    deadline = min(
                        step_end, clock.time() + (remaining_ms() - SAFETY_MARGIN_MS) / 1000
                    )
                    work = Work(
                        names[index],
                        trigger,
                        observed_at=covered_after,
                        judged_by=judged_by,
                        lane=self.lane,
                    )
                    wait = self._reconcile(walker, work, deadline)
                    if wait is not None:  # no time for this one: the next step's first
                        self._save(checkpoint)
                        return self._paused(checkpoint, at_start, began, wait)
                    checkpoint = replace(
                        checkpoint,
                        offset=index + 1,
                        last_name=names[index],
                        processed=checkpoint.processed + 1,
                    )
                    unsaved += 1
                    now = clock.time()
                    if (
                        unsaved >= CHECKPOINT_EVERY_SETS
                        or now - saved_at >= CHECKPOINT_EVERY_SECONDS
                    ):
                        self._save(checkpoint)
                        saved_at, unsaved = now, 0
                        if self._stale(view):  # a pool or tenant changed since
                            view, checkpoint = self._read_view(checkpoint, pinned.policy)
                            self._see(view, reconciler, walker)
                checkpoint = replace(checkpoint, page_token=next_token, offset=0, last_name=None)
                if next_token is not None:
                    self._save(checkpoint)
                    saved_at, unsaved = clock.time(), 0
        checkpoint = replace(checkpoint, complete=True)
        self._save(checkpoint)
        self._log_step(checkpoint, at_start, began, "reconciled")
        return _state(checkpoint, "reconciled")

    def _view(self, checkpoint: Checkpoint, policy: Policy) -> tuple[SweepView, Checkpoint]:
        """The sweep's view of the pools and tenants: the one an earlier step kept, unless
        the event path heard a change to them since it was read (``_stale``); else read
        now. Without a report bucket, each step reads its own."""
        store = self.reports
        if store is not None and checkpoint.view_at is not None:
            kept = store.view(checkpoint.sweep_id)
            if kept is not None and kept.read_at == checkpoint.view_at and not self._stale(kept):
                return kept, checkpoint
        return self._read_view(checkpoint, policy)

    def _stale(self, view: SweepView) -> bool:
        """Whether the event path heard a pool or tenant change since ``view`` was read,
        and reading it again costs no more than VIEW_REREAD_SHARE of the budget since."""
        if self.state.view_changed_at() < view.read_at:
            return False
        cost = view.calls() / self.runtime.settings.ses_calls_per_second
        return self.runtime.clock.time() - view.read_at >= cost / VIEW_REREAD_SHARE

    def _read_view(self, checkpoint: Checkpoint, policy: Policy) -> tuple[SweepView, Checkpoint]:
        """Read the view from SES, and keep it for the next steps (the checkpoint saying
        when it was read)."""
        store = self.reports
        now = round(self.runtime.clock.time(), 3)  # (as the checkpoint stores it)
        view = SweepView.read(self.runtime.ses, policy, checkpoint.sweep_id, now)
        metrics.add_metric(name="SweepViewRead", unit=MetricUnit.Count, value=1)
        logger.info(
            "sweep view read",
            extra={
                "sweep_id": checkpoint.sweep_id,
                "pools": len(view.pools),
                "pool_states": len(view.states),
                "tenants": None if view.statuses is None else len(view.statuses),
            },
        )
        if store is None:
            return view, checkpoint
        store.keep_view(view)
        checkpoint = replace(checkpoint, view_at=view.read_at)
        self._save(checkpoint)
        return view, checkpoint

    def _see(self, view: SweepView, *reconcilers: Reconciler) -> None:
        """Judge with ``view``: its pools, and its tenants when the policy names them."""
        ses, clock = self.runtime.ses, self.runtime.clock
        pools = view.pool_directory(ses, clock)
        tenants = view.tenant_directory(ses, clock)
        for reconciler in reconcilers:
            reconciler.pools, reconciler.tenants = pools, tenants

    def _phases(
        self, checkpoint: Checkpoint, sets: Reconciler
    ) -> Iterator[tuple[str, Pages, Reconciler]]:
        """What a sweep walks, in order, from the checkpoint's phase on: every set, then
        every sending identity when the policy governs them (it has ``identities``, even
        an empty list) and the deployment keeps an identity inventory."""
        ses = self.runtime.ses
        if checkpoint.phase == PHASES[0]:
            yield PHASES[0], ses.configuration_set_pages, sets
        if self.runtime.identities is None or not governs_identities(sets.policy):
            return
        identities = self.runtime.reconciler(
            policy=self._pinned_policy(checkpoint),
            sweep_id=checkpoint.sweep_id,
            kind=Kind.IDENTITY,
        )
        # The sweep's view of the tenants (and pools) serves identities too.
        identities.pools, identities.tenants = sets.pools, sets.tenants
        yield PHASES[1], ses.identity_pages, identities

    def _reconcile(self, reconciler: Reconciler, work: Work, deadline: float) -> float | None:
        """Reconcile one set; None when done, else how long to wait before trying it in
        the next step. A set held by an event consumer is waited for (its lease is
        short); a failure that a retry may cure propagates: the step fails, the state
        machine retries it, the checkpoint resumes it."""
        clock = self.runtime.clock
        while True:
            result = reconciler.reconcile(work, start_by=deadline)
            if not isinstance(result, Busy):
                return None
            now = clock.time()
            if result.retry_at >= deadline:
                logger.info("sweep step pauses", extra={"set": work.name, "why": result.why})
                return max(0.0, result.retry_at - now)
            clock.sleep(result.retry_at - now)

    def _paused(
        self, checkpoint: Checkpoint, at_start: int, began: float, wait: float
    ) -> dict[str, Any]:
        self._log_step(checkpoint, at_start, began, "running")
        # Nothing done in this step: wait (in the state machine, not in Lambda) for the
        # budget or the set to come free instead of invoking the next step at once.
        idle = checkpoint.processed == at_start
        return {**_state(checkpoint, "running"), "wait_seconds": round(wait) + 1 if idle else 0}

    def _log_step(self, checkpoint: Checkpoint, at_start: int, began: float, status: str) -> None:
        seconds = self.runtime.clock.time() - began
        sets = checkpoint.processed - at_start
        metrics.add_metric(name="SweepSetsReconciled", unit=MetricUnit.Count, value=sets)
        logger.info(
            "sweep step",
            extra={
                "sweep_id": checkpoint.sweep_id,
                "status": status,
                "sets": sets,
                "processed": checkpoint.processed,
                "seconds": round(seconds, 3),
            },
        )

    def _save(self, checkpoint: Checkpoint) -> None:
        self.state.renew(checkpoint.owner, LEASE_SECONDS)
        self.state.save_checkpoint(checkpoint)

    def _owned_checkpoint(self, execution: str, sweep_id: str) -> Checkpoint:
        self.state.renew(execution, LEASE_SECONDS)
        checkpoint = self.state.checkpoint()
        if checkpoint is None or checkpoint.sweep_id != sweep_id or checkpoint.owner != execution:
            raise LockLost(f"sweep {sweep_id} is not run by {execution} any more")
        return checkpoint

    # ------------------------------------------------------------------ finish

    def finish(self, sweep: Mapping[str, Any]) -> dict[str, Any]:
        """Drop the sets that are gone from the inventory, report, release the lock.
        Says whether a rerun was asked for meanwhile."""
        execution, sweep_id = _identity(sweep)
        result: dict[str, Any] = {
            "status": "finished",
            "execution": execution,
            "sweep_id": sweep_id,
            "report": None,
            "report_uri": None,
        }
        checkpoint = self.state.checkpoint()
        if checkpoint is not None and checkpoint.sweep_id == sweep_id:
            checkpoint = self._owned_checkpoint(execution, sweep_id)
            if checkpoint.stopped:
                result["status"] = "stopped"
                result["stopped"] = checkpoint.stopped
                self._alert_stopped(checkpoint)
            elif not checkpoint.complete:
                raise SweepRequestError(f"sweep {sweep_id} is not complete; it cannot finish")
            else:
                result.update(self._report(checkpoint))
            self.state.delete_checkpoint(sweep_id)
        # else: a retried finish whose first attempt got this far; only the lock is left.
        released = self.state.release(execution)
        rerun = released is not None and released.rerun_requested
        result["rerun"] = rerun
        result["trigger"] = (released.rerun_trigger or "manual") if released and rerun else None
        logger.info("sweep finished", extra={k: v for k, v in result.items() if k != "report"})
        return result

    def _report(self, checkpoint: Checkpoint) -> dict[str, Any]:
        inventory = self.runtime.inventory
        if inventory is None:
            logger.warning(
                "no inventory table: no compliance report", extra={"sweep_id": checkpoint.sweep_id}
            )
            return {}
        started = dt.datetime.fromisoformat(checkpoint.started_at).timestamp()
        removed = inventory.remove_unseen(checkpoint.sweep_id, started)
        identities = self.runtime.identities
        if not governs_identities(self._policy_of(checkpoint)):
            identities = None  # not walked: no section (last sweep's rows are left as they are)
        if identities is not None:
            gone = identities.remove_unseen(checkpoint.sweep_id, started)
            logger.info(
                "identities removed", extra={"sweep_id": checkpoint.sweep_id, "count": gone}
            )
        read_at = self.now()  # what the rows say is true as of then
        rows = list(inventory.rows())
        hub = self._resync_findings(rows, read_at)
        history = ReportHistory(self.state.table, lane=_lane_id(self.lane))
        report = build_report(
            (Entry.from_row(row) for row in rows),
            sweep_id=checkpoint.sweep_id,
            trigger=checkpoint.trigger,
            started_at=checkpoint.started_at,
            finished_at=self.now().isoformat(),
            removed=removed,
            trend=history.trend(excluding=checkpoint.sweep_id),
            policy_version=(
                str(checkpoint.policy_version) if checkpoint.policy_version is not None else None
            ),
            notes=hub.notes() if hub is not None else (),
            identities=(
                (IdentityEntry.from_row(row) for row in identities.rows())
                if identities is not None
                else None
            ),
        )
        links = self.reports.store(report) if self.reports is not None else None
        history.record(HistoryPoint.of(report))  # once: a retried finish adds nothing
        if not self.runtime.settings.member_role_name:
            # A hub publishes one organization report (lanes.summarize), not one a lane.
            summary = fit_summary(report, links)
            self.runtime.alerts.publish(
                summary.title, summary.text, summary.document, summary.attributes
            )
        self._metrics(report)
        finished: dict[str, Any] = {
            "report": {
                "total": report.total,
                "managed": report.managed,
                "compliance_ratio": report.compliance_ratio,
                "counts": report.counts,
                "removed": removed,
                "policy_version": checkpoint.policy_version,
            },
            "report_uri": links.json_uri if links is not None else None,
        }
        if hub is not None:
            finished["security_hub"] = hub.summary()
        return finished

    def _resync_findings(self, rows: list[dict[str, str]], read_at: dt.datetime) -> Delivery | None:
        """Security Hub brought in line with the inventory: every open finding sent again,
        and the ones whose sets comply or are gone closed (None: SecurityHub=disabled)."""
        hub = self.runtime.findings
        if hub is None:
            return None
        held = hub.open_findings()
        if isinstance(held, Delivery) and held.not_enabled:
            return held
        known = held if isinstance(held, list) else []
        sent = hub.flush(resync(rows, known, hub.product, read_at))
        if isinstance(held, Delivery):  # unread: nothing could be closed this time
            sent.error = sent.error or held.error
        return sent

    def _metrics(self, report: Report) -> None:
        if report.compliance_ratio is not None:
            metrics.add_metric(
                name="ComplianceRatio", unit=MetricUnit.NoUnit, value=report.compliance_ratio
            )
        for outcome, count in report.counts.items():
            metrics.add_metric(name=f"SweepSets_{outcome}", unit=MetricUnit.Count, value=count)
        metrics.add_metric(name="SweepSetsRemoved", unit=MetricUnit.Count, value=report.removed)

    def _alert_stopped(self, checkpoint: Checkpoint) -> None:
        reason = checkpoint.stopped or "stopped"
        self.runtime.alerts.publish(
            f"[ses-pool-enforcer] error: sweep {checkpoint.sweep_id} stopped, {reason}",
            (
                f"The reconciliation sweep {checkpoint.sweep_id} (trigger: {checkpoint.trigger}) "
                f"stopped after {checkpoint.processed:,} sets: {reason}.\n"
                "No set was changed after that point and no compliance report was made. "
                "Fix the policy; its change starts a new sweep.\n"
            ),
            {
                "kind": "sweep-stopped",
                "outcome": "error",
                "sweep_id": checkpoint.sweep_id,
                "trigger": checkpoint.trigger,
                "processed": checkpoint.processed,
                "reason": reason,
            },
            {"outcome": "error"},
        )
        metrics.add_metric(name="SweepStopped", unit=MetricUnit.Count, value=1)


def resume_index(names: list[str], checkpoint: Checkpoint) -> int:
    """Where in ``names`` (the page the checkpoint's token fetches) the sweep goes on.

    By name, not by offset: sets created or deleted since the checkpoint shift the
    page, and an offset would then skip or repeat sets. SES lists sets in name order,
    so the first name after the last one done is where to go on, even if that one was
    deleted meanwhile; only a page in another order falls back to the offset."""
    last = checkpoint.last_name
    if last is None:
        return checkpoint.offset
    if last in names:
        return names.index(last) + 1
    if names == sorted(names):
        return bisect.bisect_right(names, last)
    return min(checkpoint.offset, len(names))


def _identity(sweep: Mapping[str, Any]) -> tuple[str, str]:
    execution, sweep_id = sweep.get("execution"), sweep.get("sweep_id")
    if not isinstance(execution, str) or not isinstance(sweep_id, str):
        raise SweepRequestError("the sweep state needs its execution and sweep_id")
    return execution, sweep_id


def _state(checkpoint: Checkpoint, status: str) -> dict[str, Any]:
    """What the state machine carries from one step to the next (the checkpoint in
    the state table is what counts)."""
    return {
        "status": status,
        "execution": checkpoint.owner,
        "sweep_id": checkpoint.sweep_id,
        "trigger": checkpoint.trigger,
        "started_at": checkpoint.started_at,
        "processed": checkpoint.processed,
        "policy_version": checkpoint.policy_version,
        "done": checkpoint.complete or checkpoint.stopped is not None,
        "wait_seconds": 0,
    }


def _lane_id(lane: LaneKey | None) -> str:
    return f"{lane[0]}#{lane[1]}" if lane else ""


def handle(
    event: Mapping[str, Any], remaining_ms: Callable[[], int], runtime: Runtime
) -> dict[str, Any]:
    """The sweep function's actions: lanes, then for each lane start, step, finish, then
    summary; and, on its own schedule, drift (drift.py)."""
    action = event.get("action")
    logger.append_keys(sweep_action=action)
    given = event.get("input")
    if action == "lanes":
        execution = event.get("execution")
        return lanes.listed(
            runtime,
            given if isinstance(given, Mapping) else {},
            execution if isinstance(execution, str) else None,
        )
    if action == "drift":
        return drift.handle(runtime)
    if action == "summary":
        results = event.get("results")
        if not isinstance(results, (list, Mapping)):
            raise SweepRequestError("summary needs the lanes' results (or where they were written)")
        execution = event.get("execution")
        return lanes.summarize(runtime, results, str(execution or ""))
    if action not in ("start", "step", "finish"):
        raise SweepRequestError(f"unknown sweep action {action!r}")
    sweep = event.get("sweep")
    if action != "start" and not isinstance(sweep, Mapping):
        raise SweepRequestError(f"{action} needs the sweep state")
    given_lane = (
        event.get("lane") if action == "start" else cast(Mapping[str, Any], sweep).get("lane")
    )
    try:
        lane = lanes.lane_key(given_lane)
    except ValueError as exc:
        raise SweepRequestError(str(exc)) from exc
    if lane is not None:
        logger.append_keys(account=lane[0], region=lane[1])
    try:
        in_lane = runtime.for_lane(lane)
    except ClientError as exc:
        cause = lanes.unreachable_cause(exc)
        if cause is None or lane is None:
            raise
        status = lanes.unreachable(runtime, lane, cause, trigger="sweep")
        return {"status": status, "lane": given_lane, "reason": cause, "done": True}
    name = given_lane.get("name") if isinstance(given_lane, Mapping) else None
    sweeper = Sweeper.from_runtime(in_lane, lane, name if isinstance(name, str) and name else None)
    execution = (
        event.get("execution")
        if action == "start"
        else cast(Mapping[str, Any], sweep).get("execution")
    )
    try:
        if action == "start":
            if not isinstance(execution, str) or not execution:
                raise SweepRequestError("start needs the execution that runs the sweep")
            result = sweeper.start(
                execution, trigger_from(given if isinstance(given, Mapping) else event)
            )
        elif action == "step":
            result = sweeper.step(cast(Mapping[str, Any], sweep), remaining_ms)
        else:
            result = sweeper.finish(cast(Mapping[str, Any], sweep))
            if result.get("rerun"):
                result["input"] = {"trigger": result["trigger"]}  # what the next Start reads
    except aws.SessionRefused as exc:
        if lane is None:  # (only a member role's session raises it)
            raise
        # The member role was deleted or stripped while this warm process held its
        # session: the lane is unreachable, exactly as if AssumeRole had failed. Its
        # checkpoint stays and its lock is let go: the next execution resumes it.
        runtime.forget_lane(lane)
        if isinstance(execution, str):
            sweeper.state.release(execution)
        status = lanes.unreachable(runtime, lane, str(exc), trigger="sweep")
        return {"status": status, "lane": given_lane, "reason": str(exc), "done": True}
    return {**result, "lane": given_lane}
