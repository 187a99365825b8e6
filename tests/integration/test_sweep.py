"""Issue 3: the full reconciliation sweep on local AWS: the real state machine definition
run by moto's Step Functions engine through StartExecution, the real sweep function, SES
paced and counted, the lock, the checkpoint, the inventory and the compliance report."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from functions.sweep import app
from local_aws import call_counts, faults, seed, set_throttle, sfn, throttle_stats
from local_aws.replay import LambdaContext
from local_aws.sfn import Execution
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer import sweep
from ses_pool_enforcer.adapters.alerts import Alerts
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.adapters.reports import ReportStore
from ses_pool_enforcer.adapters.ses import Ses
from ses_pool_enforcer.adapters.state import LockLost
from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.report import SNS_MESSAGE_LIMIT, Entry, build_report, fit_summary
from tests.conftest import reset_process_caches
from tests.support import s3_object

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
RATE = 50  # SES calls per second: the highest budget Settings accepts
LANE_TASKS = 2  # the Lanes and Summary tasks around the one lane's start, steps and finish

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: bulk
    match: {tags: {stream: bulk}}
    pool: ses-default-dedicated-pool
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit
  - id: lists
    match: {names: ["list-*"]}
    pool: lists
exemptions:
  - configuration_set: legacy-*
    reason: OPS-42 migration
    expires: 2099-12-31
"""


# --------------------------------------------------------------------------- helpers


@dataclass
class CountdownContext(LambdaContext):
    """An invocation with time for ``sets`` more sets: a step asks for the remaining
    time once before each set; after that, less than the step's safety margin is left."""

    sets: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.sets -= 1
        return 900_000 if self.sets >= 0 else 59_000


class LambdaKilled(Exception):
    """What a step sees when Lambda ends its invocation (timeout, crash, out of memory)."""


@dataclass
class KilledAfter(LambdaContext):
    sets: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.sets -= 1
        if self.sets < 0:
            raise LambdaKilled("the invocation died mid-step")
        return 900_000


