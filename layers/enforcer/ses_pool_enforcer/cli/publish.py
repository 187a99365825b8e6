"""``publish FILE``: validate, show the diff against SSM, confirm, write a new version."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import Any

import yaml

from ses_pool_enforcer.adapters.organizations import Organization
from ses_pool_enforcer.adapters.policy_store import write_policy
from ses_pool_enforcer.adapters.ses import Ses
from ses_pool_enforcer.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    CliError,
    Stored,
    load_document,
    print_findings,
    utc_today,
)
from ses_pool_enforcer.cli.lint import (
    Severity,
    document_size,
    lint,
    missing_pool_findings,
    tier,
)
from ses_pool_enforcer.policy import Policy

DESCRIPTION = """\
Publish a policy document to SSM Parameter Store, where the enforcer reads it.

The document is validated first (an invalid one is refused and nothing is written),
then checked against the account's dedicated pools (a pool that does not exist is
refused unless --force: its sets would be errors, never moved), then shown as a diff
against the stored version (as YAML, in the document's own order), then
written as canonical JSON after you confirm, as an advanced parameter if it is over
4 KB. Publishing an identical document does nothing. Run 'plan' first to see which
sets the change would move.

Exit status: 0 published or nothing to publish, 1 refused or failed."""

EPILOG = """\
examples:
  ses-pool-enforcer publish policy.yaml
  ses-pool-enforcer publish policy.yaml --yes          # in CI: no prompt
  ses-pool-enforcer publish policy.yaml --policy-parameter /team/ses-policy"""


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "publish",
        parents=parents,
        help="validate, diff and store a policy document in SSM",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the policy document, YAML or JSON ('-' = stdin)")
    parser.add_argument(
        "-y", "--yes", action="store_true", help="publish without asking for confirmation"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="publish even though a dedicated pool it names does not exist in the account",
    )
    parser.set_defaults(run=run)


def as_yaml(text: str) -> str:
    """The document as YAML, keys in the order the policy's fields are written (rules in
    the user's order), for a diff that reads like the file; text that is not JSON as is."""
    try:
        data = json.loads(text)
    except ValueError:
        return text if text.endswith("\n") else text + "\n"
    dumped: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return dumped


def run(args: argparse.Namespace) -> int:
    document = load_document(args.file)
    if document.policy is None:
        print_findings(document.errors)
        print(f"error: {args.file} is not a valid policy; nothing published", file=sys.stderr)
        return EXIT_ERROR
    policy = document.policy
    findings = lint(policy, utc_today())
    print_findings(findings)
    if any(f.severity is Severity.ERROR for f in findings):
        print(f"error: {args.file} cannot be stored; nothing published", file=sys.stderr)
        return EXIT_ERROR

    missing = missing_pool_findings(
        policy,
        Ses().list_dedicated_pools(),
        Organization(args.settings.account_id).lane(policy),
    )
    print_findings(missing)
    if missing and not args.force:
        print(
            f"error: {args.file} names a dedicated pool that does not exist here: the sets "
            "it governs would be reported as errors, never moved; create the pool first, "
            "or pass --force to publish anyway; nothing published",
            file=sys.stderr,
        )
        return EXIT_ERROR

    stored = Stored.read(args.policy_parameter)
    old = _comparable(stored)
    new = as_yaml(policy.to_json())
    if old == new:
        assert stored.stored is not None
        print(
            f"Nothing to publish: {args.policy_parameter} version {stored.stored.version} "
            "already holds this policy."
        )
        return EXIT_OK

    before = (
        f"{args.policy_parameter} (version {stored.stored.version})"
        if stored.stored
        else f"{args.policy_parameter} (not stored yet)"
    )
    sys.stdout.writelines(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), before, args.file
        )
    )
    size = document_size(policy)
    if not args.yes:
        _confirm(
            f"Publish {args.file} to {args.policy_parameter} ({size} bytes, {tier(size)} tier)?"
        )

    # Someone may have published while we were diffing or waiting for an answer.
    latest = Stored.read(args.policy_parameter).stored
    if (latest and latest.version) != (stored.stored and stored.stored.version):
        raise CliError(
            f"{args.policy_parameter} changed while this diff was shown "
            f"(now version {latest.version if latest else 'deleted'}); nothing published, "
            "run publish again"
        )
    version = write_policy(args.policy_parameter, policy)
    print(f"Published {args.policy_parameter} version {version} ({size} bytes, {tier(size)} tier).")
    return EXIT_OK


def _comparable(stored: Stored) -> str:
    """What the stored document says, in the form the new one is shown: canonical when it
    is a valid policy (so a hand-formatted but identical document is no change)."""
    if stored.stored is None:
        return ""
    if isinstance(stored.policy, Policy):
        return as_yaml(stored.policy.to_json())
    return as_yaml(stored.stored.text)


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise CliError(
            "refusing to publish without confirmation: standard input is not a terminal; "
            "pass --yes to publish non-interactively"
        )
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in {"y", "yes"}:
        raise CliError("not confirmed; nothing published")
