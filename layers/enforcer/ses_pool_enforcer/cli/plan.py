"""``plan FILE``: which sets (and identities) would change outcome if FILE replaced the
stored policy.

Each set is read once and judged under both documents by the reconciler's own decision
code (``Reconciler.assess``), target pool existence included; nothing is written. When
either document has identity rules, each identity is read once too and judged the same
way, against the sets just listed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ses_pool_enforcer.adapters.organizations import Organization
from ses_pool_enforcer.adapters.ses import PoolDirectory, Ses, TenantDirectory, tenants_for
from ses_pool_enforcer.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    Listed,
    Stored,
    add_allow_empty,
    add_scan_options,
    list_names,
    load_document,
    paced_ses,
    print_findings,
    require_sets,
    scanning,
)
from ses_pool_enforcer.cli.output import json_text, table
from ses_pool_enforcer.model import Kind, Outcome, OutcomeRecord
from ses_pool_enforcer.policy import Mode, Policy, governs_identities
from ses_pool_enforcer.reconciler import Reconciler

DESCRIPTION = """\
Compare a policy document with the policy stored in SSM, set by set, against the live
account: read every configuration set once, decide under both documents with the
enforcer's own reconciler (target pools checked), and list the sets whose outcome,
required pool or deciding rule would change. When either document has identity rules,
every sending identity is read once too and listed the same way. Nothing is written.

ACTION says what the enforcer would do under the new document: move (reassign the
set), assign (set an identity's default configuration set), report (audit mode or a
glob: a violation alert), error (e.g. its pool does not exist), none (compliant, exempt
or unmanaged).

An account and region with no configuration set is an error (exit 1), not "no
changes": a wrong --region or profile lists none too, and CI must not pass on it.
Pass --allow-empty for an account that really has none.

Exit status: 0 no changes, 2 changes, 1 error (terraform-style)."""

EPILOG = """\
examples:
  ses-pool-enforcer plan policy.yaml
  ses-pool-enforcer plan policy.yaml --calls-per-second 0.5 --region eu-west-1
  ses-pool-enforcer plan policy.yaml --format json > plan.json

