"""One reconciler: hold a set, read it, decide, act, record, alert. Every entry point
(events, sweep) calls ``Reconciler.reconcile`` with a ``Work``; they only gather names.
(The CLI judges sets it read itself through ``Reconciler.assess``.)

What makes its effects happen exactly once (docs/design/work-queue.md):

* **Held.** A set is claimed in its inventory item before it is read, with a lease; a
  set held by another worker comes back ``Busy``, and every later write is fenced by
  the claim's owner token. Two workers never act on one set.
* **Stingy.** A claim remembers when it was made; work reporting a change older than
  the last claim is ``Coalesced``: that look saw the change already.
* **Owed effects survive.** Before a move, an intent is recorded; after it, the record
  and the alert owed; the alert is sent and the intent cleared. Whoever holds the set
  next (the retried message, the sweep) finishes what a dead process left.
* **Within the deadline.** A look starts only with a budget slot no later than the
  caller's ``start_by``; a write, once the set is read and must move, may wait until
  ``finish_by`` (the read is paid for). When there is no slot, the set is given back
  untouched and the work comes back ``Busy`` for later.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ses_pool_enforcer import owed
from ses_pool_enforcer.adapters.aws import WRITE_ATTEMPT_SECONDS, throttled, transient
from ses_pool_enforcer.adapters.budget import BudgetExhausted, SlotRequest
from ses_pool_enforcer.adapters.inventory import (
    AlreadyTold,
    Claim,
    Covered,
    Intent,
    IntentPending,
    LastWrite,
    Leased,
    LeaseLost,
    Previous,
    SlotTaken,
)
from ses_pool_enforcer.adapters.ses import PoolDirectory, Ses, TenantDirectory
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.conflicts import Lost, Observation, in_window, lost_options
from ses_pool_enforcer.evaluation import evaluate, evaluate_identity, pipeline_of
from ses_pool_enforcer.flapping import FlapGuard, Hold, Move
from ses_pool_enforcer.model import (
    ALERTING_OUTCOMES,
    UNKNOWN_LANE,
    Action,
    ConfigurationSet,
    Identity,
    Kind,
    Lane,
    Outcome,
    OutcomeRecord,
    Tenant,
)
from ses_pool_enforcer.notices import Notice, Trigger, notice
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.policy import Mode, Policy, PolicyError
from ses_pool_enforcer.work import Work

if TYPE_CHECKING:
    from ses_pool_enforcer.compliance.security_hub import Product

# A set is held from its claim (or its first call's slot, if later) for LEASE_SECONDS and
# let go when its look ends; the lease only matters when the worker dies. A move extends
# it (fenced) by WRITE_SECONDS. A retried read must start READ_MARGIN_SECONDS before the
# lease ends.
LEASE_SECONDS = 20.0
WRITE_SECONDS = 30.0
READ_MARGIN_SECONDS = 5.0
# A call SES still throttles after the SDK's retries: the set is tried again this later.
THROTTLED_BACKOFF_SECONDS = 2.0
# A claim that keeps losing the budget's slot to others gives up after this many tries
# (each loss reveals a later slot, so a sound budget ends in a slot or BudgetExhausted).
CLAIM_ATTEMPTS = 100
# A lost option is put back only where the enforcer may write: a set it keeps on its pool.
RESTORABLE = frozenset({Outcome.COMPLIANT, Outcome.REMEDIATED})
# A deploy pipeline's change that leaves a set off its pool (moved back, or reported).
PIPELINE_OUTCOMES = frozenset({Outcome.REMEDIATED, Outcome.VIOLATION})


class SetStore(owed.Ledger, Protocol):
    """Where sets are held and their outcomes kept (adapters/inventory.Inventory); its intents'
    verbs are the ledger's (owed.Ledger)."""

    def claim(
        self,
        name: str,
        owner: str,
        now: float,
        lease_seconds: float,
        *,
        observed_at: float | None = None,
        judged_by: int | None = None,
        sweep_id: str | None = None,
        slot: SlotRequest | None = None,
    ) -> Claim | Covered | Leased | SlotTaken: ...

    def load(self, claim: Claim) -> Previous: ...

    def unclaim(self, claim: Claim) -> None: ...

    def release(
        self,
        claim: Claim,
        record: OutcomeRecord | None,
        sweep_id: str | None = None,
        held_until: float | None = None,
        *,
        owe: Intent | None = None,
        unless_told: bool = False,
    ) -> dict[str, str] | IntentPending | AlreadyTold: ...

    def begin_move(
        self,
        claim: Claim,
        intent: Intent,
        lease_until: float,
        window: LastWrite | None = None,
        earlier: Sequence[LastWrite] | None = None,
    ) -> None: ...


