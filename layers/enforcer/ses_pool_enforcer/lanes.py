"""Lanes: one per account and region (DESIGN principle 9). A single-account deployment has
one, its own; a hub (``MEMBER_ROLE_NAME`` set) also has every active account of its member
OUs in each member region. Each lane is swept on its own budget, lock and checkpoint; a
lane that fails or cannot be reached never stops the others.

* ``listed``: the sweep's lanes (its state machine's Map runs one iteration each); only
  the named account's when the input names one (``new-account``: its StackSet instance
  has just been created); past INLINE_LANES, written to S3 for a Distributed Map.
* ``summarize``: after every lane: whether any failed, and in organization mode the one
  organization report (counts per account and region, ComplianceRatio per account; in
  S3 as JSON, CSV and HTML, and its worst accounts in one SNS message), read from the
  inline Map's results or, one lane at a time, from the Distributed Map's result files.
* ``unreachable``: a member whose role cannot be assumed, or whose role session is
  refused (the role deleted or stripped while a warm process held the session): one
  error alert (at most one an hour per account and process), unless the account has
  left the organization or its member OUs (``departed``): then its work ends quietly,
  with a log line and a metric.
* ``prune_departed``: at the end of every organization sweep, the entries and state of
  lanes governed no more (their account left, or their region left MEMBER_REGIONS) are
  deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters import aws, state
from ses_pool_enforcer.adapters.inventory import IDENTITIES, SETS, Inventory
from ses_pool_enforcer.adapters.organizations import member_accounts
from ses_pool_enforcer.config import SettingsError
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.observability import NAMESPACE, logger, metrics
from ses_pool_enforcer.organization import OrganizationReport, fit_summary, lane_of
from ses_pool_enforcer.runtime import Runtime
from ses_pool_enforcer.work import LaneKey

ALERT_SECONDS = 3600.0
MEMBERS_SECONDS = 300.0  # how long a process remembers an account found gone
# More lanes than this run on the Distributed Map, listed in S3: an inline Map's history
# (about 26 events a lane, 25,000 in all) and its state (256 KB, a lane's result about
# 0.5 KB) hold a few hundred lanes at most; this keeps a wide margin under both.
INLINE_LANES = 100
# A StackSet instance's stack: arn:<partition>:cloudformation:<region>:<account>:stack/...
STACK_ID = re.compile(
    r"^arn:[a-z-]+:cloudformation:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):stack/"
)
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


def lane_key(value: Any) -> LaneKey | None:
    """A lane as the state machine carries it (``{"account", "region"}``, or null for
    the deployment's own)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"a lane is an object with account and region: {value!r}")
    account, region = value.get("account"), value.get("region")
    if not (isinstance(account, str) and account and isinstance(region, str) and region):
        raise ValueError(f"a lane needs an account and a region: {dict(value)!r}")
    return account, region


@dataclass(frozen=True)
class Named:
    """The one account (and maybe region) an execution's input asks to sweep."""

    account: str
    region: str | None = None


def named(given: Mapping[str, Any], role_region: str | None) -> Named | None:
    """The account the input names, if any: ``{"account", "region"?}``, or the
    ``stack_id`` of a StackSet instance (the new-account rule's input). An instance in
    ``role_region`` (the first member region, where the member role is created) names the
    whole account: the role exists from then on, so every member region can be swept;
    another region's instance names that region only. Raises ValueError on a malformed
    name (never guessed: a wrong guess would sweep the whole organization)."""
    stack_id = given.get("stack_id")
    if stack_id is not None:
        match = STACK_ID.match(stack_id) if isinstance(stack_id, str) else None
        if match is None:
            raise ValueError(f"not a CloudFormation stack ARN: {stack_id!r}")
        region = match["region"]
        return Named(match["account"], None if region == role_region else region)
    account, region = given.get("account"), given.get("region")
    if account is None:
        if region is not None:
            raise ValueError("a region is named without its account")
        return None
    if not (isinstance(account, str) and ACCOUNT_ID.match(account)):
        raise ValueError(f"not an account id: {account!r}")
    if region is not None and not (isinstance(region, str) and region):
        raise ValueError(f"not a region: {region!r}")
    return Named(account, region)


def _refused(runtime: Runtime, given: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """No lane at all: the input named something this deployment does not govern."""
    logger.warning(
        "lanes refused: nothing is swept",
        extra={"reason": reason, "trigger": given.get("trigger")},
    )
    metrics.add_metric(name="SweepRefused", unit=MetricUnit.Count, value=1)
    return {"lanes": [], "max_concurrency": runtime.settings.lane_concurrency, "refused": reason}


def _listed_for(runtime: Runtime, given: Mapping[str, Any], target: Named) -> dict[str, Any]:
    """The lanes of the one account the input names: its member regions, or the one
    region named. An account that is not an active account of MEMBER_OUS, or a region
    outside MEMBER_REGIONS, is refused (no lane, and the log says why). The hub's own
    account in its own region is the deployment's own lane."""
    settings = runtime.settings
    home = (settings.account_id, aws.region())
    account = target.account
    if not settings.member_role_name:
        if (account, target.region or home[1]) == home:
            own = [{"lane": None, "input": dict(given)}]
            return {"lanes": own, "max_concurrency": settings.lane_concurrency}
        return _refused(runtime, given, f"account {account} is not governed: no organization")
    if target.region is not None and target.region not in settings.member_regions:
        return _refused(
            runtime,
            given,
            f"region {target.region} is not one of MEMBER_REGIONS "
            f"({', '.join(settings.member_regions)})",
        )
    # Raises ClientError: the state machine retries, then fails the execution (alarmed);
    # the next scheduled sweep covers the account anyway.
    accounts = member_accounts(settings.member_ous)
    if account not in accounts:
        return _refused(
            runtime,
            given,
            f"account {account} is not an active account of MEMBER_OUS "
            f"({', '.join(settings.member_ous)})",
        )
    items: list[dict[str, Any]] = []
    for region in (target.region,) if target.region else settings.member_regions:
        if (account, region) == home:
            items.append({"lane": None, "input": dict(given)})
        else:
            lane = {"account": account, "region": region, "name": accounts[account]}
            items.append({"lane": lane, "input": dict(given)})
    logger.info("lanes listed", extra={"lanes": len(items), "account": account})
    return {"lanes": items, "max_concurrency": settings.lane_concurrency}


def listed(
    runtime: Runtime, given: Mapping[str, Any], execution: str | None = None
) -> dict[str, Any]:
    """The lanes to sweep, each with the execution's input: this deployment's own, and
    in organization mode every (member account, member region) but its own. An
    organization that cannot be read sweeps the own lane only, and says so in an alert.
    An input that names an account (``new-account``) sweeps that account's lanes only.
    More than INLINE_LANES lanes are written to S3 for the Distributed Map (``lanes_at``:
    where they are, where their results go), not answered in the state."""
    settings = runtime.settings
    try:
        target = named(given, settings.member_regions[0] if settings.member_regions else None)
    except ValueError as exc:
        return _refused(runtime, given, str(exc))
    if target is not None:
        return _listed_for(runtime, given, target)
    items: list[dict[str, Any]] = [{"lane": None, "input": dict(given)}]
    if settings.member_role_name:
        home = (settings.account_id, aws.region())
        try:
            accounts = member_accounts(settings.member_ous)
        except (ClientError, BotoCoreError) as exc:
            logger.error("member accounts unknown", extra={"cause": str(exc)})
            runtime.alerts.publish(
                "[ses-pool-enforcer] error: member accounts unknown, own account swept only",
                f"The sweep could not list the accounts of {', '.join(settings.member_ous)}: "
                f"{exc}\n\nOnly the hub's own account and region are swept this time.\n",
                {"outcome": Outcome.ERROR.value, "reason": f"member accounts unknown: {exc}"},
                {"outcome": Outcome.ERROR.value},
            )
            accounts = {}
        for account in sorted(accounts):
            for region in settings.member_regions:
                if (account, region) != home:
                    lane = {"account": account, "region": region, "name": accounts[account]}
                    items.append({"lane": lane, "input": dict(given)})
    logger.info("lanes listed", extra={"lanes": len(items)})
    if len(items) > INLINE_LANES:
        store = runtime.report_store()
        if store is None or not execution:
            raise SettingsError(
                f"{len(items)} lanes need REPORT_BUCKET and the execution to list them in S3"
            )
        return {
            "lanes_at": store.put_lanes(execution, items),
            "lane_count": len(items),
            "max_concurrency": settings.lane_concurrency,
        }
    return {"lanes": items, "max_concurrency": settings.lane_concurrency}


def departed(runtime: Runtime, account: str) -> bool:
    """Whether ``account`` is governed no more: it left the organization or the member
    OUs (StackSets then removes its member stack, role and all). Asked only when its
    role cannot be assumed, and of the organization only when that would be alerted (an
    account alerted within the hour is not asked again on every event; one found gone
    is remembered for MEMBERS_SECONDS). False while it is listed, and when the list
    cannot be read or there is none (MEMBER_OUS unset): the failure is then alerted."""
    settings = runtime.settings
    if account == settings.account_id or not settings.member_ous:
        return False
    now = runtime.clock.time()
    if now - runtime.departed_at.get(account, float("-inf")) < MEMBERS_SECONDS:
        return True
    if now - runtime.lane_alerted_at.get(account, float("-inf")) < ALERT_SECONDS:
        return False
    try:
        accounts = member_accounts(settings.member_ous)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("member accounts unknown", extra={"cause": str(exc)})
        return False
    if account in accounts:
        return False
    runtime.departed_at[account] = now
    return True


def unreachable(runtime: Runtime, lane: LaneKey, cause: str, trigger: str) -> str:
    """``lane``'s member role cannot be assumed or its session is refused:
    ``"departed"`` when its account is governed no more (its work ends here: a log line
    and a metric, no alert), else ``"unreachable"`` and an error alert."""
    if departed(runtime, lane[0]):
        logger.info(
            "account governed no more: its work ends",
            extra={"account": lane[0], "region": lane[1], "trigger": trigger, "cause": cause},
        )
        metrics.add_metric(name="LaneDeparted", unit=MetricUnit.Count, value=1)
        return "departed"
    alert_unreachable(runtime, lane, cause, trigger)
    return "unreachable"


def alert_unreachable(runtime: Runtime, lane: LaneKey, cause: str, trigger: str) -> None:
    """An error alert: ``lane``'s member role cannot be assumed (missing, denied,
    deleted) or its session is refused; nothing is read or written there until it can."""
    logger.error("member lane unreachable", extra={"account": lane[0], "region": lane[1]})
    metrics.add_metric(name="LaneUnreachable", unit=MetricUnit.Count, value=1)
    # One alert an account, whatever the number of its regions and events.
    account, region = lane
    now = runtime.clock.time()
    if now - runtime.lane_alerted_at.get(account, float("-inf")) < ALERT_SECONDS:
        return
    runtime.lane_alerted_at[account] = now
    role = runtime.settings.member_role_name
    text = (
        f"The enforcer cannot act in account {account}, region {region}: its role {role} "
        f"cannot be assumed or used: {cause}\n\n"
        "Nothing is read or changed in that account until the role can be assumed; the other "
        "accounts are enforced as usual. Check that the member stack (the StackSet "
        "instance) exists there and that its role trusts the hub's function roles.\n"
    )
    runtime.alerts.publish(
        f"[ses-pool-enforcer] error: account {account} ({region}) unreachable",
        text,
        {
            "outcome": Outcome.ERROR.value,
            "reason": f"member role {role} unavailable: {cause}",
            "account": account,
            "region": region,
            "trigger": trigger,
        },
        {"outcome": Outcome.ERROR.value},
    )


def unreachable_cause(exc: ClientError) -> str | None:
    """Why a member cannot be reached, or None when the failure is worth a retry."""
    if aws.error_code(exc) in aws.TRANSIENT_CODES | aws.THROTTLING_CODES:
        return None
    return str(exc)


def summarize(
    runtime: Runtime, results: Iterable[Mapping[str, Any]] | Mapping[str, Any], execution: str
) -> dict[str, Any]:
    """Every lane's end: failed lanes fail the execution (the first one's error is its
    error); in organization mode, the lanes governed no more are removed, then the
    organization report. ``results`` is the inline Map's list of lane results, or the
    Distributed Map's ResultWriter output, whose files are read one lane at a time."""
    settings = runtime.settings
    distributed = isinstance(results, Mapping)
    if distributed:
        store = runtime.report_store()
        if store is None:
            raise SettingsError("REPORT_BUCKET is needed to read the lanes' results")
        lanes: Iterable[Mapping[str, Any]] = (
            lane_result(e) for e in store.lane_results(cast(Mapping[str, Any], results))
        )
    else:
        lanes = cast(Iterable[Mapping[str, Any]], results)
    removed = prune_departed(runtime) if settings.member_role_name else []
    home_key = (settings.account_id or "", aws.region() or "")
    report = OrganizationReport(execution, runtime.clock.now().isoformat(), removed=removed)
    counted = failed = unreachable = 0
    error: Any = None
    home: dict[str, Any] = {}
    for result in lanes:
        counted += 1
        status = result.get("status")
        if status == "failed":
            failed += 1
            error = error or result.get("error")
        elif status == "unreachable":
            unreachable += 1
        if result.get("lane") is None:
            home = dict(result)
        report.add(lane_of(result, home_key))
    # The execution's output: the deployment's own lane's result (what a single-account
    # sweep has always answered), then the lanes'.
    summary: dict[str, Any] = {
        **home,
        "lanes": counted,
        "failed": failed,
        "unreachable": unreachable,
        "error": error if isinstance(error, Mapping) else None,
        "removed": removed,
    }
    if settings.member_role_name and counted:
        # (No lane: the input named nothing this hub governs; there is nothing to report.)
        store = runtime.report_store()
        links = store.store_organization(report) if store else None
        published = fit_summary(report, links)
        runtime.alerts.publish(
            published.title, published.text, published.document, {"outcome": "report"}
        )
        _compliance_metrics(report)
        summary["organization_report"] = links
        if not distributed:  # (thousands of accounts would not fit a state's 256 KB)
            summary["accounts"] = {a: e.document() for a, e in report.accounts.items()}
    logger.info(
        "sweep lanes done",
        extra={k: summary[k] for k in ("lanes", "failed", "unreachable")},
    )
    return summary


def lane_result(execution: Mapping[str, Any]) -> dict[str, Any]:
    """A lane's result from the child execution's record in a ResultWriter file: its
    output when it succeeded, else a failed lane (its error and cause) named by its input."""
    if execution.get("Status") == "SUCCEEDED":
        return dict(json.loads(execution.get("Output") or "{}"))
    given = json.loads(execution.get("Input") or "{}")
    return {
        "status": "failed",
        "lane": given.get("lane") if isinstance(given, Mapping) else None,
        "error": {
            "Error": execution.get("Error") or f"States.{execution.get('Status')}",
            "Cause": execution.get("Cause") or "the lane's execution did not succeed",
        },
    }


def prune_departed(runtime: Runtime) -> list[dict[str, Any]]:
    """Each member lane the state table keeps items for that is governed no more (its
    account is not an active account of MEMBER_OUS now: it left the organization or the
    OUs; or its region left MEMBER_REGIONS) loses its inventory and identity entries and
    its state (budget, lock, checkpoint, report history). Nothing is removed when the
    member accounts cannot be listed (or MEMBER_OUS is unset), and the hub's own lane
    never is. Returns the lanes
    removed, with the number of entries each had."""
    settings = runtime.settings
    if not settings.state_table or not settings.member_ous:
        return []
    try:
        accounts = member_accounts(settings.member_ous)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("member accounts unknown: no lane removed", extra={"cause": str(exc)})
        return []
    home = (settings.account_id, aws.region())
    removed: list[dict[str, Any]] = []
    for lane, ids in sorted(state.lanes_kept(settings.state_table).items()):
        account, region = lane
        if lane == home or (account in accounts and region in settings.member_regions):
            continue
        entries = 0
        for table, layout in (
            (settings.inventory_table, SETS),
            (settings.identity_table, IDENTITIES),
        ):
            if table:
                entries += Inventory(table, layout.in_lane(account, region)).remove_lane()
        state.forget(settings.state_table, ids)
        logger.info(
            "lane governed no more: removed",
            extra={"account": account, "region": region, "entries": entries},
        )
        removed.append({"account": account, "region": region, "entries": entries})
    if removed:
        metrics.add_metric(name="LanesRemoved", unit=MetricUnit.Count, value=len(removed))
    return removed


def _compliance_metrics(report: OrganizationReport) -> None:
    """A ComplianceRatio metric per account."""
    for account, entry in report.accounts.items():
        ratio = entry.compliance_ratio
        if ratio is not None:
            with single_metric(
                name="ComplianceRatio",
                unit=MetricUnit.NoUnit,
                value=ratio,
                namespace=NAMESPACE,
            ) as metric:
                metric.add_dimension(name="account", value=account)