The scan reads one set (or identity) per call, paced like the sweep: about three hours
for 10,000 sets at the default 1 call/s."""

ACTIONS = {
    Outcome.REMEDIATED: "move",
    Outcome.VIOLATION: "report",
    Outcome.ERROR: "error",
    Outcome.FLAPPING: "error",
}
NO_POLICY = Policy(version=1)  # what "no policy stored" means: nothing is managed


@dataclass(frozen=True)
class Change:
    before: OutcomeRecord
    after: OutcomeRecord

    @property
    def action(self) -> str:
        if self.after.kind is Kind.IDENTITY and self.after.outcome is Outcome.REMEDIATED:
            return "assign"
        return ACTIONS.get(self.after.outcome, "none")


def _key(record: OutcomeRecord) -> tuple[Outcome, str | None, str | None]:
    return record.outcome, record.expected_pool, record.rule_id


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "plan",
        parents=parents,
        help="show which sets would change under a policy document (exit 2 if any)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the policy document, YAML or JSON ('-' = stdin)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument(
        "--enforcement",
        choices=[m.value for m in Mode],
        default=None,
        help="the deployment's enforcement mode (default: ENFORCEMENT_MODE or enforce); "
        "audit turns every move into a report",
    )
    add_allow_empty(parser)
    add_scan_options(parser, default_rate)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    document = load_document(args.file)
    if document.policy is None:
        print_findings(document.errors)
        print(f"error: {args.file} is not a valid policy; nothing to plan", file=sys.stderr)
        return EXIT_ERROR
    stored = Stored.read(args.policy_parameter)
    enforcement = Mode(args.enforcement or args.settings.enforcement_mode)

    ses = paced_ses(args)
    names = list_names(ses)
    require_sets(names, args)
    pools = PoolDirectory.listed(ses)
    # Judged in the caller's lane: its account and region (and OUs if a document names any).
    here = Organization(args.settings.account_id)
    old = stored.policy or NO_POLICY
    tenants = tenants_for(ses, old, document.policy)
    before = Reconciler(
        ses, pools, old, enforcement=enforcement, lane=here.lane(old), tenants=tenants
    )
    after = Reconciler(
        ses,
        pools,
        document.policy,
        enforcement=enforcement,
        lane=here.lane(document.policy),
        tenants=tenants,
    )

    read, changes = _changes(names, ses.get_configuration_set, before, after, args, "sets read")

    identities: Identities | None = None
    if governs_identities(stored.policy, document.policy):
        identities = _plan_identities(ses, pools, names, stored, document.policy, args, tenants)

    if args.format == "json":
        print(json_text(_document(args, stored, read, changes, enforcement, identities)), end="")
    else:
        _print_table(args, stored, read, changes, enforcement, identities)
    some = changes or (identities is not None and identities.changes)
    return EXIT_CHANGES if some else EXIT_OK


@dataclass(frozen=True)
class Identities:
    read: int
    changes: list[Change]


def _plan_identities(
    ses: Ses,
    pools: PoolDirectory,
    set_names: list[str],
    stored: Stored,
    policy: Policy,
    args: argparse.Namespace,
    tenants: TenantDirectory | None,
) -> Identities:
    """Every identity read once and judged under both documents."""
    enforcement = Mode(args.enforcement or args.settings.enforcement_mode)
    sets = Listed(frozenset(set_names))
    old = stored.policy if isinstance(stored.policy, Policy) else NO_POLICY
    here = Organization(args.settings.account_id)
    before, after = (
        Reconciler(
            ses,
            pools,
            p,
            enforcement=enforcement,
            kind=Kind.IDENTITY,
            sets=sets,
            lane=here.lane(p),
            tenants=tenants,
        )
        for p in (old, policy)
    )
    listed = sorted(ses.list_identities())
    read, changes = _changes(listed, ses.get_email_identity, before, after, args, "identities read")
    return Identities(read, changes)


def _changes(
    names: list[str],
    read_one: Callable[[str], Any],
    before: Reconciler,
    after: Reconciler,
    args: argparse.Namespace,
    what: str,
) -> tuple[int, list[Change]]:
    """Read each of ``names`` once and judge it under both documents: how many were read
    (not deleted since listed), and those whose outcome, requirement or rule changes."""
    changes: list[Change] = []
    read = 0
    for name in scanning(names, args, what):
        found = read_one(name)
        if found is None:  # deleted since it was listed
            continue
        read += 1
        change = Change(before.assess(found), after.assess(found))
        if _key(change.before) != _key(change.after):
            changes.append(change)
    return read, changes


def _record(record: OutcomeRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "outcome": record.outcome.value,
        "expected_pool": record.expected_pool,
        "rule_id": record.rule_id,
        "reason": record.reason,
    }
    # Only when read (the rule asks its pool's health; the document names tenants).
    if (state := record.pool_state()) is not None:
        data["target_pool_state"] = state
    if record.tenants is not None:
        data["tenants"] = list(record.tenants)
    return data


def _document(
    args: argparse.Namespace,
    stored: Stored,
    read: int,
    changes: list[Change],
    mode: Mode,
    identities: Identities | None,
) -> dict[str, Any]:
    document = {
        "document": args.file,
        "parameter": args.policy_parameter,
        "stored_version": stored.stored.version if stored.stored else None,
        "stored_valid": stored.stored is None or isinstance(stored.policy, Policy),
        "enforcement": mode.value,
        "sets_read": read,
        "changes": [
            {
                "configuration_set": c.after.configuration_set,
                "current_pool": c.after.current_pool,
                "action": c.action,
                "before": _record(c.before),
                "after": _record(c.after),
            }
            for c in changes
        ],
    }
    if identities is not None:
        document["identities_read"] = identities.read
        document["identity_changes"] = [
            {
                "identity": c.after.configuration_set,
                "default_configuration_set": c.after.current_pool,
                "action": c.action,
                "before": _identity_record(c.before),
                "after": _identity_record(c.after),
            }
            for c in identities.changes
        ]
    return document


def _identity_record(record: OutcomeRecord) -> dict[str, Any]:
    return {
        "outcome": record.outcome.value,
        "required": record.expected_pool,
        "rule_id": record.rule_id,
        "reason": record.reason,
    }


def _print_table(
    args: argparse.Namespace,
    stored: Stored,
    read: int,
    changes: list[Change],
    mode: Mode,
    identities: Identities | None,
) -> None:
    audit = " (deployment in audit mode)" if mode is Mode.AUDIT else ""
    print(f"Comparing {args.file} with {stored.describe()}{audit}.")
    _print_changes(read, changes, "configuration sets", SET_COLUMNS)
    if identities is not None:
        _print_changes(identities.read, identities.changes, "identities", IDENTITY_COLUMNS)


def _summary(changes: list[Change]) -> str:
    return ", ".join(
        label.format(n=n)
        for action, label in SUMMARY.items()
        if (n := sum(c.action == action for c in changes))
    )


SET_COLUMNS = ["set", "current pool", "expected pool", "rule", "before", "after", "action"]
IDENTITY_COLUMNS = ["identity", "default set", "required", "rule", "before", "after", "action"]


def _print_changes(read: int, changes: list[Change], noun: str, columns: list[str]) -> None:
    """The changes as a table (``noun``: what was read), or a line saying there are none."""
    if not changes:
        print(f"No changes: all {read} {noun} keep their outcome.")
        return
    print()
    rows = [
        [
            c.after.configuration_set,
            c.after.current_pool or "-",
            c.after.expected_pool or "-",
            c.after.rule_id or "-",
            c.before.outcome.value,
            c.after.outcome.value,
            c.action,
        ]
        for c in changes
    ]
    if any(c.after.pool_state() is not None for c in changes):
        # The target pool's state, as read, when the new document asks a pool's health.
        columns = [*columns, "target pool state"]
        for row, c in zip(rows, changes, strict=True):
            row.append(c.after.pool_summary() or "-")
    print(table(columns, rows))
    errors = [c for c in changes if c.action == "error"]
    if errors:
        print("\nWhy in error:")
        for c in errors:
            print(f"  {c.after.configuration_set}: {c.after.reason}")
    print(f"Plan: {_summary(changes)}; {len(changes)} of {read} {noun} change.")


SUMMARY = {
    "move": "{n} to move",
    "assign": "{n} to assign a default set",
    "report": "{n} to report",
    "error": "{n} in error",
    "none": "{n} with nothing to do (compliant, exempt or unmanaged)",
}