class Unrecorded:
    """No inventory (a local run without tables): every claim succeeds, nothing is kept."""

    def claim(
        self,
        name: str,
        owner: str,
        now: float,
        lease_seconds: float,
        *,
        observed_at: float | None = None,
        judged_by: int | None = None,
        sweep_id: str | None = None,
        slot: SlotRequest | None = None,
    ) -> Claim | Covered | Leased | SlotTaken:
        return Claim(name, owner, float("inf"))

    def load(self, claim: Claim) -> Previous:
        return Previous({})

    def unclaim(self, claim: Claim) -> None:
        return None

    def release(
        self,
        claim: Claim,
        record: OutcomeRecord | None,
        sweep_id: str | None = None,
        held_until: float | None = None,
        *,
        owe: Intent | None = None,
        unless_told: bool = False,
    ) -> dict[str, str] | IntentPending | AlreadyTold:
        return {}

    def begin_move(
        self,
        claim: Claim,
        intent: Intent,
        lease_until: float,
        window: LastWrite | None = None,
        earlier: Sequence[LastWrite] | None = None,
    ) -> None:
        return None

    def finish_move(
        self,
        claim: Claim,
        record: OutcomeRecord,
        intent: Intent,
        moves: list[Move],
        last_write: LastWrite,
        sweep_id: str | None = None,
    ) -> None:
        return None

    def clear_intent(self, claim: Claim, token: str, *, release: bool) -> None:
        return None

    def drop_intent(self, claim: Claim) -> None:
        return None


Snapshot = ConfigurationSet | Identity


def position(snapshot: Snapshot) -> str | None:
    """Where the enforcer places a set (its pool) or an identity (its default set)."""
    return snapshot.pool if isinstance(snapshot, ConfigurationSet) else snapshot.configuration_set


class SetLookup(Protocol):
    def exists(self, name: str) -> bool | None:
        """True or False when known, None when not."""
        ...


class AlertSink(Protocol):
    def publish(
        self, title: str, text: str, document: dict[str, object], attributes: dict[str, str]
    ) -> None: ...


class Wakeups(Protocol):
    """Asks for a look at a set at a later time (when a flapping hold ends)."""

    def later(
        self, name: str, at: float, trigger: Trigger, kind: Kind = Kind.CONFIGURATION_SET
    ) -> None: ...


class FindingSink(Protocol):
    """Where a set's Security Hub finding goes when its compliance changes
    (adapters/security_hub.SecurityHubFindings): imported at once, as an owed effect is
    paid; never raises."""

    @property
    def product(self) -> Product: ...

    def flush(self, more: Iterable[dict[str, Any]] = ()) -> object: ...


@dataclass(frozen=True)
class Done:
    record: OutcomeRecord


@dataclass(frozen=True)
class Coalesced:
    """A look that started after the reported change covered it: nothing to do."""


@dataclass(frozen=True)
class Busy:
    """Not now: another worker holds the set, or no budget slot before the deadline."""

    retry_at: float
    why: str


Result = Done | Coalesced | Busy


