"""What the commands share: reading documents, the stored policy, SES access, errors."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.adapters.budget import LocalBudget
from ses_pool_enforcer.adapters.policy_store import StoredPolicy, read_stored
from ses_pool_enforcer.adapters.ses import Ses
from ses_pool_enforcer.cli.lint import Finding, Severity, schema_findings
from ses_pool_enforcer.cli.output import Progress, duration
from ses_pool_enforcer.documents import NotADocument
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
STDIN = "-"
ETA_NOTICE_SECONDS = 20.0


class CliError(Exception):
    """A failure worth one line on stderr and exit code 1."""


def read_text(path: str) -> str:
    """The file's text; ``-`` reads standard input."""
    if path == STDIN:
        return sys.stdin.read()
    file = Path(path)
    if file.is_dir():
        raise CliError(f"{path} is a directory, not a policy document")
    return file.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Document:
    path: str
    policy: Policy | None
    errors: list[Finding]


def load_document(path: str) -> Document:
    """Parse a YAML or JSON policy file; schema errors are returned, not raised."""
    text = read_text(path)
    try:
        return Document(path, parse_policy(text), [])
    except PolicyError as exc:
        cause = exc.__cause__
        if isinstance(cause, NotADocument) and cause.line is not None:
            where = "<stdin>" if path == STDIN else path
            problem = str(cause).replace(f"line {cause.line}, column {cause.column}: ", "")
            located = f"{where}:{cause.line}:{cause.column}: {problem}\n{cause.caret()}"
            return Document(path, None, [Finding(Severity.ERROR, located.rstrip())])
        return Document(path, None, schema_findings(exc))


def print_findings(findings: list[Finding]) -> None:
    for finding in findings:
        print(f"{finding.severity.value}: {finding}")


@dataclass(frozen=True)
class Stored:
    """The policy in SSM: absent (``stored`` None), valid, or invalid (a PolicyError)."""

    parameter: str
    stored: StoredPolicy | None
    policy: Policy | PolicyError | None

    @classmethod
    def read(cls, parameter: str) -> Stored:
        stored = read_stored(parameter)
        if stored is None:
            return cls(parameter, None, None)
        try:
            return cls(parameter, stored, parse_policy(stored.text))
        except PolicyError as exc:
            return cls(parameter, stored, exc)

    def describe(self) -> str:
        if self.stored is None:
            return f"{self.parameter} (no policy stored)"
        state = " (INVALID: never enforced)" if isinstance(self.policy, PolicyError) else ""
        return f"{self.parameter} version {self.stored.version}{state}"


@dataclass(frozen=True)
class Listed:
    """Which configuration sets exist, as a command's own listing found them (for
    judging identities' default sets without asking SES again)."""

    names: frozenset[str]

    def exists(self, name: str) -> bool:
        return name in self.names


def paced_ses(args: argparse.Namespace) -> Ses:
    """SES access spending from the same call budget as the sweep."""
    return Ses(budget=LocalBudget(args.calls_per_second))


def list_names(ses: Ses) -> list[str]:
    return sorted(ses.list_configuration_sets())


def scanning(names: list[str], args: argparse.Namespace, label: str) -> Iterator[str]:
    """The names, one by one, with progress on stderr (one SES read each is expected,
    paced by ``args.calls_per_second``)."""
    estimate = len(names) / args.calls_per_second
    if estimate >= ETA_NOTICE_SECONDS:
        print(
            f"Reading {len(names)} configuration sets at {args.calls_per_second:g} call/s "
            f"(about {duration(estimate)}).",
            file=sys.stderr,
        )
    progress = Progress(len(names), label, sys.stderr) if args.progress else None
    try:
        for name in names:
            yield name
            if progress is not None:
                progress.advance()
    finally:
        if progress is not None:
            progress.close()


def add_scan_options(parser: argparse.ArgumentParser, default_rate: float) -> None:
    parser.add_argument(
        "--calls-per-second",
        type=positive_float,
        default=default_rate,
        metavar="N",
        help="SES call budget, shared with everything else the account does "
        f"(default: SES_CALLS_PER_SECOND or {default_rate:g}, as the sweep)",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress indicator on stderr",
    )


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


DEFAULT_STACK = "ses-pool-enforcer"  # samconfig.toml's stack_name, and local AWS's stack


def stack_outputs(stack: str) -> dict[str, str]:
    """The outputs of the CloudFormation stack ``stack`` (what ``--stack`` reads)."""
    try:
        answer = client("cloudformation").describe_stacks(StackName=stack)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            raise CliError(
                f"no stack {stack} in {aws.region() or 'the default region'}: deploy it "
                "(sam deploy), start local AWS with its stack (make local-aws), or pass "
                "--region"
            ) from None
        raise
    return {
        str(o["OutputKey"]): str(o["OutputValue"]) for o in answer["Stacks"][0].get("Outputs") or []
    }


def stack_output(stack: str, key: str) -> str:
    value = stack_outputs(stack).get(key)
    if value is None:
        raise CliError(f"stack {stack} has no {key} output")
    return value


def default_stack_outputs() -> dict[str, str] | None:
    """The outputs of the stack deployed under the default name, or None if there is none."""
    try:
        return stack_outputs(DEFAULT_STACK)
    except CliError:
        return None


def add_allow_empty(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="an account with no configuration set is not an error (default: it is, "
        "because a wrong region or account also lists none)",
    )


def require_sets(names: list[str], args: argparse.Namespace) -> None:
    """Zero sets listed is an error unless --allow-empty: a wrong region or profile lists
    none, and a plan of nothing would pass a CI job green."""
    if names or args.allow_empty:
        return
    try:
        account = str(client("sts").get_caller_identity()["Account"])
    except (ClientError, BotoCoreError):
        account = "the credentials' account"
    raise CliError(
        f"no configuration sets in account {account}, region {aws.region()}: is this the "
        "account and region you meant (--region, AWS_PROFILE)? Pass --allow-empty if it "
        "has none"
    )


@contextlib.contextmanager
def naming_table(table: str) -> Iterator[None]:
    """DynamoDB's "Requested resource not found" said with the table's name and region."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise CliError(
            f"no table {table} in region {aws.region()}: check its name (the stack's "
            "outputs: aws cloudformation describe-stacks) and --region"
        ) from None
