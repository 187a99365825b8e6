"""``plan FILE``: which sets would change outcome if FILE replaced the stored policy.

Each set is read once and judged under both documents by the reconciler's own decision
code (``Reconciler.assess``), target pool existence included; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from ses_pool_enforcer.adapters.ses import PoolDirectory
from ses_pool_enforcer.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    Stored,
    add_scan_options,
    list_names,
    load_document,
    paced_ses,
    print_findings,
    scanning,
)
from ses_pool_enforcer.cli.output import json_text, table
from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.policy import Mode, Policy
from ses_pool_enforcer.reconciler import Reconciler

DESCRIPTION = """\
Compare a policy document with the policy stored in SSM, set by set, against the live
account: read every configuration set once, decide under both documents with the
enforcer's own reconciler (target pools checked), and list the sets whose outcome,
required pool or deciding rule would change. Nothing is written.

ACTION says what the enforcer would do under the new document: move (reassign the
set), report (audit mode: a violation alert), error (e.g. its pool does not exist),
none (compliant, exempt or unmanaged).

Exit status: 0 no changes, 2 changes, 1 error (terraform-style)."""

EPILOG = """\
examples:
  ses-pool-enforcer plan policy.yaml
  ses-pool-enforcer plan policy.yaml --calls-per-second 0.5 --region eu-west-1
  ses-pool-enforcer plan policy.yaml --format json > plan.json

The scan reads one set per call, paced like the sweep: about three hours for 10,000
sets at the default 1 call/s."""

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
    pools = PoolDirectory.listed(ses)
    before = Reconciler(ses, pools, stored.policy or NO_POLICY, enforcement=enforcement)
    after = Reconciler(ses, pools, document.policy, enforcement=enforcement)

    changes: list[Change] = []
    read = 0
    for name in scanning(names, args, "sets read"):
        cs = ses.get_configuration_set(name)
        if cs is None:  # deleted since it was listed
            continue
        read += 1
        change = Change(before.assess(cs), after.assess(cs))
        if _key(change.before) != _key(change.after):
            changes.append(change)

    if args.format == "json":
        print(json_text(_document(args, stored, read, changes, enforcement)), end="")
    else:
        _print_table(args, stored, read, changes, enforcement)
    return EXIT_CHANGES if changes else EXIT_OK


def _record(record: OutcomeRecord) -> dict[str, Any]:
    return {
        "outcome": record.outcome.value,
        "expected_pool": record.expected_pool,
        "rule_id": record.rule_id,
        "reason": record.reason,
    }


def _document(
    args: argparse.Namespace, stored: Stored, read: int, changes: list[Change], mode: Mode
) -> dict[str, Any]:
    return {
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


def _print_table(
    args: argparse.Namespace, stored: Stored, read: int, changes: list[Change], mode: Mode
) -> None:
    audit = " (deployment in audit mode)" if mode is Mode.AUDIT else ""
    print(f"Comparing {args.file} with {stored.describe()}{audit}.")
    if not changes:
        print(f"No changes: all {read} configuration sets keep their outcome.")
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
    print(
        table(["set", "current pool", "expected pool", "rule", "before", "after", "action"], rows)
    )
    parts = [
        label.format(n=n)
        for action, label in SUMMARY.items()
        if (n := sum(c.action == action for c in changes))
    ]
    print(f"Plan: {', '.join(parts)}; {len(changes)} of {read} configuration sets change.")


SUMMARY = {
    "move": "{n} to move",
    "report": "{n} to report",
    "error": "{n} in error",
    "none": "{n} with nothing to do (compliant, exempt or unmanaged)",
}
