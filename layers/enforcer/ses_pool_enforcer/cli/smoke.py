"""``smoke --stack NAME``: the first check of a real deployment, end to end.

A throw-away configuration set is created on a pool the stored policy does not allow
for it; the command waits for the deployed enforcer to move it (CloudTrail, EventBridge,
the queue, the event function) and for the remediation alert on the stack's alert topic,
then deletes what it made, whatever happened.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.cli.common import EXIT_ERROR, EXIT_OK, CliError, Stored
from ses_pool_enforcer.cli.output import duration
from ses_pool_enforcer.evaluation import evaluate
from ses_pool_enforcer.model import Action, ConfigurationSet, Lane
from ses_pool_enforcer.policy import Mode, Policy, Rule
from ses_pool_enforcer.pools import DEFAULT_POOL, SHARED_POOL, normalise_pool

MARKER = "smoke-test"
TAG = {"Key": "created-by", "Value": "ses-pool-enforcer-smoke"}
SET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what SES accepts as a set's name
# CloudTrail delivers a management event to EventBridge within minutes, best effort.
DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_INTERVAL_SECONDS = 10.0
ALERT_GRACE_SECONDS = 60.0  # after the move, how long the alert may take to arrive

DESCRIPTION = f"""\
Check a deployment end to end, in a sandbox account, after 'sam deploy': read the
stack's outputs and the stored policy, pick a rule that enforces a pool by a name glob,
create a throw-away configuration set named for it (it contains '{MARKER}' and the
time) on a pool the policy does not allow for it, wait until the enforcer moves it,
check the remediation alert on the stack's alert topic (through a temporary SQS queue
subscribed to it), and delete the set, the subscription and the queue, whatever
happens. Prints each step and how long it took.

CloudTrail takes minutes to hand an SES call to EventBridge: the default --timeout is
{DEFAULT_TIMEOUT_SECONDS:g} seconds.

