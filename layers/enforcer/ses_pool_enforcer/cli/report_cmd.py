"""``report``: the compliance report, from the inventory (fast) or a live scan (paced).

Built and serialised by ``ses_pool_enforcer.report``, as the sweep's reports are."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.adapters.history import ReportHistory
from ses_pool_enforcer.adapters.inventory import IDENTITIES, SETS, Inventory, Layout
from ses_pool_enforcer.adapters.organizations import Organization
from ses_pool_enforcer.adapters.ses import PoolDirectory, Ses, tenants_for
from ses_pool_enforcer.cli.common import (
    DEFAULT_STACK,
    EXIT_OK,
    CliError,
    Listed,
    Stored,
    add_allow_empty,
    add_scan_options,
    default_stack_outputs,
    list_names,
    naming_table,
    paced_ses,
    require_sets,
    scanning,
    stack_outputs,
)
from ses_pool_enforcer.cli.output import table
from ses_pool_enforcer.model import Kind, Outcome, OutcomeRecord
from ses_pool_enforcer.policy import Mode, PolicyError, governs_identities
from ses_pool_enforcer.reconciler import Reconciler
from ses_pool_enforcer.report import (
    CLI_SWEEP_ID,
    Entry,
    IdentityEntry,
    Report,
    TrendPoint,
    build_report,
    in_lanes,
    to_csv,
    to_json,
)
from ses_pool_enforcer.report_html import to_html

NONE = "-"
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")

DESCRIPTION = """\
Summarise the account's compliance: sets per outcome, per rule and per required pool,
and every non-compliant set (violation, error, flapping).

By default the report is built from the inventory, the DynamoDB table in which the
enforcer records the latest outcome of every set: fast, and as fresh as the last
event or sweep. The inventory's name comes from --inventory-table, else from the
stack's InventoryTableName output (--stack NAME), else from INVENTORY_TABLE, else from
the outputs of a stack named ses-pool-enforcer (samconfig.toml's default, and the
stack make local-aws deploys); the identity and state tables likewise. With --live
every set is read now and judged by the reconciler in dry-run mode (nothing is
written), paced like the sweep. In a live report a set that the enforcer would move
is counted as a violation: it is on the wrong pool now.

Sending identities get a section of their own: from the identity table
(--identity-table, default IDENTITY_TABLE) when there is one, or, with --live, read
now when the stored policy has identity rules. The CSV form lists the sets only.

The JSON, CSV and HTML forms are those of the reports the sweep stores in S3. The
HTML page shows the trend over the last sweeps when it can read their history from
the state table (--state-table, default STATE_TABLE); without it, the page says so.

On an organization's hub the inventory also holds the member accounts' sets, one lane per
account and region. By default the report covers the hub's own lane, as in a single
account. --account (repeatable), --lane-region (repeatable) and --all-accounts select
member lanes instead (the hub's own is account ACCOUNT_ID in the CLI's --region); the
report then has ACCOUNT and REGION columns and a breakdown per lane, and its identities
section holds the selected lanes' identities from the identity table, each with its
ACCOUNT and REGION too. --lane-region is not --region: --region is where the CLI finds
the hub's tables, --lane-region which governed regions to report on."""

