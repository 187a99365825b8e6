"""``validate FILE``: schema errors with their field paths, then lint warnings."""

from __future__ import annotations

import argparse
from typing import Any

from ses_pool_enforcer.adapters.organizations import Organization, unknown_ids
from ses_pool_enforcer.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    add_scan_options,
    list_names,
    load_document,
    paced_ses,
    print_findings,
    utc_today,
)
from ses_pool_enforcer.cli.lint import (
    EXPIRY_HORIZON_DAYS,
    Finding,
    Severity,
    document_size,
    lint,
    live_findings,
    tier,
)
from ses_pool_enforcer.cli.output import json_text
from ses_pool_enforcer.policy import Policy

DESCRIPTION = """\
Check a policy document (YAML or JSON) without publishing it.

Errors (the document would be refused): schema violations, each naming its field
path and what was expected, and a document over SSM's 8 KB limit.
Warnings (valid, but probably not meant): rules that can never apply because earlier
rules match every set they match, exemptions expired or expiring within
{days} days, a document over SSM's 4 KB standard tier; with --live also globs that match
no configuration set and dedicated pools that do not exist in the account (rules scoped
to other accounts or regions are skipped), and accounts and organizational units the
organization does not hold (when AWS Organizations can be read from here).

Exit status: 0 valid (warnings allowed), 1 invalid or failed."""

EPILOG = """\
examples:
  ses-pool-enforcer validate policy.yaml
  ses-pool-enforcer validate policy.yaml --live --region eu-west-1
  ses-pool-enforcer validate - --format json < policy.json"""


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "validate",
        parents=parents,
        help="check a policy document: schema errors and lint warnings",
        description=DESCRIPTION.format(days=EXPIRY_HORIZON_DAYS),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the policy document, YAML or JSON ('-' = stdin)")
    parser.add_argument(
        "--live",
        action="store_true",
        help="also check the globs and pools against the account's sets and pools",
    )
    parser.add_argument("--format", choices=["text", "json"], default="text")
    add_scan_options(parser, default_rate)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    document = load_document(args.file)
    findings: list[Finding] = list(document.errors)
    size: int | None = None
    if document.policy is not None:
        size = document_size(document.policy)
        findings += lint(document.policy, utc_today())
        if args.live:
            ses = paced_ses(args)
            policy = document.policy
            wants_identities = bool(policy.identities) or any(e.identity for e in policy.exemptions)
            identities = sorted(ses.list_identities()) if wants_identities else []
            here = Organization(args.settings.account_id)
            findings += live_findings(
                policy,
                list_names(ses),
                ses.list_dedicated_pools(),
                identities,
                here.lane(policy),
            )
            findings += scope_findings(policy)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    warnings = [f for f in findings if f.severity is Severity.WARNING]
    valid = not errors

    if args.format == "json":
        print(
            json_text(
                {
                    "file": args.file,
                    "valid": valid,
                    "size_bytes": size,
                    "tier": tier(size) if size is not None else None,
                    "findings": [
                        {"severity": f.severity.value, "path": f.path, "message": f.message}
                        for f in findings
                    ],
                }
            ),
            end="",
        )
    else:
        print_findings(findings)
        counts = ", ".join(
            f"{len(group)} {name}{'s' * (len(group) != 1)}"
            for group, name in ((errors, "error"), (warnings, "warning"))
            if group
        )
        verdict = "valid" if valid else "invalid"
        stored = f"; {size} bytes as stored ({tier(size)} tier)" if size is not None else ""
        print(f"{args.file}: {verdict}" + (f" ({counts})" if counts else "") + stored)
    return EXIT_OK if valid else EXIT_ERROR


def _scope_paths(policy: Policy) -> list[tuple[str, str]]:
    """(path, id) of every account and OU id the document names."""
    named = [
        *(f"rules[{i}].match" for i in range(len(policy.rules))),
        *(f"identities[{i}].match" for i in range(len(policy.identities or []))),
        *(f"exemptions[{i}]" for i in range(len(policy.exemptions))),
    ]
    found: list[tuple[str, str]] = []
    for path, scope in zip(named, policy.scopes(), strict=True):
        for key in ("accounts", "organizational_units"):
            found += [(f"{path}.{key}[{k}]", v) for k, v in enumerate(getattr(scope, key) or ())]
    return found


def scope_findings(policy: Policy) -> list[Finding]:
    """Accounts and OUs the organization does not hold; or why they were not checked."""
    named = _scope_paths(policy)
    if not named:
        return []
    ids = {value for _, value in named}
    unknown = unknown_ids(
        sorted(i for i in ids if not i.startswith(("ou-", "r-"))),
        sorted(i for i in ids if i.startswith(("ou-", "r-"))),
    )
    if unknown.unreadable is not None:
        return [
            Finding(
                Severity.WARNING,
                "accounts and organizational units not checked against the organization: "
                f"{unknown.unreadable}",
            )
        ]
    return [
        Finding(Severity.WARNING, f"{value!r} is not in the organization", path)
        for path, value in named
        if value in unknown.missing
    ]
