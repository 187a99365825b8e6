"""ses-pool-enforcer: the operator's command line.

Validate, plan, test and publish the policy, report compliance, start a sweep, and
check templates and plans before deploy, with the policy model, the decision and the
reconciler the Lambda functions use: no second implementation of a decision. Entry
point ``ses_pool_enforcer.cli:main`` (the ``ses-pool-enforcer`` console script).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from ses_pool_enforcer import __version__
from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.cli import (
    check,
    plan,
    publish,
    report_cmd,
    smoke,
    sweep,
    testing,
    validate,
)
from ses_pool_enforcer.cli.common import EXIT_ERROR, CliError
from ses_pool_enforcer.config import Settings, SettingsError, get_settings
from ses_pool_enforcer.observability import logger
from ses_pool_enforcer.policy import PolicyError

PROG = "ses-pool-enforcer"
EXIT_INTERRUPTED = 130
COMMANDS = (validate, plan, publish, report_cmd, sweep, smoke, check, testing)

DESCRIPTION = """\
Operate ses-pool-enforcer: check, preview and publish the pool policy, report the
account's compliance, start a sweep, check templates and plans before deploy, test a
policy against cases. AWS access uses the usual settings (profile,
credentials, AWS_REGION, AWS_ENDPOINT_URL for a local endpoint)."""

EPILOG = f"""\
a typical change:
  {PROG} validate policy.yaml --live   # errors, warnings, checked against the account
  {PROG} plan policy.yaml              # which sets would change (exit 2 if any)
  {PROG} publish policy.yaml           # diff, confirm, store a new version in SSM
  {PROG} report                        # compliance, from the inventory

after deploy, in a sandbox account:
  {PROG} smoke --stack NAME            # a throw-away set moved and alerted, end to end

before deploy, in CI:
  {PROG} test policy.tests.yaml         # the policy decides what its cases expect
  {PROG} check --policy policy.yaml template.yaml cdk.out plan.json

'{PROG} COMMAND --help' describes each command."""


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line and exit 1: exit 2 means "changes" for plan."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message} (see '{self.prog} --help')\n")


def _global_options(parser: argparse.ArgumentParser, settings: Settings, *, top: bool) -> None:
    # Accepted before or after the command; a subcommand only overrides what it was given.
    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--region",
        default=default(None),
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)",
    )
    parser.add_argument(
        "--policy-parameter",
        metavar="NAME",
        default=default(settings.policy_parameter),
        help=f"SSM parameter holding the policy (default: POLICY_PARAMETER or "
        f"{Settings.model_fields['policy_parameter'].default})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log every decision (JSON lines on stderr)",
    )


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, settings, top=True)
    shared = argparse.ArgumentParser(add_help=False)
    _global_options(shared, settings, top=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(commands, [shared], settings.ses_calls_per_second)
    return parser


@contextlib.contextmanager
def _aws_session(region: str | None) -> Iterator[None]:
    """Fresh clients for this command, in ``region`` if given; restored afterwards."""
    saved = {key: os.environ.get(key) for key in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    # botocore reads AWS_DEFAULT_REGION only; AWS_REGION is what the AWS CLI v2 and
    # Lambda use, so honour it too.
    region = region or saved["AWS_REGION"]
    if region:
        os.environ.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    aws.reset()  # each command resolves credentials and region anew
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.reset()


@contextlib.contextmanager
def _quiet_lambda_logs(verbose: bool) -> Iterator[None]:
    """The reconciler logs each decision for CloudWatch; here stdout carries the report,
    so those logs go to stderr, and only with --verbose."""
    handler = logger.registered_handler
    stream, level = getattr(handler, "stream", None), logger.log_level
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        if isinstance(handler, logging.StreamHandler) and stream is not None:
            handler.setStream(stream)
        logger.setLevel(level)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe(exc: BaseException) -> str:
    match exc:
        case CliError() | PolicyError() | SettingsError():
            return str(exc)
        case FileNotFoundError():
            return f"no such file: {exc.filename}"
        case OSError() if exc.filename:
            return f"{exc.filename}: {exc.strerror}"
        case UnicodeDecodeError():
            return f"the file is not UTF-8 text: {exc.reason}"
        case NoCredentialsError() | PartialCredentialsError():
            return (
                f"no usable AWS credentials ({exc}): configure a profile (AWS_PROFILE) "
                "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        case NoRegionError():
            return (
                "no AWS region: pass --region, set AWS_REGION, or give the profile a region "
                "(aws configure set region REGION)"
            )
        case ClientError():
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "error"), error.get("Message", str(exc))
            return f"{exc.operation_name} failed: {code}: {message}"
        case _:
            return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (the console script exits with it)."""
    try:
        get_settings.cache_clear()
        settings = get_settings()
    except SettingsError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser(settings)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    args.settings = settings
    try:
        with _aws_session(args.region), _quiet_lambda_logs(args.verbose):
            status: int = args.run(args)
            return status
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say, and nothing to flush.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\nerror: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (
        CliError,
        PolicyError,
        SettingsError,
        OSError,
        UnicodeDecodeError,
        BotoCoreError,
        ClientError,
    ) as exc:
        print(f"error: {_one_line(_describe(exc))}", file=sys.stderr)
        return EXIT_ERROR