EPILOG = """\
examples:
  ses-pool-enforcer report                                  # the stack ses-pool-enforcer's tables
  ses-pool-enforcer report --stack my-enforcer              # another stack's tables
  ses-pool-enforcer report --inventory-table ses-pool-enforcer-inventory --format csv
  ses-pool-enforcer report --live --format json > compliance.json
  ses-pool-enforcer report --format html -o compliance.html --state-table ses-pool-enforcer-state
  ses-pool-enforcer report --all-accounts --format csv      # every lane of the organization
  ses-pool-enforcer report --account 111122223333 --lane-region eu-west-1"""


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "report",
        parents=parents,
        help="compliance report from the inventory or a live scan",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--inventory-table",
        metavar="NAME",
        default=None,
        help="the inventory table (default: INVENTORY_TABLE)",
    )
    source.add_argument(
        "--stack",
        metavar="NAME",
        default=None,
        help="the deployed stack: its InventoryTableName, IdentityTableName and "
        "StateTableName outputs name the tables",
    )
    source.add_argument(
        "--live",
        action="store_true",
        help="read every set now and judge it with the reconciler (dry run, paced)",
    )
    parser.add_argument(
        "--identity-table",
        metavar="NAME",
        default=None,
        help="the identity inventory, for the identities section (default: IDENTITY_TABLE)",
    )
    parser.add_argument("--format", choices=["table", "json", "csv", "html"], default="table")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write the report to FILE instead of standard output",
    )
    parser.add_argument(
        "--state-table",
        metavar="NAME",
        default=None,
        help="where the sweeps' history is kept, for the HTML trend (default: STATE_TABLE)",
    )
    lanes = parser.add_argument_group("member lanes (an organization's hub; inventory only)")
    lanes.add_argument(
        "--account",
        metavar="ID",
        action="append",
        default=None,
        help="report this account's lanes (repeatable)",
    )
    lanes.add_argument(
        "--lane-region",
        metavar="NAME",
        action="append",
        default=None,
        help="report lanes in this governed region only (repeatable; not --region, which "
        "is where the hub's tables are)",
    )
    lanes.add_argument(
        "--all-accounts",
        action="store_true",
        help="report every lane in the inventory: the hub's own and every member's",
    )
    add_allow_empty(parser)
    add_scan_options(parser, default_rate)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    started = _now()
    policy_version = None  # the inventory does not record which version judged each set
    identities: list[IdentityEntry] | None = None
    selecting = bool(args.account or args.lane_region or args.all_accounts)
    if selecting and args.live:
        raise CliError(
            "--account, --lane-region and --all-accounts read the inventory; --live scans "
            "the CLI's own account only"
        )
    if args.account and args.all_accounts:
        raise CliError("--account and --all-accounts: pick one")
    bad = [a for a in args.account or () if not ACCOUNT_ID.match(a)]
    if bad:
        raise CliError(f"not an account id (12 digits): {', '.join(bad)}")
    if args.live:
        entries, identities, source, policy_version = _live_entries(args)
    elif selecting:
        entries, identities, source = _lane_entries(args)
    else:
        table_name = _inventory_table(args)
        with naming_table(table_name):
            rows = list(Inventory(table_name).rows())
        entries, source = [Entry.from_row(row) for row in rows], f"inventory {table_name}"
        if not entries:
            print(
                f"warning: the inventory {table_name} is empty: no event or sweep has "
                "recorded a set yet (start one: ses-pool-enforcer sweep --stack NAME; or "
                "scan the account with --live)",
                file=sys.stderr,
            )
        identity_table = args.identity_table or _from_stack(args, "IdentityTableName")
        if identity_table:
            with naming_table(identity_table):
                found = list(Inventory(identity_table, layout=IDENTITIES).rows())
            # None when the table is empty: a deployment whose policy has no identities
            identities = [IdentityEntry.from_row(row) for row in found] or None
    report = build_report(
        entries,
        sweep_id=CLI_SWEEP_ID,
        trigger=source,
        started_at=started,
        finished_at=_now(),
        policy_version=policy_version,
        trend=_trend(args) if args.format == "html" else None,
        identities=identities,
    )
    text = {
        "json": lambda: to_json(report) + "\n",
        "csv": lambda: to_csv(report),
        "html": lambda: to_html(report),
        "table": lambda: render_table(report),
    }[args.format]()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output} ({len(text.encode()):,} bytes).", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def _inventory_table(args: argparse.Namespace) -> str:
    """The inventory's name: --inventory-table, else --stack's output, else INVENTORY_TABLE
    (what the functions are given), else the output of a stack under the default name."""
    table_name = args.inventory_table or _from_stack(args, "InventoryTableName")
    if not table_name:
        raise CliError(
            f"no inventory table: pass --stack NAME (the deployed stack; none is named "
            f"{DEFAULT_STACK} here), --inventory-table NAME or set INVENTORY_TABLE "
            "(or scan the account with --live)"
        )
    return table_name


_SETTINGS_OF = {
    "InventoryTableName": "inventory_table",
    "IdentityTableName": "identity_table",
    "StateTableName": "state_table",
}


def _from_stack(args: argparse.Namespace, output: str) -> str | None:
    """A table named by --stack's ``output``; without --stack, the setting the functions
    read (INVENTORY_TABLE...), then the output of a stack deployed under the default name."""
    if args.stack:
        return _outputs(args).get(output)
    setting: str | None = getattr(args.settings, _SETTINGS_OF[output])
    if setting:
        return setting
    return _outputs(args).get(output)


def _outputs(args: argparse.Namespace) -> dict[str, str]:
    """The stack's outputs, read once per command (``{}`` when no stack has the default name)."""
    cached: dict[str, str] | None = getattr(args, "stack_outputs", None)
    if cached is None:
        cached = stack_outputs(args.stack) if args.stack else (default_stack_outputs() or {})
        args.stack_outputs = cached
    return cached