@dataclass
class Reconciler:
    ses: Ses
    pools: PoolDirectory
    policy: Policy | PolicyError
    policy_version: int | None = None
    enforcement: Mode = Mode.ENFORCE
    inventory: SetStore | None = None
    alerts: AlertSink | None = None
    flap: FlapGuard | None = None
    wakeups: Wakeups | None = None
    findings: FindingSink | None = None
    sweep_id: str | None = None
    kind: Kind = Kind.CONFIGURATION_SET
    sets: SetLookup | None = None  # for identities: which configuration sets exist
    # Where the sets live (account, region, the account's OUs): what scoped rules are
    # judged against. Unknown parts leave the rules that name them undecided (no write).
    lane: Lane = UNKNOWN_LANE
    # The tenants of the sets (or identities), read only when the policy names tenants.
    tenants: TenantDirectory | None = None
    clock: Clock = SYSTEM
    lease_seconds: float = LEASE_SECONDS
    write_seconds: float = WRITE_SECONDS

    # ------------------------------------------------------------------ entry

    def reconcile(
        self, work: Work, *, start_by: float | None = None, finish_by: float | None = None
    ) -> Result:
        """Bring ``work.name`` onto the pool the policy demands: its read takes a budget
        slot no later than ``start_by``, its write one no later than ``finish_by``
        (None: as long as it takes)."""
        finish_by = start_by if finish_by is None else finish_by
        if isinstance(self.policy, PolicyError):
            # No claim, no read: nothing is enforced under a document that is not valid.
            record = self._record(
                work.name, Outcome.ERROR, reason=f"policy not enforced: {self.policy}"
            )
            self._done(record, work.trigger)
            self._alert(record, work.trigger)
            return Done(record)
        store: SetStore = self.inventory or Unrecorded()
        claim = self._claim(store, work, start_by, finish_by)
        if not isinstance(claim, Claim):
            return claim
        try:
            with self._read_slot(claim):
                cs = self._read(work.name)
        except BudgetExhausted as exc:  # a retry found no slot while the set is held
            store.unclaim(claim)
            return Busy(exc.retry_at, "no SES call slot before the deadline")
        except ClientError as exc:
            if throttled(exc):  # another tenant of the account's budget: later
                store.unclaim(claim)
                return Busy(self.clock.time() + THROTTLED_BACKOFF_SECONDS, "SES throttled")
            if transient(exc):
                # Retried later. Nobody read the set: the claim covers nothing.
                with contextlib.suppress(LeaseLost, ClientError):
                    store.unclaim(claim)
                raise
            # Access denied, a request SES refuses for this set: asking again will not help.
            failed = self._record(work.name, Outcome.ERROR, reason=f"not reconciled: {exc}")
            return self._conclude(store, claim, work, failed, None)
        read_at = self.clock.time()
        # Another actor's delivery options call: was it lost under our last write?
        previous = store.load(claim) if work.observations else None
        try:
            with self._within(finish_by):  # every other SES call of the look, too
                return self._judge(store, claim, work, cs, read_at, finish_by, previous)
        except BudgetExhausted as exc:  # a pool asked after, a move's write or its retry
            store.unclaim(claim)
            return Busy(exc.retry_at, "no SES call slot before the deadline")
        except ClientError as exc:
            if not throttled(exc):
                raise
            store.unclaim(claim)  # (a move turns its own throttling into Busy)
            return Busy(self.clock.time() + THROTTLED_BACKOFF_SECONDS, "SES throttled")

    def assess(self, snapshot: Snapshot) -> OutcomeRecord:
        """What reconciling ``snapshot`` (a set or an identity) would conclude, writing
        nothing: the policy's decision and the target's existence check. For callers that
        read sets themselves (the CLI's plan and live report)."""
        if isinstance(snapshot, Identity):
            record, _ = self._decide_identity(snapshot)
        else:
            record, _, _ = self._decide(snapshot)
        return record

    def send(self, message: Notice) -> None:
        if self.alerts is not None:
            self.alerts.publish(message.title, message.text, message.document, message.attributes)

    # ------------------------------------------------------------------ holding

    def _claim(
        self, store: SetStore, work: Work, start_by: float | None, finish_by: float | None
    ) -> Claim | Busy | Coalesced:
        """Hold the set and take the slot of its first SES call, together; only if a
        write could still follow the read before ``finish_by`` (a read given back unused
        is a call spent for nothing, and the next look pays it again)."""
        budget = self.ses.budget
        owner = uuid.uuid4().hex
        seen: str | None = None
        first = True
        observed_at = work.observed_at
        for _ in range(CLAIM_ATTEMPTS):
            request: SlotRequest | None = None
            if budget is not None:
                try:
                    with budget.within(start_by):
                        request = budget.request(seen, guess=first)
                except BudgetExhausted as exc:
                    return Busy(exc.retry_at, "no SES call slot before the deadline")
                if request is not None and finish_by is not None:
                    # The write queues behind about as many callers as the read did.
                    queued = max(0.0, request.slot - self.clock.time())
                    if request.slot + queued + budget.interval > finish_by:
                        return Busy(finish_by, "no time for a write after the read")
            claim = store.claim(
                work.name,
                owner,
                self.clock.time(),
                self.lease_seconds,
                observed_at=observed_at,
                judged_by=work.judged_by,
                sweep_id=self.sweep_id,
                slot=request,
            )
            if isinstance(claim, SlotTaken):
                seen, first = claim.seen, False
                continue
            if isinstance(claim, Covered):
                if any(
                    in_window(w.read_at, w.written_at, work.observations) for w in claim.windows
                ):
                    # The covering look read the set after our write overwrote what a
                    # person asked for in its window: only this work can tell. Look.
                    observed_at = None
                    continue
                metrics.add_metric(name="WorkCoalesced", unit=MetricUnit.Count, value=1)
                return Coalesced()
            if isinstance(claim, Leased):
                return Busy(claim.until, "held by another worker")
            if request is not None and budget is not None and claim.slot is not None:
                budget.taken(request)  # (a store with no table takes no slot with a claim)
            return claim
        metrics.add_metric(name="ClaimAttemptsExhausted", unit=MetricUnit.Count, value=1)
        raise RuntimeError(
            f"{work.name}: no SES call slot taken with the claim after {CLAIM_ATTEMPTS} "
            "tries; is the budget item in the state table sound?"
        )

    @contextlib.contextmanager
    def _read_slot(self, claim: Claim) -> Iterator[None]:
        """The read uses the slot taken with the claim; a retry of it must get another
        while the set is still held."""
        budget = self.ses.budget
        if budget is None:
            yield
            return
        with (
            budget.within(claim.lease_until - READ_MARGIN_SECONDS),
            contextlib.ExitStack() as stack,
        ):
            if claim.slot is not None:
                stack.enter_context(budget.prepaid(claim.slot))
            yield

    # ------------------------------------------------------------------ judging

    def _judge(
        self,
        store: SetStore,
        claim: Claim,
        work: Work,
        cs: Snapshot | None,
        read_at: float,
        finish_by: float | None,
        previous: Previous | None,
    ) -> Result:
        if cs is None:
            gone = self._record(
                work.name, Outcome.DELETED, reason=f"{self.kind.value} does not exist"
            )
            return self._conclude(store, claim, work, gone, cs)
        options: dict[str, Any] | None = None
        live = cs  # as read (cs gains the options the policy requires, for the write)
        if isinstance(cs, Identity):
            record, target = self._decide_identity(cs)
        else:
            record, target, required = self._decide(cs, fresh=work.fresh_pools)
            work, record = self._from_pipeline(work, record)
            lost = self._lost(previous, work.observations, cs)
            # Options the policy requires go in the same write as the pool.
            cs = replace(cs, options={**cs.options, **required})
            if lost and record.outcome in RESTORABLE and self.enforcement is Mode.ENFORCE:
                restored = {i.option: i.value for i in lost if i.option not in required}
                options = {**cs.options, **restored}
                target = target or cs.pool
                record = replace(record, outcome=Outcome.REMEDIATED, reason=_restored(record, lost))
        if target is None:
            return self._conclude(store, claim, work, record, live, previous=previous)

        previous = previous or store.load(claim)
        if previous.intent is not None:
            # Finish what a dead holder left (its move recorded and alerted, or dropped),
            # then make this look's own write: it was decided on a read taken after
            # that move, so it is still due (an option lost under it, a newer policy).
            self._settle(store, claim, previous, live)
            previous = store.load(claim)
        if self.flap is not None and options is None:
            now = self.clock.time()
            hold, until = self.flap.hold(previous.moves, previous.held_until, now)
            if hold is not Hold.NO:
                held = replace(
                    record,
                    outcome=Outcome.FLAPPING,
                    reason=_holding(self.flap, self.flap.fighting(previous.moves, now), record),
                )
                if hold is Hold.NEW and self.wakeups is not None:
                    self.wakeups.later(work.name, until, Trigger(source="hold-ended"), self.kind)
                new = hold is Hold.NEW
                return self._conclude(
                    store,
                    claim,
                    work,
                    held,
                    live,
                    held_until=until if new else None,
                    alert=new,
                    previous=previous,
                )
        return self._move(
            store, claim, work, cs, target, record, read_at, finish_by, options, previous
        )

    def _conclude(
        self,
        store: SetStore,
        claim: Claim,
        work: Work,
        record: OutcomeRecord,
        cs: Snapshot | None,
        *,
        held_until: float | None = None,
        alert: bool | None = None,
        written: bool = False,
        previous: Previous | None = None,
    ) -> Result:
        """Record the outcome and let the set go. An outcome that owes an alert (``alert``
        True; None: an alerting outcome the item does not already hold) or a Security Hub
        finding (its compliance changed against the item's ``previous`` outcome) is
        recorded with them owed, in one write; they are paid, then the set let go with
        the debt cleared. Whoever holds the set next pays a debt a dead process left
        (_settle). ``written``: the record is already stored (a settled move); only let
        go."""
        owes = alert if alert is not None else record.outcome in ALERTING_OUTCOMES
        row = None if written else self._row_before(store, claim, record, previous)
        owe = None if written else self._owe(record, work.trigger, owes, row)
        answer = store.release(
            claim,
            None if written else record,
            self.sweep_id,
            held_until,
            owe=owe,
            unless_told=alert is None,
        )
        if isinstance(answer, IntentPending):
            # A previous holder died owing an effect: pay it, then conclude.
            settled = self._settle(store, claim, answer.previous, cs)
            if settled is not None and cs is not None and settled.current_pool == position(cs):
                record, written, owe = settled, True, None
            # (otherwise the settling changed no outcome: ``row`` and ``owe`` still hold)
            answer = store.release(
                claim,
                None if written else record,
                self.sweep_id,
                held_until,
                owe=owe,
                unless_told=alert is None,
            )
        if isinstance(answer, AlreadyTold):  # alerted before: record it, owe its finding only
            owe = self._owe(record, work.trigger, False, row)
            answer = store.release(claim, record, self.sweep_id, held_until, owe=owe)
        if not isinstance(answer, dict):
            raise RuntimeError(f"{claim.name}: an owed effect reappeared while held")
        self._done(record, work.trigger)
        if record.outcome is Outcome.DELETED:
            self._gone(record, answer)
        if owe is not None:
            owed.pay(store, claim, owe, self.send, self._publish, release=True)
        return Done(record)

    def _row_before(
        self, store: SetStore, claim: Claim, record: OutcomeRecord, previous: Previous | None
    ) -> Mapping[str, str] | None:
        """The outcome ``record`` replaces, when a Security Hub finding may depend on it
        (None: no finding is kept for it). The set is held: nobody else changes it."""
        if self.findings is None or record.kind is not Kind.CONFIGURATION_SET:
            return None
        if record.outcome is Outcome.DELETED:
            return None  # its item leaves the inventory: no debt can be kept there (_gone)
        return (previous or store.load(claim)).row

    def _owe(
        self,
        record: OutcomeRecord,
        trigger: Trigger,
        alerts: bool,
        row: Mapping[str, str] | None,
    ) -> Intent | None:
        """What recording ``record`` over ``row`` owes: its alert, its finding."""
        finding = None if row is None else self._finding(record, row)
        return owed.outcome(record, trigger, self.clock.time(), alert=alerts, finding=finding)

    def _move(
        self,
        store: SetStore,
        claim: Claim,
        work: Work,
        cs: Snapshot,
        target: str,
        record: OutcomeRecord,
        read_at: float,
        finish_by: float | None,
        options: dict[str, Any] | None,
        previous: Previous,
    ) -> Result:
        moved = replace(record, current_pool=target, previous_pool=position(cs))
        # (the options the write sends back: what a settled move records as sent)
        kept: Mapping[str, Any] = {}
        if isinstance(cs, ConfigurationSet):
            kept = cs.options if options is None else options
        intent = owed.move(
            moved, work.trigger, position(cs), read_at, kept, self._finding(moved, previous.row)
        )
        budget = self.ses.budget
        # (No slot before the deadline, here or for a retry of the write below: reconcile
        # gives the set back on BudgetExhausted. After the write's first attempt, which
        # may have landed, the intent stays owed; whoever reads the set next settles it.)
        with self._within(finish_by):
            slot = budget.reserve() if budget is not None else self.clock.time()
        # Held until the write's slot and the work after it; the write's window is
        # recorded as wide as that lease before the write, narrowed once it lands.
        lease_until = max(slot, self.clock.time()) + self.write_seconds
        window = LastWrite(read_at, lease_until, self._request(cs, target, options))
        earlier = owed.windows_kept(previous.windows, self.clock.time())
        store.begin_move(claim, intent, lease_until, window, earlier)
        # No attempt of the write (the SDK retries it) starts so late that it could land
        # after the lease: SES writes cannot be conditional on still holding the set.
        last_start = lease_until - WRITE_ATTEMPT_SECONDS
        limit = last_start if finish_by is None else min(finish_by, last_start)
        try:
            with self._within(limit), self._prepaid(slot):
                sent = self._write(cs, target, options)
        except ClientError as exc:
            if throttled(exc):
                # The last attempt was refused for the rate, so not applied; an earlier
                # one (a timeout, a 5xx) may have been. The intent stays owed, as above.
                store.unclaim(claim)
                return Busy(self.clock.time() + THROTTLED_BACKOFF_SECONDS, "SES throttled")
            if transient(exc):
                raise  # the write may have happened: the intent stays for whoever is next
            # Refused (4xx), so not applied: between our read and our write the set or the
            # pool went away, or SES will not take this request.
            store.drop_intent(claim)
            failed = replace(record, outcome=Outcome.ERROR, reason=f"not moved: {exc}")
            return self._conclude(store, claim, work, failed, cs, previous=previous)
        written = LastWrite(read_at, self.clock.time(), sent)
        moves = list(previous.moves)
        if self.flap is not None and options is None:  # a restored option is no pool move
            moves = self.flap.after_move(previous.moves, read_at, _undid(work.trigger))
        store.finish_move(claim, moved, intent, moves, written, self.sweep_id)
        self._done(moved, work.trigger)
        owed.pay(store, claim, intent, self.send, self._publish, release=True)
        return Done(moved)

    def _settle(
        self, store: SetStore, claim: Claim, previous: Previous, cs: Snapshot | None
    ) -> OutcomeRecord | None:
        """Finish what a previous holder of the set left (owed.settle)."""
        return owed.settle(
            store,
            claim,
            previous,
            None if cs is None else position(cs),
            self.send,
            self._publish,
            now=self.clock.time(),
            flap=self.flap,
            sweep_id=self.sweep_id,
            options=cs.options if isinstance(cs, ConfigurationSet) else None,
        )

    # ------------------------------------------------------------------ the kinds

    def _read(self, name: str) -> Snapshot | None:
        if self.kind is Kind.IDENTITY:
            return self.ses.get_email_identity(name)
        return self.ses.get_configuration_set(name)

    def _request(self, cs: Snapshot, target: str, options: dict[str, Any] | None) -> dict[str, Any]:
        """What ``_write`` will send."""
        if isinstance(cs, Identity):
            return {"ConfigurationSetName": target}
        return self.ses.delivery_request(cs, target, options)

    def _write(self, cs: Snapshot, target: str, options: dict[str, Any] | None) -> dict[str, Any]:
        if isinstance(cs, Identity):
            self.ses.set_default_configuration_set(cs.name, target)
            return {"ConfigurationSetName": target}
        return self.ses.reassign(cs, target, options)

    def _set_exists(self, name: str) -> bool:
        """Whether configuration set ``name`` exists: the sets a sweep saw say so (no
        call), SES otherwise."""
        known = self.sets.exists(name) if self.sets is not None else None
        return self.ses.configuration_set_exists(name) if known is None else known

    def _decide_identity(self, identity: Identity) -> tuple[OutcomeRecord, str | None]:
        """The record for ``identity``, and the set to make its default, if one is due."""
        assert not isinstance(self.policy, PolicyError)  # reconcile() stops before
        identity = replace(identity, tenants=self._tenants_of(Kind.IDENTITY, identity.name))
        current = identity.configuration_set
        now = self.clock.now()
        decision = evaluate_identity(
            self.policy,
            identity,
            now,
            lane=self.lane,
            default_exists=current is None or self._set_exists(current),
            enforcement=self.enforcement,
        )
        record = OutcomeRecord(
            identity.name,
            decision.outcome,
            current,
            decision.required,
            decision.rule_id,
            decision.reason,
            now,
            policy_version=self.policy_version,
            kind=Kind.IDENTITY,
            tenants=_names(identity.tenants),
        )
        if decision.action is not Action.REASSIGN or decision.target is None:
            return record, None
        if not self._set_exists(decision.target):
            missing = f"required configuration set {decision.target} does not exist; not assigned"
            return replace(record, outcome=Outcome.ERROR, reason=missing), None
        return record, decision.target

    # ------------------------------------------------------------------ helpers

    def _from_pipeline(self, work: Work, record: OutcomeRecord) -> tuple[Work, OutcomeRecord]:
        """A set a deploy pipeline (an IaC principal) put on the wrong pool: say that its
        source disagrees with the policy. The rule's mode still decides the move."""
        trigger = work.trigger
        if isinstance(self.policy, PolicyError) or record.outcome not in PIPELINE_OUTCOMES:
            return work, record
        pipeline = pipeline_of(self.policy, record.rule_id, trigger.actor, trigger.actor_role)
        if pipeline is None:
            return work, record
        reason = (
            f"{record.reason}; set by a deploy pipeline ({trigger.actor_role or trigger.actor}): "
            "its source (template or plan) disagrees with the policy, fix it there "
            "(ses-pool-enforcer check shows it before deploy)"
        )
        return replace(work, trigger=replace(trigger, pipeline=pipeline)), replace(
            record, reason=reason
        )

    def _lost(
        self, previous: Previous | None, observations: tuple[Observation, ...], cs: ConfigurationSet
    ) -> list[Lost]:
        """What a person asked for inside any kept write window (oldest first, so a later
        window's finding of the same option wins) and the set still lacks."""
        if previous is None or not observations:
            return []
        lost: dict[str, Lost] = {}
        for window in previous.windows:
            found = lost_options(
                window.read_at, window.written_at, window.options, observations, cs.options
            )
            lost.update((item.option, item) for item in found)
        return list(lost.values())

    def _within(self, not_after: float | None) -> contextlib.AbstractContextManager[None]:
        budget = self.ses.budget
        return budget.within(not_after) if budget is not None else contextlib.nullcontext()

    def _prepaid(self, slot: float) -> contextlib.AbstractContextManager[None]:
        budget = self.ses.budget
        return budget.prepaid(slot) if budget is not None else contextlib.nullcontext()

    def _record(self, name: str, outcome: Outcome, *, reason: str) -> OutcomeRecord:
        return OutcomeRecord(
            name,
            outcome,
            None,
            None,
            None,
            reason,
            self.clock.now(),
            policy_version=self.policy_version,
            kind=self.kind,
        )

    def _done(self, record: OutcomeRecord, trigger: Trigger) -> None:
        logger.info("reconciled", extra={"record": record.to_dict(), "trigger": trigger.source})
        metrics.add_metric(name=f"Outcome_{record.outcome.value}", unit=MetricUnit.Count, value=1)

    def _finding(self, record: OutcomeRecord, previous: Mapping[str, str]) -> dict[str, Any] | None:
        """The set's Security Hub finding when ``record`` changes its compliance against
        ``previous`` (the inventory row it replaces); None when Security Hub is off, the
        record is no configuration set's, or nothing changed."""
        if self.findings is None or record.kind is not Kind.CONFIGURATION_SET:
            return None
        from ses_pool_enforcer.compliance.security_hub import on_change  # (switched on)

        return on_change(record, previous, self.findings.product)

    def _publish(self, finding: dict[str, Any]) -> None:
        """Import ``finding`` now (an owed effect being paid; never raises)."""
        if self.findings is not None:
            self.findings.flush([finding])

    def _gone(self, record: OutcomeRecord, previous: Mapping[str, str]) -> None:
        """A deleted set's finding closed, as well as can be: its item has left the
        inventory, so nothing owes it. A sweep's finish closes every open finding of a set
        the inventory no longer holds (compliance/security_hub.resync)."""
        finding = self._finding(record, previous)
        if finding is not None:
            self._publish(finding)

    def _alert(self, record: OutcomeRecord, trigger: Trigger) -> None:
        if record.outcome in ALERTING_OUTCOMES:
            self.send(notice(record, trigger))

    def _tenants_of(self, kind: Kind, name: str) -> tuple[Tenant, ...] | None:
        """A set's or identity's tenants when the policy speaks of them (else None: not
        read, and no call made)."""
        if self.tenants is None or isinstance(self.policy, PolicyError):
            return None
        if not self.policy.names_tenants():
            return None
        return self.tenants.tenants_of(kind, name, self.lane)

    def _decide(
        self, cs: ConfigurationSet, fresh: tuple[str, ...] | None = None
    ) -> tuple[OutcomeRecord, str | None, Mapping[str, str]]:
        """The record for ``cs``, the pool to move it to when a write is due, and the
        delivery options the policy requires with it. ``fresh``: a look's pools just
        created or deleted (None: no look, an assessment, which asks SES of every pool)."""
        if isinstance(self.policy, PolicyError):
            reason = f"policy not enforced: {self.policy}"
            return self._record(cs.name, Outcome.ERROR, reason=reason), None, {}
        cs = replace(cs, tenants=self._tenants_of(Kind.CONFIGURATION_SET, cs.name))
        now = self.clock.now()
        decision = evaluate(self.policy, cs, now, lane=self.lane, enforcement=self.enforcement)
        if decision.needs_pool_state is not None:
            # The rule asks the pool's health: read it (cached per pool), decide again.
            state = self.pools.state(decision.needs_pool_state)
            if state is not None:
                decision = evaluate(
                    self.policy,
                    cs,
                    now,
                    lane=self.lane,
                    enforcement=self.enforcement,
                    pools={state.name: state},
                )
        record = OutcomeRecord(
            cs.name,
            decision.outcome,
            cs.pool,
            decision.expected_pool,
            decision.rule_id,
            decision.reason,
            self.clock.now(),
            policy_version=self.policy_version,
            tenants=_names(cs.tenants),
        ).with_pool(decision.pool_state)
        if decision.expected_pool is None:
            return record, None, {}
        if not self._pool_exists(cs, decision.expected_pool, fresh):
            moving = "not moved" if decision.action is Action.REASSIGN else "not movable either"
            why = "" if decision.outcome is not Outcome.VIOLATION else f"; {decision.reason}"
            return (
                replace(
                    record,
                    outcome=Outcome.ERROR,
                    reason=f"target pool {decision.expected_pool} does not exist; {moving}{why}",
                ),
                None,
                {},
            )
        if decision.action is not Action.REASSIGN:
            return record, None, {}
        return record, decision.expected_pool, decision.options

    def _pool_exists(self, cs: ConfigurationSet, pool: str, fresh: tuple[str, ...] | None) -> bool:
        """Whether ``pool``, which ``cs`` must be on, exists. Asked also of a set already
        "on" it (SES keeps a deleted pool's name on its sets), but a look takes a set's
        own pool at SES's word unless the look is about that pool's change
        (PoolDirectory.holds: a deletion is fanned out to its sets, the sweep lists)."""
        if fresh is not None and cs.pool == pool and pool not in fresh:
            return self.pools.holds(pool)
        return self.pools.exists(pool)