Exit status: 0 the set was moved and alerted, 1 otherwise."""

EPILOG = """\
examples:
  ses-pool-enforcer smoke --stack ses-pool-enforcer
  ses-pool-enforcer smoke --stack ses-pool-enforcer --timeout 900 --region eu-west-1"""


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "smoke",
        parents=parents,
        help="check a deployment end to end with a throw-away configuration set",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", metavar="NAME", required=True, help="the deployed stack")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the move (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="SECONDS",
        help=f"how often to look (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    parser.set_defaults(run=run)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Deployment:
    """What the smoke test needs of the stack."""

    stack: str
    alert_topic: str
    policy_parameter: str
    dead_letter_queue: str | None
    enforcement: Mode

    @classmethod
    def read(cls, stack: str) -> Deployment:
        try:
            found = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            raise CliError(f"stack {stack} cannot be read: {exc}") from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}
        parameters = {
            p["ParameterKey"]: p.get("ParameterValue") for p in found.get("Parameters") or []
        }
        missing = [k for k in ("AlertTopicArn", "PolicyParameterName") if k not in outputs]
        if missing:
            raise CliError(f"stack {stack} has no {' and no '.join(missing)} output")
        return cls(
            stack,
            outputs["AlertTopicArn"],
            outputs["PolicyParameterName"],
            outputs.get("EventDeadLetterQueueUrl"),
            Mode(parameters.get("EnforcementMode") or Mode.ENFORCE.value),
        )


@dataclass(frozen=True)
class Plan:
    """The throw-away set: its name, tags, the pool it is created on and the pool the
    rule must move it to."""

    rule: str
    name: str
    tags: dict[str, str]
    wrong_pool: str
    pool: str


def name_for(glob: str, marker: str) -> str | None:
    """A set name ``glob`` matches that holds ``marker`` in place of its first ``*``, or
    None (no ``*``: the only names it matches are real sets' names)."""
    if "*" not in glob:
        return None
    head, tail = glob.split("*", 1)
    name = head + marker + tail.replace("*", "")
    # A class gives its first character (a negated one, "x"); "?" gives "x". The glob
    # has the last word: a name it does not match is refused.
    name = re.sub(r"\[([^]!][^]]*)\]", lambda m: m[1][0], name)
    name = re.sub(r"\[![^]]*\]", "x", name).replace("?", "x")
    if not SET_NAME.match(name) or not fnmatch.fnmatchcase(name, glob):
        return None
    return name


def choose(
    policy: Policy, pools: list[str], lane: Lane, enforcement: Mode, now: dt.datetime
) -> Plan:
    """The first rule whose name glob yields a throw-away name that the policy, judged as
    the enforcer judges it, would move from an existing pool to the rule's. Raises
    CliError saying why each rule cannot serve."""
    if enforcement is Mode.AUDIT:
        raise CliError("the stack is deployed with EnforcementMode=audit: nothing is ever moved")
    stamp = f"{MARKER}-{now:%Y%m%d-%H%M%S}"
    why: list[str] = []
    for rule in policy.rules:
        reason = _unfit(rule, policy)
        if reason is not None:
            why.append(f"rule {rule.id}: {reason}")
            continue
        tags = {k: (MARKER if v == "*" else v) for k, v in (rule.match.tags or {}).items()}
        tags.setdefault(TAG["Key"], TAG["Value"])
        for glob in rule.match.names or []:
            name = name_for(glob, stamp)
            if name is None:
                why.append(f"rule {rule.id}: no throw-away name matches {glob!r}")
                continue
            target = normalise_pool(rule.pool)
            if target not in pools and target != SHARED_POOL:
                why.append(f"rule {rule.id}: its pool {rule.pool} does not exist here")
                break
            reason = f"no pool other than {target} to create it on"
            for wrong in [p for p in pools if p != target]:
                decision = evaluate(
                    policy,
                    ConfigurationSet(name, wrong, tags=tags),
                    now,
                    lane=lane,
                    enforcement=enforcement,
                )
                if decision.action is Action.REASSIGN and decision.rule_id == rule.id:
                    return Plan(rule.id, name, tags, wrong, target)
                reason = f"the policy would not move {name} from {wrong}: {decision.reason}"
            why.append(f"rule {rule.id}: {reason}")
            break
    detail = "; ".join(why) if why else "the policy has no rules"
    raise CliError(f"no rule to test with: {detail}")


def _unfit(rule: Rule, policy: Policy) -> str | None:
    if (rule.mode or policy.mode) is not Mode.ENFORCE:
        return "audit mode (the enforcer reports, it does not move)"
    if not rule.match.names:
        return "no name glob"
    return None


# --------------------------------------------------------------------------- the run


@dataclass
class Steps:
    """What the run did, each step with its duration, for the summary."""

    lines: list[tuple[str, float, str]] = field(default_factory=list)

    def timed(self, label: str) -> _Step:
        return _Step(self, label)


class _Step:
    def __init__(self, steps: Steps, label: str) -> None:
        self.steps, self.label, self.result = steps, label, "ok"

    def __enter__(self) -> _Step:
        self.started = time.monotonic()
        print(f"- {self.label} ...", file=sys.stderr, flush=True)
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        took = time.monotonic() - self.started
        if exc is not None and self.result == "ok":
            self.result = f"FAILED: {exc}"
        self.steps.lines.append((self.label, took, self.result))


def pools_here(ses: Any) -> list[str]:
    """The pools a set can be put on here: the dedicated pools, then the default one."""
    names: list[str] = []
    token: str | None = None
    while True:
        answer = ses.list_dedicated_ip_pools(**({"NextToken": token} if token else {}))
        names += [p for p in answer.get("DedicatedIpPools", []) if p != SHARED_POOL]
        token = answer.get("NextToken")
        if not token:
            # A named pool first: the set then visibly moves from one pool to another.
            return [*sorted(set(names) - {DEFAULT_POOL}), DEFAULT_POOL]


def run(args: argparse.Namespace) -> int:
    steps = Steps()
    with steps.timed("read the stack's outputs") as step:
        deployment = Deployment.read(args.stack)
        step.result = f"topic {deployment.alert_topic}, policy {deployment.policy_parameter}"
    with steps.timed("read the stored policy") as step:
        stored = Stored.read(deployment.policy_parameter)
        if not isinstance(stored.policy, Policy):
            raise CliError(f"no policy to test with: {stored.describe()}")
        step.result = stored.describe()
    ses = aws.client("sesv2")
    with steps.timed("choose a rule and a throw-away set") as step:
        account = str(aws.client("sts").get_caller_identity()["Account"])
        lane = Lane(account, aws.region(), None, "not read by smoke")
        now = dt.datetime.now(dt.UTC)
        plan = choose(stored.policy, pools_here(ses), lane, deployment.enforcement, now)
        step.result = f"rule {plan.rule}: {plan.name} on {plan.wrong_pool}, expected on {plan.pool}"
    inbox = AlertInbox(deployment.alert_topic, plan.name)
    moved = alerted = existed = False
    try:
        with steps.timed("subscribe a temporary queue to the alert topic") as step:
            inbox.open()
            step.result = inbox.queue_url or ""
        with steps.timed(f"create {plan.name} on {plan.wrong_pool}"):
            try:
                create(ses, plan)
            except ClientError as exc:
                existed = aws.error_code(exc) == "AlreadyExistsException"
                raise
        with steps.timed(f"wait for the enforcer to move it to {plan.pool}") as step:
            seen = wait(lambda: pool_of(ses, plan.name) == plan.pool, args, "move")
            moved = seen is not None
            step.result = f"moved after {_took(seen)}" if seen is not None else "NOT MOVED"
        if moved:
            with steps.timed("wait for the remediation alert") as step:
                grace = argparse.Namespace(timeout=ALERT_GRACE_SECONDS, interval=args.interval)
                seen = wait(inbox.remediated, grace, "alert")
                alerted = seen is not None
                step.result = inbox.describe() if alerted else "NO ALERT"
    finally:
        with steps.timed(f"delete {plan.name}") as step:
            # Never a set this run did not make.
            step.result = "kept: it existed before" if existed else delete(ses, plan.name)
        with steps.timed("remove the temporary subscription and queue"):
            inbox.close()
        summary(steps)
    if not moved:
        print(f"error: {not_moved(plan, deployment, args.timeout)}", file=sys.stderr)
        return EXIT_ERROR
    if not alerted:
        print(
            f"error: {plan.name} was moved but no remediation alert reached the topic "
            f"{deployment.alert_topic} within {duration(ALERT_GRACE_SECONDS)}: check the "
            "event function's logs and the AlertFallbackQueue (alerts SNS refused)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(f"smoke test passed: the enforcer moved {plan.name} to {plan.pool} and alerted")
    return EXIT_OK


def create(ses: Any, plan: Plan) -> None:
    options = {} if plan.wrong_pool == DEFAULT_POOL else {"SendingPoolName": plan.wrong_pool}
    ses.create_configuration_set(
        ConfigurationSetName=plan.name,
        **({"DeliveryOptions": options} if options else {}),
        Tags=[{"Key": k, "Value": v} for k, v in plan.tags.items()],
    )


def pool_of(ses: Any, name: str) -> str:
    answer = ses.get_configuration_set(ConfigurationSetName=name)
    return normalise_pool((answer.get("DeliveryOptions") or {}).get("SendingPoolName"))


def delete(ses: Any, name: str) -> str:
    try:
        ses.delete_configuration_set(ConfigurationSetName=name)
    except ClientError as exc:
        if aws.error_code(exc) == "NotFoundException":
            return "already gone"
        raise
    return "deleted"


def wait(done: Callable[[], bool], args: argparse.Namespace, what: str) -> float | None:
    """Seconds until ``done()``, looking every ``args.interval`` seconds with a progress
    line; None after ``args.timeout`` seconds."""
    started = time.monotonic()
    for elapsed in _ticks(started, args.timeout, args.interval):
        if done():
            return time.monotonic() - started
        print(f"  waiting for the {what}: {duration(elapsed)} so far", file=sys.stderr, flush=True)
    return None


def _ticks(started: float, timeout: float, interval: float) -> Iterator[float]:
    while True:
        elapsed = time.monotonic() - started
        yield elapsed
        if elapsed >= timeout:
            return
        time.sleep(min(interval, max(0.0, timeout - elapsed)))


def not_moved(plan: Plan, deployment: Deployment, timeout: float) -> str:
    dead = dead_letters(deployment.dead_letter_queue)
    return (
        f"the enforcer did not move {plan.name} from {plan.wrong_pool} to {plan.pool} "
        f"within {duration(timeout)}. Check: that a CloudTrail trail logs management events "
        f"in {aws.region()} (EventBridge sees SES calls only through one, minutes late: try "
        f"a longer --timeout); that the stack's EventBridge rules are enabled; the event "
        f"dead-letter queue{dead}; and the event function's logs"
    )


def dead_letters(queue_url: str | None) -> str:
    if not queue_url:
        return ""
    try:
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
    except (ClientError, BotoCoreError) as exc:
        return f" ({queue_url}: unreadable: {exc})"
    return f" ({queue_url}: {attributes.get('ApproximateNumberOfMessages', '?')} messages)"


def summary(steps: Steps) -> None:
    width = max(len(label) for label, _, _ in steps.lines)
    print(f"{'step':<{width}} {'took':>8}  result")
    for label, took, result in steps.lines:
        print(f"{label:<{width}} {_took(took):>8}  {result}")


def _took(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 90 else duration(seconds)


class AlertInbox:
    """A temporary SQS queue subscribed to the alert topic, for the remediation alert
    about one set. Removed by ``close``."""

    def __init__(self, topic: str, name: str) -> None:
        self.topic, self.name = topic, name
        self.queue_url: str | None = None
        self.subscription: str | None = None
        self.alert: dict[str, Any] | None = None

    def open(self) -> None:
        sqs = aws.client("sqs")
        self.queue_url = sqs.create_queue(QueueName=f"ses-pool-enforcer-{self.name}"[:80])[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # The topic may send to this queue, and nothing else may.
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self.topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(allow)})
        self.subscription = aws.client("sns").subscribe(
            TopicArn=self.topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]

    def remediated(self) -> bool:
        """Whether the set's remediation alert has arrived (other alerts are skipped)."""
        if self.queue_url is None:
            return False
        answer = aws.client("sqs").receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        for message in answer.get("Messages", []):
            try:
                document = json.loads(json.loads(message["Body"])["Message"])
            except (KeyError, TypeError, ValueError):
                continue
            if (
                isinstance(document, dict)
                and document.get("configuration_set") == self.name
                and document.get("outcome") == "remediated"
            ):
                self.alert = document
        return self.alert is not None

    def describe(self) -> str:
        alert = self.alert or {}
        return (
            f"remediated ({alert.get('previous_pool')} -> {alert.get('current_pool')}, "
            f"rule {alert.get('rule_id')}, trigger {alert.get('trigger')})"
        )

    def close(self) -> None:
        if self.subscription and self.subscription != "pending confirmation":
            aws.client("sns").unsubscribe(SubscriptionArn=self.subscription)
        if self.queue_url:
            aws.client("sqs").delete_queue(QueueUrl=self.queue_url)
