"""``check PATH...``: the pool of every configuration set in templates and plans, judged
before deploy by the enforcer's own ``evaluate``."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

from ses_pool_enforcer import __version__
from ses_pool_enforcer.adapters.policy_store import read_parameter_values
from ses_pool_enforcer.adapters.ses import Ses
from ses_pool_enforcer.cli.check_output import (
    not_checked,
    nothing_to_check,
    to_document,
    to_table,
)
from ses_pool_enforcer.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    CliError,
    Stored,
    read_text,
)
from ses_pool_enforcer.cli.output import json_text
from ses_pool_enforcer.iac.declared import IacError, Scan
from ses_pool_enforcer.iac.junit import to_junit
from ses_pool_enforcer.iac.sarif import to_sarif
from ses_pool_enforcer.iac.sources import scan_path
from ses_pool_enforcer.iac.verdict import IdentityVerdict, Verdict, judge, judge_identity
from ses_pool_enforcer.model import Lane, PoolState
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy

DESCRIPTION = """\
Check the configuration sets that templates and plans declare against the policy,
before anything is deployed: the same decision the enforcer makes once they exist.

Reads CloudFormation and SAM templates (YAML with !Ref, !Sub, !GetAtt... or JSON), CDK
output (a cdk.out folder or its *.template.json files) and Terraform plans
(terraform show -json plan.out). A pool referenced by Ref or GetAtt to an
AWS::SES::DedicatedIpPool beside the set, a template parameter (--parameter or its
Default) and Fn::Sub are resolved; whatever is decided only at deploy is reported as
unresolved when the policy's answer depends on it, never guessed.

Findings: wrong-pool (the set is not on the pool the policy requires), undefined-pool
(no checked file declares the pool, nor the account with --live), unresolved.
Reads no AWS unless --stored or --live asks for it.