def _names(tenants: tuple[Tenant, ...] | None) -> tuple[str, ...] | None:
    """The tenants' names, sorted; None when they were not read."""
    return None if tenants is None else tuple(sorted(t.name for t in tenants))


def _undid(trigger: Trigger) -> str | None:
    """Whose change a move undoes, for the flap guard."""
    if trigger.pipeline is not None:
        return f"pipeline {trigger.actor_role or trigger.actor}"
    return trigger.actor


def _holding(flap: FlapGuard, fighting: str | None, record: OutcomeRecord) -> str:
    held = (
        f"moved {flap.threshold} times within {flap.window:.0f}s; not moved again until that "
        f"window has passed ({record.reason})"
    )
    if fighting is None:
        return f"changed back again: {held}"
    if fighting.startswith("pipeline "):
        return (
            f"the deploy pipeline {fighting.removeprefix('pipeline ')} keeps putting it back: "
            f"fix the pipeline's source, or the policy; {held}"
        )
    return f"{fighting} keeps changing it back: {held}"


def _restored(record: OutcomeRecord, lost: list[Lost]) -> str:
    restored = ", ".join(f"{item.option}={item.value}" for item in lost)
    who = ", ".join(sorted({item.actor or "another actor" for item in lost}))
    return (
        f"restored {restored}: set by {who} while the enforcer was reassigning the set, "
        f"and overwritten by that reassignment ({record.reason})"
    )