def invoke(payload: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    result: dict[str, Any] = app.handler(payload, context or LambdaContext())
    return result


def run_sweep(trigger: str = "manual", execution: str | None = None) -> Execution:
    """One execution of the real state machine, the sweep function bound to its handler."""
    return sfn.run_sweep(app.handler, {"trigger": trigger}, name=execution)


def ses_calls(operation: str) -> int:
    return call_counts().get(operation, 0)


def inventory_rows(stack: LocalStack) -> dict[str, dict[str, str]]:
    return {row["configuration_set"]: row for row in Inventory(stack.inventory_table).rows()}


def reports(stack: LocalStack) -> list[dict[str, Any]]:
    return [a for a in received_alerts(stack) if a["attributes"].get("outcome") == "report"]


def metrics_emitted(stdout: str) -> dict[str, list[float]]:
    """The metric values in the CloudWatch embedded-metric documents printed."""
    values: dict[str, list[float]] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return values


def create_sets(
    prefix: str,
    count: int,
    pool: str | None = None,
    tls_policy: str | None = None,
    max_delivery_seconds: int | None = None,
    tags: dict[str, str] | None = None,
) -> list[str]:
    """Sets as ``seed.create_set`` makes them, through one client (many sets, quickly)."""
    ses = seed.sesv2()
    options = {
        key: value
        for key, value in (
            ("SendingPoolName", pool),
            ("TlsPolicy", tls_policy),
            ("MaxDeliverySeconds", max_delivery_seconds),
        )
        if value
    }
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    for name in names:
        kwargs: dict[str, Any] = {"ConfigurationSetName": name}
        if options:
            kwargs["DeliveryOptions"] = options
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        ses.create_configuration_set(**kwargs)
    return names


def pools_of(names: list[str]) -> set[str | None]:
    """The pools ``names`` are on now (None: the default pool, no pool named)."""
    ses = seed.sesv2()
    return {
        (ses.get_configuration_set(ConfigurationSetName=n).get("DeliveryOptions") or {}).get(
            "SendingPoolName"
        )
        for n in names
    }


@pytest.fixture
def account(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given an account with two dedicated pools, the policy above and a sweep budget
    monkeypatch.setenv("SES_CALLS_PER_SECOND", str(RATE))
    reset_process_caches()
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(POLICY)
    return stack


# --------------------------------------------------------------------------- a whole sweep


def test_a_sweep_over_every_kind_of_set_leaves_the_enforceable_ones_compliant_and_reports_it(
    account: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 240 sets with every kind of outcome
    compliant = create_sets("mkt-ok", 100, pool="marketing", tls_policy="REQUIRE")
    moved = create_sets(
        "mkt-moved", 40, pool="transactional", tls_policy="REQUIRE", max_delivery_seconds=600
    )
    to_default = create_sets("bulk", 20, pool="marketing", tags={"stream": "bulk"})
    violations = create_sets("tx", 30, pool="marketing")
    exempt = create_sets("legacy", 15, pool="transactional")
    unmanaged = create_sets("misc", 15, pool="marketing")
    errors = create_sets("list", 20)
    # And an inventory entry left by an earlier sweep for a set deleted since
    seed.inventory_entry(
        account.inventory_table,
        "ghost",
        outcome="compliant",
        current_pool="marketing",
        expected_pool="marketing",
        rule_id="marketing",
        reason="on marketing",
        checked_at="2026-01-01T00:00:00+00:00",
        sweep_id="an-earlier-sweep",
    )
    # And SES throttling the account at the sweep's budget
    set_throttle(RATE)
    gets_before, accepted_before = ses_calls("GetConfigurationSet"), throttle_stats().accepted
    started = time.monotonic()

    # When the scheduled sweep runs
    execution = run_sweep("schedule")
    elapsed = time.monotonic() - started

    # Then it succeeds in one start, step and finish, read every set once, wrote only moves
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states == ["Lanes", "How many lanes?", "Each lane", "Start",
                                "Already running?", "Step", "All sets done?", "Finish",
                                "Rerun requested?", "Swept", "Summary", "Every lane swept?",
                                "Swept"]  # fmt: skip
    assert ses_calls("GetConfigurationSet") - gets_before == 240
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 60
    # And it kept to the budget: SES never throttled it
    calls = throttle_stats().accepted - accepted_before
    assert throttle_stats().throttled == 0
    assert calls / elapsed <= RATE * 1.05
    set_throttle(None)
    # And every enforceable set is on its pool, TLS and delivery time kept
    assert pools_of(compliant + moved) == {"marketing"}
    assert seed.delivery_options(moved[0]) == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
        "MaxDeliverySeconds": 600,
    }
    assert pools_of(to_default) == {None}
    # And audit, exempt, unmanaged and error sets are untouched
    assert pools_of(violations + unmanaged) == {"marketing"}
    assert pools_of(exempt) == {"transactional"}
    assert pools_of(errors) == {None}

    # And the inventory holds every set, the vanished one removed
    rows = inventory_rows(account)
    assert "ghost" not in rows
    assert len(rows) == 240
    outcomes = {name: row["outcome"] for name, row in rows.items()}
    expected = {"compliant": 100, "remediated": 60, "violation": 30, "exempt": 15,
                "unmanaged": 15, "error": 20, "flapping": 0}  # fmt: skip
    assert {o: list(outcomes.values()).count(o) for o in expected} == expected
    assert {row["sweep_id"] for row in rows.values()} == {execution.output["sweep_id"]}

    # And one report message whose counts are the inventory's, linking the full report
    [message] = reports(account)
    document = message["alert"]
    assert document["counts"] == expected
    assert document["total"] == 240 and document["managed"] == 225
    assert document["compliance_ratio"] == pytest.approx(175 / 225)
    assert document["removed_from_inventory"] == 1
    assert document["non_compliant_total"] == 50
    assert document["trigger"] == "schedule"
    assert "compliance report: 77.78% compliant, 50 non-compliant" in message["subject"]
    assert execution.output["report"]["counts"] == expected
    links = document["report"]
    assert links["json_uri"] == execution.output["report_uri"]
    assert links["json_console_url"].startswith("https://s3.console.aws.amazon.com/s3/object/")
    full = json.loads(s3_object(links["json_uri"]))
    assert {s["configuration_set"]: s["outcome"] for s in full["sets"]} == outcomes
    csv_lines = s3_object(links["csv_uri"]).splitlines()
    assert csv_lines[0].startswith("configuration_set,outcome,current_pool,expected_pool")
    assert len(csv_lines) == 241
    # And the compliance ratio and each outcome's count went out as metrics
    emitted = metrics_emitted(capsys.readouterr().out)
    assert emitted["ComplianceRatio"] == [pytest.approx(175 / 225)]
    assert {o: emitted[f"SweepSets_{o}"] for o in expected} == {
        o: [float(n)] for o, n in expected.items()
    }


def test_a_sweep_stopped_midway_resumes_from_its_checkpoint_without_reading_sets_again(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 120 sets listed 50 to a page, some on the wrong pool
    monkeypatch.setattr(sweep, "PAGE_SIZE", 50)
    names = create_sets("mkt-a", 100, pool="marketing") + create_sets("mkt-b", 20)
    state = invoke({"action": "start", "execution": "exec-1", "input": {"trigger": "manual"}})
    assert state["status"] == "started"

    # When a step runs out of time after 70 sets, in the second page
    state = invoke({"action": "step", "sweep": state}, CountdownContext(sets=70))
    assert state["done"] is False and state["processed"] == 70
    # And the process dies: the next step starts in a fresh one
    reset_process_caches()
    state = invoke({"action": "step", "sweep": state})
    result = invoke({"action": "finish", "sweep": state})

    # Then the sweep completed, every set was read exactly once
    assert state["done"] is True and state["processed"] == 120
    assert ses_calls("GetConfigurationSet") == 120
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 20
    # (3 pages, and the interrupted page listed again to resume)
    assert ses_calls("ListConfigurationSets") == 4
    assert pools_of(names) == {"marketing"}
    assert result["report"]["counts"]["remediated"] == 20
    assert result["report"]["counts"]["compliant"] == 100
    assert len(inventory_rows(account)) == 120


def test_a_sweep_resumed_after_its_page_shifted_neither_skips_nor_repeats_a_set(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 120 sets listed 50 to a page, and a step that stopped after 70 (20 into the
    # second page)
    monkeypatch.setattr(sweep, "PAGE_SIZE", 50)
    names = create_sets("mkt-a", 120, pool="marketing")
    state = invoke({"action": "start", "execution": "exec-1", "input": {"trigger": "manual"}})
    state = invoke({"action": "step", "sweep": state}, CountdownContext(sets=70))
    assert state["processed"] == 70
    # And, before it resumes, the page it stopped in shifted: ten sets created and five
    # deleted among those the sweep had already done
    done, to_do = names[:70], names[70:]
    created = [f"{name}-new" for name in done[55:65]]
    for name in created:
        seed.create_set(name, pool="transactional")
    for name in done[50:55]:
        seed.sesv2().delete_configuration_set(ConfigurationSetName=name)
    read_before = ses_calls("GetConfigurationSet")

    # When the sweep resumes
    state = invoke({"action": "step", "sweep": state})

    # Then it went on right after the last set it had done: each set it had not yet
    # done read once, none done read again (and the new sets behind it are for events)
    assert state["done"] is True
    assert ses_calls("GetConfigurationSet") - read_before == len(to_do)
    assert state["processed"] == 70 + len(to_do)
    assert pools_of(created) == {"transactional"}


def test_a_sweep_started_by_a_policy_change_enforces_that_version_not_a_cached_one(
    account: LocalStack,
) -> None:
    # Given a warm sweep function that swept under version 1 a moment ago
    names = create_sets("mkt", 5, pool="marketing")
    first = run_sweep("schedule")
    assert first.output["report"]["policy_version"] == 1
    # And then a new version that sends marketing sets to the transactional pool
    version = seed.put_policy(POLICY.replace("pool: marketing", "pool: transactional", 1))
    assert version == 2

    # When the Parameter Store Change starts the sweep, well within the cache's minute
    second = run_sweep("policy-change")

    # Then every set is judged by version 2, and the report says so
    assert second.status == "SUCCEEDED", second.cause
    assert pools_of(names) == {"transactional"}
    assert second.output["report"]["policy_version"] == 2
    [report] = [r for r in reports(account) if r["alert"]["sweep_id"] == second.output["sweep_id"]]
    assert report["alert"]["policy_version"] == "2"
    rows = inventory_rows(account)
    assert {rows[name]["policy_version"] for name in names} == {"2"}


def test_a_step_that_dies_between_checkpoints_is_retried_and_reads_no_set_twice(
    account: LocalStack,
) -> None:
    # Given 60 sets, and a first step invocation that dies after 30 sets
    create_sets("mkt", 60, pool="marketing")
    contexts = iter([KilledAfter(sets=30)])

    def flaky(payload: dict[str, Any], _context: Any) -> dict[str, Any]:
        context = next(contexts, None) if payload["action"] == "step" else None
        return invoke(payload, context)

    # When the state machine runs
    execution = sfn.run_sweep(flaky, {"trigger": "manual"})

    # Then its retry resumed from the last checkpoint and the sweep succeeded
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered("Step") == 1 and execution.task_attempts == 4 + LANE_TASKS
    # The sets after the checkpoint are walked again, but the dead step's looks (after
    # the sweep began, by its version) cover them: none is read twice
    assert 30 % sweep.CHECKPOINT_EVERY_SETS > 0
    assert ses_calls("GetConfigurationSet") == 60
    assert execution.output["report"]["counts"]["compliant"] == 60


def test_a_step_that_keeps_dying_fails_the_execution_and_the_next_one_resumes_its_checkpoint(
    account: LocalStack,
) -> None:
    # Given 60 sets, and a step function that dies after 30 sets (past the checkpoint at
    # 25), then at every retry before reaching the next checkpoint
    create_sets("mkt", 60, pool="marketing")
    lives = iter([30])

    def dying(payload: dict[str, Any], _context: Any) -> dict[str, Any]:
        if payload["action"] != "step":
            return invoke(payload)
        return invoke(payload, KilledAfter(sets=next(lives, 2)))

    # When the state machine runs
    failed = sfn.run_sweep(dying, {"trigger": "schedule"})

    # Then the retries ran out and Catch took it to the Fail state, naming the error
    assert failed.status == "FAILED"
    assert failed.error == "LambdaKilled" and "mid-step" in (failed.cause or "")
    assert failed.states[-1] == "Failed" and failed.entered("Finish") == 0
    # Start, the step 1 + 4 retries, and the Lanes and Summary tasks
    assert failed.entered("Step") == 1 and failed.task_attempts == 1 + 5 + LANE_TASKS
    assert failed.history[-1]["type"] == "ExecutionFailed"
    read_by_failed = ses_calls("GetConfigurationSet")

    # When the lock's lease has run out and the next execution starts, healthy
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=account.state_table,
        Key={"id": {"S": "sweep#lock"}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    resumed = run_sweep("schedule")

    # Then it resumed the failed sweep from its checkpoint and finished it
    assert resumed.status == "SUCCEEDED", resumed.cause
    # (the first task is Lanes, the second the lane's Start)
    [started] = [e for e in resumed.history if e["type"] == "TaskSucceeded"][1:2]
    start_answer = json.loads(started["taskSucceededEventDetails"]["output"])["Payload"]
    assert start_answer["status"] == "resumed" and start_answer["processed"] == 25
    # (the 5 sets the failed one looked at past its checkpoint are covered: each set is
    # read once in all)
    assert read_by_failed == 30
    assert ses_calls("GetConfigurationSet") == 60
    assert resumed.output["report"]["counts"]["compliant"] == 60


# --------------------------------------------------------------------------- one at a time


def test_a_sweep_started_while_one_runs_is_busy_and_a_policy_change_asks_for_one_rerun(
    account: LocalStack,
) -> None:
    # Given a sweep that is running
    create_sets("mkt", 12, pool="marketing")
    running = invoke({"action": "start", "execution": "exec-a", "input": {"trigger": "schedule"}})
    running = invoke({"action": "step", "sweep": running}, CountdownContext(sets=5))

    # When the schedule fires again, then the policy changes twice
    scheduled = invoke({"action": "start", "execution": "exec-b", "input": {"trigger": "schedule"}})
    changed = [
        invoke({"action": "start", "execution": f"exec-{n}", "input": {"trigger": "policy-change"}})
        for n in "cd"
    ]

    # Then each of them is told a sweep is running; only the policy changes ask for a rerun
    assert scheduled["status"] == "busy" and scheduled["sweep_id"] == running["sweep_id"]
    assert scheduled["rerun_requested"] is False
    assert [c["status"] for c in changed] == ["busy", "busy"]
    assert changed[-1]["rerun_requested"] is True
    # And the running sweep carries on undisturbed and asks for exactly one rerun
    running = invoke({"action": "step", "sweep": running})
    assert running["done"] is True and running["processed"] == 12
    finished = invoke({"action": "finish", "sweep": running})
    assert finished["rerun"] is True and finished["trigger"] == "policy-change"
    assert ses_calls("GetConfigurationSet") == 12
    # And the lock is free again
    again = invoke({"action": "start", "execution": "exec-e", "input": {"trigger": "manual"}})
    assert again["status"] == "started" and again["sweep_id"] != running["sweep_id"]


def test_a_policy_change_during_a_sweep_runs_one_more_sweep_after_it_never_beside_it(
    account: LocalStack,
) -> None:
    # Given 10 sets and a sweep execution during whose first step the policy changes twice
    create_sets("mkt", 10, pool="marketing")
    concurrent: list[Execution] = []

    def function(payload: dict[str, Any], _context: Any) -> dict[str, Any]:
        if payload["action"] == "step" and not concurrent:
            machine = sfn.sweep_state_machine(function)
            concurrent.extend(sfn.run(machine, {"trigger": "policy-change"}) for _ in range(2))
        return invoke(payload)

    # When the scheduled execution runs
    execution = sfn.run_sweep(function, {"trigger": "schedule"})

    # Then the executions the policy changes started ended at once, leaving it to this one
    assert [c.status for c in concurrent] == ["SUCCEEDED", "SUCCEEDED"]
    assert all("Left to the running sweep" in c.states for c in concurrent)
    assert all(c.entered("Step") == 0 for c in concurrent)
    # And the running execution swept twice, one after the other
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered("Start") == 2 and execution.entered("Finish") == 2
    assert ses_calls("GetConfigurationSet") == 20
    assert [r["alert"]["trigger"] for r in reports(account)] == ["schedule", "policy-change"]


def test_a_dead_sweep_is_resumed_by_the_next_start_once_its_lease_runs_out(
    account: LocalStack,
) -> None:
    # Given a sweep that died after 4 of 12 sets, and a policy change meanwhile
    create_sets("mkt", 12, pool="marketing")
    dead = invoke({"action": "start", "execution": "exec-a", "input": {"trigger": "schedule"}})
    dead = invoke({"action": "step", "sweep": dead}, CountdownContext(sets=4))
    invoke({"action": "start", "execution": "exec-b", "input": {"trigger": "policy-change"}})

    # When the next scheduled run starts while the lease still holds, and after it ran out
    early = invoke({"action": "start", "execution": "exec-c", "input": {"trigger": "schedule"}})
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=account.state_table,
        Key={"id": {"S": "sweep#lock"}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    late = invoke({"action": "start", "execution": "exec-d", "input": {"trigger": "schedule"}})

    # Then the first is busy and the second resumes the same sweep where it stopped
    assert early["status"] == "busy"
    assert late["status"] == "resumed" and late["sweep_id"] == dead["sweep_id"]
    assert late["processed"] == 4
    late = invoke({"action": "step", "sweep": late})
    assert late["done"] is True
    assert ses_calls("GetConfigurationSet") == 12
    # And the dead execution, were it to wake up, can no longer touch the sweep
    with pytest.raises(LockLost):
        invoke({"action": "step", "sweep": dead})
    # And the rerun the policy change asked for is not lost
    assert invoke({"action": "finish", "sweep": late})["rerun"] is True


# --------------------------------------------------------------------------- triggers


def _cloudformation_loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    return Loader


def _resolve_refs(node: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in parameters:
            return parameters[node["Ref"]]["Default"]
        return {k: _resolve_refs(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(v, parameters) for v in node]
    return node


def policy_change_rule() -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The rule in template.yaml that starts the sweep on a "Parameter Store Change", with
    the parameters at their defaults: its event pattern and the input it gives the
    workflow."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_cloudformation_loader())
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        properties = _resolve_refs(resource["Properties"], template["Parameters"])
        pattern = properties.get("EventPattern", {})
        if "Parameter Store Change" in pattern.get("detail-type", []):
            [target] = properties["Targets"]
            assert target["Arn"] == {"Ref": "SweepStateMachine"}
            given = target.get("Input")
            return pattern, json.loads(given) if given else None
    raise AssertionError("template.yaml starts no sweep on a Parameter Store Change")


def test_a_policy_change_starts_a_sweep(account: LocalStack) -> None:
    # Given the template's rule for policy changes, delivering to a queue for inspection
    pattern, rule_input = policy_change_rule()
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="policy-change-rule-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="policy-change", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="policy-change", Targets=[{"Id": "sweep", "Arn": queue_arn}])
    # And sets the new policy moves
    create_sets("mkt", 5, pool="transactional")
    sample = json.loads((TEMPLATE.parent / "events" / "parameter_store_change.json").read_text())

    def put(name: str) -> None:
        events.put_events(
            Entries=[
                {
                    "Source": sample["source"],
                    "DetailType": sample["detail-type"],
                    "Detail": json.dumps({**sample["detail"], "name": name}),
                    "Resources": sample["resources"],
                }
            ]
        )

    # When the policy parameter changes, and another parameter does
    put(account.policy_parameter)
    put("/some/other/parameter")

    # Then the rule matches the policy's change only
    [delivered] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(delivered["Body"])
    assert event["detail"]["name"] == account.policy_parameter
    assert sweep.trigger_from(event) == "policy-change"  # were the event passed unchanged
    # And the state machine, given the rule's input, sweeps the account
    execution = sfn.run_sweep(app.handler, rule_input if rule_input is not None else event)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["report"]["counts"]["remediated"] == 5
    [report] = reports(account)
    assert report["alert"]["trigger"] == "policy-change"


def test_an_unusable_policy_stops_the_sweep_with_one_error_alert_and_no_ses_reads(
    account: LocalStack,
) -> None:
    # Given sets to sweep, and a policy someone broke
    create_sets("mkt", 5, pool="transactional")
    seed.put_policy("version: 2\nrules: []\n")

    # When a sweep runs
    execution = run_sweep("schedule")

    # Then it ends cleanly without reading or writing any set
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "stopped"
    assert ses_calls("GetConfigurationSet") == 0
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 0
    # And says so once
    [alert] = received_alerts(account)
    assert alert["attributes"] == {"outcome": "error"}
    assert alert["alert"]["kind"] == "sweep-stopped"
    assert "policy not enforced" in alert["alert"]["reason"]
    # And the next sweep may start
    assert run_sweep().status == "SUCCEEDED"


# --------------------------------------------------------------------------- the report


def test_the_report_of_10000_sets_fits_one_sns_message_and_links_the_full_report(
    stack: LocalStack,
) -> None:
    # Given 10,000 sets, a third of them not compliant, with long names
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    outcomes = [Outcome.COMPLIANT, Outcome.VIOLATION, Outcome.ERROR]
    entries = [
        Entry.from_record(
            OutcomeRecord(
                f"{'set-with-a-rather-long-name-for-the-size-of-it':<56}{i:08d}".replace(" ", "x"),
                outcomes[i % 3],
                "transactional",
                "marketing",
                f"rule-{i % 40}",
                f"on transactional, expected marketing ({'rule is in audit mode ' * 4})",
                now,
            )
        )
        for i in range(10_000)
    ]
    report = build_report(
        entries, sweep_id="20261126T120000Z-abcdef12", trigger="schedule",
        started_at=now.isoformat(), finished_at=now.isoformat(),
    )  # fmt: skip

    # When it is stored and its summary published as the sweep does
    links = ReportStore(stack.report_bucket).store(report)
    summary = fit_summary(report, links)
    Alerts(stack.alert_topic_arn).publish(
        summary.title, summary.text, summary.document, summary.attributes
    )

    # Then one message arrives, listing some sets and saying how many more there are
    [message] = received_alerts(stack)
    document = message["alert"]
    assert message["attributes"] == {"outcome": "report"}
    bad = sum(1 for e in entries if e.outcome != "compliant")
    assert 0 < len(document["non_compliant"]) < bad
    assert len(document["non_compliant"]) + document["non_compliant_not_listed"] == bad
    assert f"{document['non_compliant_not_listed']:,} more: see the full report" in summary.text
    assert len(summary.text.encode()) < SNS_MESSAGE_LIMIT
    # And it links the full report, every set in it
    assert links.json_uri in summary.text and links.json_console_url in summary.text
    assert document["report"]["csv_uri"] == links.csv_uri
    assert len(json.loads(s3_object(links.json_uri))["sets"]) == 10_000
    assert len(s3_object(links.csv_uri).splitlines()) == 10_001


# --------------------------------------------------------------------------- failures


def _failing_once(
    monkeypatch: pytest.MonkeyPatch, name: str, code: str, status: int, times: int
) -> None:
    """SES answers ``code`` to the first ``times`` reads of ``name``."""
    read = Ses.get_configuration_set
    left = [times]

    def get_configuration_set(self: Ses, wanted: str) -> Any:
        if wanted == name and left[0] > 0:
            left[0] -= 1
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"{code} for {wanted}"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "GetConfigurationSet",
            )
        return read(self, wanted)

    monkeypatch.setattr(Ses, "get_configuration_set", get_configuration_set)


def test_a_set_ses_refuses_to_show_is_reported_as_an_error_and_the_sweep_goes_on(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 6 sets on the wrong pool, one of which the enforcer may not read
    names = create_sets("mkt", 6, pool="transactional")
    _failing_once(monkeypatch, "mkt-002", "AccessDeniedException", 403, times=99)

    # When a sweep runs
    execution = run_sweep()

    # Then the other sets are moved, and that one is an error in the report and an alert
    assert execution.status == "SUCCEEDED", execution.cause
    assert pools_of([n for n in names if n != "mkt-002"]) == {"marketing"}
    assert execution.output["report"]["counts"]["error"] == 1
    row = inventory_rows(account)["mkt-002"]
    assert row["outcome"] == "error" and "AccessDeniedException" in row["reason"]
    errors = [a for a in received_alerts(account) if a["attributes"]["outcome"] == "error"]
    assert [a["alert"]["configuration_set"] for a in errors] == ["mkt-002"]


def test_a_read_ses_still_throttles_after_the_sdk_retries_waits_within_the_step(
    account: LocalStack,
) -> None:
    # Given 6 sets on the wrong pool, and SES throttling one read and both of the SDK's
    # retries of it (another tenant spending the account's budget)
    names = create_sets("mkt", 6, pool="transactional")
    faults.fail(
        "sesv2", "GetConfigurationSet", times=3, code="TooManyRequestsException", status=429
    )

    # When a sweep runs
    execution = run_sweep()

    # Then the step tried that set again a moment later instead of failing, and every
    # set was moved once
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered("Step") == 1 and execution.task_attempts == 3 + LANE_TASKS
    assert pools_of(names) == {"marketing"}
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 6
    assert execution.output["report"]["counts"]["remediated"] == 6


def test_a_step_that_fails_on_an_ses_outage_is_retried_and_resumes(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 6 sets on the wrong pool, and SES failing one read beyond the SDK's retries
    names = create_sets("mkt", 6, pool="transactional")
    _failing_once(monkeypatch, "mkt-003", "InternalFailure", 500, times=1)

    # When a sweep runs
    execution = run_sweep()

    # Then the state machine retried the step, and every set was moved once
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered("Step") == 1 and execution.task_attempts == 4 + LANE_TASKS
    assert pools_of(names) == {"marketing"}
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 6
    # (the sets read again after the retry were compliant by then: the report says so)
    counts = execution.output["report"]["counts"]
    assert counts["remediated"] + counts["compliant"] == 6 and counts["remediated"] >= 1


@pytest.mark.parametrize(
    ("execution_input", "trigger"),
    [
        ({"trigger": "schedule"}, "schedule"),
        ({"trigger": "policy-change"}, "policy-change"),
        ({"trigger": "manual"}, "manual"),
        ({"trigger": "something else"}, "manual"),
        ({"source": "aws.ssm", "detail-type": "Parameter Store Change"}, "policy-change"),
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, "schedule"),
        ({}, "manual"),
    ],
)
def test_the_trigger_comes_from_the_rule_input_or_the_event_itself(
    execution_input: dict[str, Any], trigger: str
) -> None:
    assert sweep.trigger_from(execution_input) == trigger


def test_a_second_sweep_alerts_only_on_new_or_changed_problems(account: LocalStack) -> None:
    # Given a first sweep that reported two audited sets and one set whose pool is missing
    create_sets("tx", 2, pool="marketing")
    create_sets("list", 1)
    run_sweep("schedule")
    first = [a for a in received_alerts(account) if a["attributes"]["outcome"] != "report"]
    assert sorted(a["alert"]["outcome"] for a in first) == ["error", "violation", "violation"]

    # When one of them moves to yet another wrong pool and the next sweep runs
    seed.set_pool("tx-001", "ses-shared-pool")
    run_sweep("schedule")

    # Then only the changed one is alerted again; the report still counts all three
    alerts = received_alerts(account)
    [changed] = [a for a in alerts if a["attributes"]["outcome"] != "report"]
    assert changed["alert"]["configuration_set"] == "tx-001"
    assert changed["alert"]["current_pool"] == "ses-shared-pool"
    [report] = [a for a in alerts if a["attributes"]["outcome"] == "report"]
    assert report["alert"]["counts"]["violation"] == 2
    assert report["alert"]["counts"]["error"] == 1


@dataclass
class DeletesASetMidStep(LambdaContext):
    """An invocation during which someone deletes ``victim`` after ``after`` sets (the
    step asks for the remaining time before each set)."""

    victim: str = ""
    after: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.after -= 1
        if self.after == 0:
            seed.sesv2().delete_configuration_set(ConfigurationSetName=self.victim)
        return 900_000


def test_a_set_deleted_during_a_sweep_is_dropped_without_error_or_write(
    account: LocalStack,
) -> None:
    # Given 60 sets on the wrong pool, listed in one page
    names = create_sets("mkt", 60, pool="transactional")
    state = invoke({"action": "start", "execution": "exec-del", "input": {"trigger": "manual"}})

    # When mkt-040 is deleted after the page was listed, before the sweep reaches it
    state = invoke(
        {"action": "step", "sweep": state}, DeletesASetMidStep(victim="mkt-040", after=10)
    )
    result = invoke({"action": "finish", "sweep": state})

    # Then the sweep completes: the vanished set was read, found gone, never written
    assert state["done"] is True
    assert ses_calls("GetConfigurationSet") == 60
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 59
    assert "mkt-040" not in inventory_rows(account)
    assert result["report"]["total"] == 59
    alerted = {a["alert"].get("configuration_set") for a in received_alerts(account)}
    assert "mkt-040" not in alerted
    assert set(names) - alerted == {"mkt-040"}


@pytest.mark.parametrize("cache_seconds", ["0", "60"])
def test_a_set_an_event_looked_at_after_the_sweep_began_is_not_read_again_by_the_sweep(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch, cache_seconds: str
) -> None:
    # Given event consumers that read the policy afresh or keep it a minute (either way
    # the look records the version it judged by: the sweep's), and two sets on the
    # wrong pool
    monkeypatch.setenv("POLICY_CACHE_SECONDS", cache_seconds)
    reset_process_caches()
    seed.create_set("mkt-a", pool="transactional")
    seed.create_set("mkt-b", pool="transactional")
    # And mkt-b's creation event handled while the sweep reads mkt-a
    from functions.on_event import app as on_event
    from local_aws.replay import sample_event, sqs_event

    event = sqs_event([sample_event("create_configuration_set_v2.json", configuration_set="mkt-b")])
    faults.after("sesv2", "GetConfigurationSet", lambda: on_event.handler(event, LambdaContext()))

    # When the sweep runs
    assert run_sweep().status == "SUCCEEDED"

    # Then mkt-b was read once (by its event), moved once, and both sets are compliant
    assert ses_calls("GetConfigurationSet") == 2
    assert ses_calls("PutConfigurationSetDeliveryOptions") == 2
    assert pools_of(["mkt-a", "mkt-b"]) == {"marketing"}
    assert {inventory_rows(account)[n]["outcome"] for n in ("mkt-a", "mkt-b")} == {"remediated"}


def test_a_look_after_the_sweep_began_by_an_older_policy_version_does_not_cover_the_set(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two sets on the marketing pool, compliant under version 1, and a warm event
    # consumer whose policy cache still holds version 1 (one process in production; here
    # the sweep's uncached read shares the cache, so the consumer's is kept apart)
    from functions.on_event import app as on_event
    from local_aws.replay import sample_event, sqs_event
    from ses_pool_enforcer.runtime import Runtime, get_runtime

    seed.create_set("mkt-a", pool="marketing")
    seed.create_set("mkt-b", pool="marketing")
    version_1 = get_runtime().policy()
    # And version 2, which sends marketing sets to the transactional pool
    assert seed.put_policy(POLICY.replace("pool: marketing", "pool: transactional", 1)) == 2
    looked_up = Runtime.policy

    def warm(self: Runtime, version: int | None = None, max_age: int | None = None) -> Any:
        if version is None and max_age is None:
            return version_1
        return looked_up(self, version, max_age)

    def consumer() -> None:
        # mkt-b's tag event, handled by that consumer while the sweep reads mkt-a
        with monkeypatch.context() as patched:
            patched.setattr(Runtime, "policy", warm)
            body = sample_event("create_configuration_set_v2.json", configuration_set="mkt-b")
            on_event.handler(sqs_event([body]), LambdaContext())

    faults.after("sesv2", "GetConfigurationSet", consumer)

    # When the sweep (version 2) runs
    assert run_sweep().status == "SUCCEEDED"

    # Then the consumer judged mkt-b by version 1 after the sweep began, which covers
    # nothing for a sweep of version 2: both sets were read by the sweep and moved
    assert ses_calls("GetConfigurationSet") == 3
    assert pools_of(["mkt-a", "mkt-b"]) == {"transactional"}
    assert {inventory_rows(account)[n]["policy_version"] for n in ("mkt-a", "mkt-b")} == {"2"}