Exit status: 0 every set complies (or nothing to check), 2 findings, 1 error."""

EPILOG = """\
examples:
  ses-pool-enforcer check --policy policy.yaml template.yaml
  ses-pool-enforcer check --policy policy.yaml cdk.out
  terraform show -json plan.out > plan.json
  ses-pool-enforcer check --stored --live plan.json
  ses-pool-enforcer check --policy policy.yaml --parameter Stage=prod \\
      --format sarif -o results.sarif template.yaml"""

FORMATS = ("table", "json", "sarif", "junit")


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "check",
        parents=parents,
        help="check the pools of configuration sets in templates and plans (exit 2 if any finding)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="a template, a plan JSON or a cdk.out folder"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--policy", metavar="FILE", help="the policy document, YAML or JSON")
    source.add_argument(
        "--stored", action="store_true", help="the policy stored in SSM (--policy-parameter)"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="also accept the dedicated pools that exist in the account, and read the "
        "template's SSM-typed parameters (AWS::SSM::Parameter::Value<...>) from SSM",
    )
    parser.add_argument(
        "--parameter",
        metavar="KEY=VALUE",
        type=_parameter,
        action="append",
        default=[],
        help="a template parameter's value (repeatable); AWS::Region and the other "
        "pseudo parameters too",
    )
    parser.add_argument(
        "--account",
        metavar="ID",
        type=_account,
        help="the account the sets will be deployed to, for rules scoped by accounts "
        "(default: the AWS::AccountId --parameter; without either, such a rule leaves "
        "a set unresolved); --region, or the AWS::Region --parameter, for rules scoped "
        "by regions",
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the report to FILE; with --format json, sarif or junit the table "
        "still goes to standard output, for the log",
    )
    parser.set_defaults(run=run)


def _account(text: str) -> str:
    if not re.fullmatch(r"[0-9]{12}", text):
        raise argparse.ArgumentTypeError(f"not an AWS account id (12 digits): {text!r}")
    return text


def _parameter(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE: {text!r}")
    return key, value


def run(args: argparse.Namespace) -> int:
    policy, policy_source = _policy(args)
    scans: list[Scan] = []
    for path in args.paths:
        scans += _scan(path, dict(args.parameter), live=args.live)
    pools = set().union(*(scan.pools for scan in scans))
    pool_modes = {pool: mode for scan in scans for pool, mode in scan.pool_modes.items()}
    declared = [s for scan in scans for s in scan.sets]
    live_pools: dict[str, PoolState] = {}
    if args.live and declared:
        ses = Ses()
        pools |= ses.list_dedicated_pools()
        # The account's pools some rule asks the health of: their IPs and warm-up, read
        # once each (one GetDedicatedIps per 1000 IPs).
        for pool in sorted(policy.pools_with_health() & pools):
            if (state := ses.pool_state(pool)) is not None:
                live_pools[pool] = state
    now = dt.datetime.now(dt.UTC)
    # The lane the sets are bound for, as given (or as the pseudo parameters say); check
    # reads no organization: a rule scoped by OUs leaves its sets unresolved.
    given = dict(args.parameter)
    lane = Lane(
        args.account or given.get("AWS::AccountId"),
        getattr(args, "region", None) or given.get("AWS::Region"),
        None,
        "check does not read the organization",
    )
    verdicts = [
        judge(
            policy,
            s,
            pools,
            now,
            account_checked=args.live,
            lane=lane,
            pool_modes=pool_modes,
            live_pools=live_pools,
        )
        for s in declared
    ]
    # Identities are judged only by a policy that has identity rules.
    identities = [
        judge_identity(policy, identity, now, lane)
        for scan in scans
        for identity in scan.identities
        if policy.identities
    ]
    _write(args, verdicts, identities, scans, policy_source)
    findings = any(v.findings for v in verdicts) or any(v.findings for v in identities)
    return EXIT_CHANGES if findings else EXIT_OK


def _scan(path: str, parameters: dict[str, str], *, live: bool) -> list[Scan]:
    """What ``path`` declares; with ``live``, its SSM-typed parameters read from SSM as
    CloudFormation reads them at deploy (a missing one stays open)."""
    try:
        scans = scan_path(path, parameters)
        wanted = {name: ssm for scan in scans for name, ssm in scan.ssm_parameters.items()}
        if not live or not wanted:
            return scans
        values = read_parameter_values(sorted(set(wanted.values())))
        read = {name: values[ssm] for name, ssm in wanted.items() if ssm in values}
        return scan_path(path, {**read, **parameters}) if read else scans
    except IacError as exc:
        raise CliError(str(exc)) from exc


def _policy(args: argparse.Namespace) -> tuple[Policy, str]:
    if args.policy is not None:
        try:
            return parse_policy(read_text(args.policy)), args.policy
        except PolicyError as exc:
            raise CliError(f"{args.policy}: {exc}") from exc
    stored = Stored.read(args.policy_parameter)
    if stored.policy is None:
        raise CliError(f"no policy stored in {args.policy_parameter}: nothing to check against")
    if isinstance(stored.policy, PolicyError):
        raise CliError(f"the policy in {stored.describe()}: {stored.policy}")
    return stored.policy, stored.describe()


def _write(
    args: argparse.Namespace,
    verdicts: list[Verdict],
    identities: list[IdentityVerdict],
    scans: list[Scan],
    policy_source: str,
) -> None:
    text = to_table(verdicts, scans, policy_source, identities)
    if args.format == "json":
        report = json_text(to_document(verdicts, scans, policy_source, identities))
    elif args.format == "sarif":
        report = json_text(to_sarif([*verdicts, *identities], version=__version__, base=Path.cwd()))
    elif args.format == "junit":
        report = to_junit([*verdicts, *identities])
    else:
        report = text
    if args.output is not None:
        Path(args.output).write_text(report, encoding="utf-8")
        if args.format != "table":
            print(text, end="")
    else:
        print(report, end="")
        if args.format != "table" and not verdicts and not identities:
            print(nothing_to_check(scans), file=sys.stderr)
        if args.format != "table":
            print(not_checked(scans), end="", file=sys.stderr)
