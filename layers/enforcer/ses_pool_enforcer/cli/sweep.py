"""``sweep``: start a full reconciliation now, as the schedule would."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.cli.common import EXIT_OK, stack_output

STACK_OUTPUT = "SweepStateMachineArn"

DESCRIPTION = f"""\
Start a sweep (a full reconciliation of every configuration set) now, instead of
waiting for the schedule: starts an execution of the sweep state machine with the
input {{"trigger": "manual"}} and prints its ARN. Name the state machine by ARN, or by
the CloudFormation stack that deployed it (its {STACK_OUTPUT} output)."""

EPILOG = """\
examples:
  ses-pool-enforcer sweep --stack ses-pool-enforcer
  ses-pool-enforcer sweep --state-machine-arn \\
      arn:aws:states:eu-west-1:123456789012:stateMachine:ses-pool-enforcer-sweep
  execution=$(ses-pool-enforcer sweep --stack ses-pool-enforcer)
  aws stepfunctions describe-execution --execution-arn "$execution"
"""


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "sweep",
        parents=parents,
        help="start a full reconciliation now",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--state-machine-arn", metavar="ARN", help="the sweep state machine")
    target.add_argument("--stack", metavar="NAME", help="the deployed stack's name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    arn = args.state_machine_arn or stack_output(args.stack, STACK_OUTPUT)
    now = dt.datetime.now(dt.UTC)
    answer = client("stepfunctions").start_execution(
        stateMachineArn=arn,
        name=f"manual-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        input=json.dumps({"trigger": "manual"}),
    )
    print(answer["executionArn"])
    return EXIT_OK