def _lane_entries(
    args: argparse.Namespace,
) -> tuple[list[Entry], list[IdentityEntry] | None, str]:
    """The sets and identities of the selected lanes, each naming its lane. The hub's own
    entries (bare names) are the lane of its account in the CLI's region. Identities:
    None without an identity table or when the selected lanes have none, as in the hub's
    own report."""
    table_name = _inventory_table(args)
    accounts = set(args.account or ())
    regions = set(args.lane_region or ())
    home = (Organization(args.settings.account_id).account(), aws.region() or "")
    entries = [
        replace(Entry.from_row(row), account=account, region=region)
        for account, region, row in _selected(table_name, SETS, home, accounts, regions)
    ]
    identities = None
    if identity_table := args.identity_table or _from_stack(args, "IdentityTableName"):
        selected = _selected(identity_table, IDENTITIES, home, accounts, regions)
        identities = [
            replace(IdentityEntry.from_row(row), account=account, region=region)
            for account, region, row in selected
        ] or None
    chosen = [
        *(["accounts " + ", ".join(sorted(accounts))] if accounts else []),
        *(["regions " + ", ".join(sorted(regions))] if regions else []),
    ]
    return entries, identities, f"inventory {table_name}, " + ("; ".join(chosen) or "every lane")


def _selected(
    table_name: str,
    layout: Layout,
    home: tuple[str, str],
    accounts: set[str],
    regions: set[str],
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """The rows of ``table_name`` (the inventory, or the identity table) in the selected
    lanes (no account or region given: every one), each with its account and region;
    ``home``: the hub's own lane, whose entries have bare names. Accounts and regions
    both given: each member lane is read through its index, not a scan of every lane."""
    with naming_table(table_name):
        yield from _lane_rows(table_name, layout, home, accounts, regions)


def _lane_rows(
    table_name: str,
    layout: Layout,
    home: tuple[str, str],
    accounts: set[str],
    regions: set[str],
) -> Iterator[tuple[str, str, dict[str, str]]]:
    if accounts and regions:
        for where in sorted((a, r) for a in accounts for r in regions):
            lane = layout if where == home else layout.in_lane(*where)
            for row in Inventory(table_name, layout=lane).rows():
                yield where[0], where[1], row
        return
    for account, region, row in Inventory(table_name, layout=layout).lane_rows():
        account, region = account or home[0], region or home[1]
        if accounts and account not in accounts:
            continue
        if regions and region not in regions:
            continue
        yield account, region, row


def _trend(args: argparse.Namespace) -> tuple[TrendPoint, ...] | None:
    """The recorded sweeps, or None (the page then says there is no history)."""
    table_name = args.state_table or _from_stack(args, "StateTableName")
    if not table_name:
        return None
    try:
        return ReportHistory(table_name).trend()
    except ClientError as exc:
        print(f"warning: no sweep history from {table_name}: {exc}", file=sys.stderr)
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _live_entries(
    args: argparse.Namespace,
) -> tuple[list[Entry], list[IdentityEntry] | None, str, str | None]:
    stored = Stored.read(args.policy_parameter)
    if stored.policy is None:
        raise CliError(
            f"no policy stored in {args.policy_parameter}: nothing is enforced (publish one first)"
        )
    if isinstance(stored.policy, PolicyError):
        print(
            f"warning: the stored policy is invalid and not enforced: {stored.policy}",
            file=sys.stderr,
        )
    ses = paced_ses(args)
    names = list_names(ses)
    require_sets(names, args)
    reconciler = Reconciler(
        ses,
        PoolDirectory.listed(ses),
        stored.policy,
        enforcement=Mode(args.settings.enforcement_mode),
        lane=Organization(args.settings.account_id).lane(stored.policy),
        tenants=tenants_for(ses, stored.policy),
    )
    entries = []
    for name in scanning(names, args, "sets read"):
        cs = ses.get_configuration_set(name)
        if cs is not None:  # else deleted since it was listed
            entries.append(live_entry(reconciler.assess(cs)))
    identities = None
    if governs_identities(stored.policy):
        identities = _live_identities(ses, replace(reconciler, kind=Kind.IDENTITY), names, args)
    version = str(stored.stored.version) if stored.stored is not None else None
    return entries, identities, f"live scan under {stored.describe()}", version


def _live_identities(
    ses: Ses, reconciler: Reconciler, set_names: list[str], args: argparse.Namespace
) -> list[IdentityEntry]:
    """Every identity read now and judged (dry run), its default set's existence taken
    from the sets just listed."""
    reconciler = replace(reconciler, sets=Listed(frozenset(set_names)))
    entries = []
    for name in scanning(sorted(ses.list_identities()), args, "identities read"):
        identity = ses.get_email_identity(name)
        if identity is not None:  # else deleted since it was listed
            entries.append(live_identity_entry(reconciler.assess(identity)))
    return entries


def live_identity_entry(record: OutcomeRecord) -> IdentityEntry:
    """A dry-run identity record as an inventory entry: one the enforcer would give its
    required default set lacks it now (a violation)."""
    remediable = record.outcome is Outcome.REMEDIATED
    return IdentityEntry(
        identity=record.configuration_set,
        outcome=(Outcome.VIOLATION if remediable else record.outcome).value,
        default_configuration_set=record.current_pool,
        required=record.expected_pool,
        rule_id=record.rule_id,
        reason=(
            f"default configuration set {record.current_pool or 'none'}, expected "
            f"{record.expected_pool} (the enforcer assigns it)"
            if remediable
            else record.reason
        ),
        checked_at=record.checked_at.isoformat(),
        tenants=record.tenants,
    )


def live_entry(record: OutcomeRecord) -> Entry:
    """A dry-run record as an inventory entry. A set the reconciler would move is, right
    now, a violation: it is still on the wrong pool."""
    entry = Entry.from_record(record)
    if record.outcome is not Outcome.REMEDIATED:
        return entry
    return replace(
        entry,
        outcome=Outcome.VIOLATION.value,
        reason=f"on {record.current_pool}, expected {record.expected_pool} (the enforcer moves it)",
    )


# --------------------------------------------------------------------------- rendering


def _breakdown(title: str, groups: dict[str, dict[str, int]], outcomes: list[str]) -> str:
    rows = [
        [name, str(counts["sets"]), *(str(counts.get(o, 0)) for o in outcomes)]
        for name, counts in groups.items()
    ]
    return table([title, "sets", *outcomes], rows)


def _by_lane(report: Report) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = {}
    for e in report.entries:
        counts = groups.setdefault(f"{e.account} {e.region}", {"sets": 0})
        counts["sets"] += 1
        counts[e.outcome] = counts.get(e.outcome, 0) + 1
    return groups


def render_table(report: Report) -> str:
    lanes = in_lanes(report)
    sets = "configuration set" if report.total == 1 else "configuration sets"
    header = f"Compliance report: {report.total} {sets} ({report.trigger}).\n"
    if not report.total:  # (identities may still be there: an account without sets)
        identities = [_identities_table(report, lanes)] if report.identities is not None else []
        return "\n".join([header, *identities])
    ratio = report.compliance_ratio
    outcomes = [o for o, n in report.counts.items() if n]
    parts = [
        header
        + (
            f"Compliance: {ratio:.2%} ({report.compliant} of {report.managed} managed sets "
            "compliant, remediated or exempt).\n"
            if ratio is not None
            else "Compliance: n/a (no set is managed).\n"
        ),
        table(["outcome", "sets"], [[o, str(report.counts[o])] for o in outcomes]),
        *([_breakdown("account / region", _by_lane(report), outcomes)] if lanes else []),
        _breakdown("rule", report.by_rule, outcomes),
        _breakdown("required pool", report.by_pool, outcomes),
    ]
    bad = report.non_compliant()
    if bad:
        rows = [
            [
                *([e.account or NONE, e.region or NONE] if lanes else []),
                e.configuration_set,
                e.outcome,
                e.current_pool or NONE,
                e.expected_pool or NONE,
                e.rule_id or NONE,
                e.reason,
            ]
            for e in bad
        ]
        headers = ["set", "outcome", "current pool", "expected pool", "rule", "reason"]
        parts.append(
            f"Non-compliant sets ({len(bad)}):\n"
            + table([*(["account", "region"] if lanes else []), *headers], rows)
        )
    else:
        parts.append("Every managed set is compliant, remediated or exempt.\n")
    if report.identities is not None:
        parts.append(_identities_table(report, lanes))
    return "\n".join(parts)


def _identities_table(report: Report, lanes: bool) -> str:
    section = report.identities
    assert section is not None
    ratio = section.compliance_ratio
    text = f"Identities: {section.total}" + (
        f", compliance {ratio:.2%} ({section.compliant} of {section.managed} managed).\n"
        if ratio is not None
        else " (none managed).\n"
    )
    counts = [[o, str(n)] for o, n in section.counts.items() if n]
    if counts:
        text += table(["outcome", "identities"], counts)
    bad = section.non_compliant()
    if bad:
        rows = [
            [
                *([e.account or NONE, e.region or NONE] if lanes else []),
                e.identity,
                e.outcome,
                e.default_configuration_set or NONE,
                e.required or NONE,
                e.rule_id or NONE,
                e.reason,
            ]
            for e in bad
        ]
        headers = ["identity", "outcome", "default set", "required", "rule", "reason"]
        text += f"\nNon-compliant identities ({len(bad)}):\n" + table(
            [*(["account", "region"] if lanes else []), *headers], rows
        )
    return text
