"""Step Functions on local AWS: moto's engine runs the definitions, its Lambda tasks run
the handlers bound in this process, and the project's sweep definition runs on it as is."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from local_aws import sfn
from local_aws.sfn import SWEEP_DEFINITION, Handler

INVOKE = "arn:aws:states:::lambda:invoke"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"
SUBSTITUTIONS = {"SweepFunctionArn": FUNCTION, "ReportBucketName": "reports"}


def machine(states: dict[str, Any], name: str = "m") -> str:
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name=name,
        definition=json.dumps({"StartAt": next(iter(states)), "States": states}),
        roleArn="arn:aws:iam::123456789012:role/m",
    )["stateMachineArn"]
    return arn


def task(function: str = FUNCTION, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        "End": True,
        **extra,
    }


def test_a_lambda_task_runs_the_bound_handler_with_its_payload_and_answers_as_lambda(
    local_aws: None,
) -> None:
    # Given a function bound to a handler
    seen: list[tuple[Any, str, int]] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append((event, context.function_name, context.get_remaining_time_in_millis()))
        return {"doubled": event["n"] * 2}

    sfn.bind("f", handler)

    # When a state machine invokes it
    execution = sfn.run(machine({"Double": task()}), {"n": 21})

    # Then the handler got the payload, and the task's result is Lambda's Invoke answer
    assert execution.status == "SUCCEEDED", execution.cause
    assert seen == [({"n": 21}, "f", sfn.FUNCTION_TIMEOUT_MS)]
    assert execution.output["Payload"] == {"doubled": 42}
    assert execution.output["StatusCode"] == 200
    assert [e["type"] for e in execution.history] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded",
    ]  # fmt: skip


class Boom(Exception):
    pass


def test_a_handler_error_is_named_by_its_type_retried_then_caught(local_aws: None) -> None:
    # Given a handler that always fails, behind a task with a retry and a catch
    sfn.bind("f", lambda event, context: (_ for _ in ()).throw(Boom("no luck")))
    retry = [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 60}]
    catch = [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Failed"}]
    attempt = {key: value for key, value in task().items() if key != "End"}
    states = {
        "Try": {**attempt, "Retry": retry, "Catch": catch, "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    }

    # When it runs (tests wait for no retry interval)
    execution = sfn.run(machine(states), {})

    # Then it was tried three times, and the catch named the error as Lambda does
    assert execution.status == "FAILED"
    assert execution.task_attempts == 3
    assert execution.error == "Boom"
    assert json.loads(execution.cause or "{}")["errorMessage"] == "no luck"
    assert execution.states == ["Try", "Failed"]


def test_a_function_with_no_handler_is_lambdas_resource_not_found(local_aws: None) -> None:
    execution = sfn.run(machine({"Nobody": task(FUNCTION.replace(":f", ":nobody"))}), {})

    assert execution.status == "FAILED"
    assert execution.error == "Lambda.ResourceNotFoundException"


def test_a_state_output_over_256_kb_fails_the_execution(local_aws: None) -> None:
    sfn.bind("f", lambda event, context: "x" * 300_000)

    execution = sfn.run(machine({"Big": task()}), {})

    assert execution.status == "FAILED"
    assert execution.error == "States.DataLimitExceeded"


def test_waiting_for_an_execution_gives_up_after_its_timeout(local_aws: None) -> None:
    # Given a handler that does not return until released
    release = threading.Event()
    sfn.bind("f", lambda event, context: release.wait(30))
    arn = machine({"Slow": task()})
    started = boto3.client("stepfunctions").start_execution(stateMachineArn=arn, name="slow")

    # Then waiting for it times out while it runs, and ends once it has finished
    with pytest.raises(TimeoutError, match="still RUNNING"):
        sfn.wait_for(started["executionArn"], timeout=0.3)
    release.set()
    assert sfn.wait_for(started["executionArn"]).status == "SUCCEEDED"


# --------------------------------------------------------------------------- the sweep


def one_lane(function: Handler) -> Handler:
    """A fake sweep function's lane actions, for a deployment of one lane: Lanes lists it,
    Summary finds nothing failed, and every lane action answers with its lane, as the
    real handler does."""

    def lanes(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        if payload["action"] == "lanes":
            return {"lanes": [{"lane": None, "input": payload["input"]}], "max_concurrency": 1}
        if payload["action"] == "summary":
            return {"failed": 0}
        return {**function(payload, context), "lane": None}

    return lanes


def test_the_sweep_definition_needs_its_substitution_and_every_task_retries_and_catches() -> None:
    # Given the project's sweep definition, as SAM would substitute it
    with pytest.raises(ValueError, match="no substitution for ReportBucketName, SweepFunctionArn"):
        sfn.definition(SWEEP_DEFINITION, {})
    text = sfn.definition(SWEEP_DEFINITION, SUBSTITUTIONS)
    definition = json.loads(text)

    # Then every task (Lanes, Summary, and each lane's Start, Step and Finish) invokes the
    # function, retries what a retry can cure, catches the rest
    lane = definition["States"]["Each lane"]["ItemProcessor"]["States"]
    tasks = [s for s in [*definition["States"].values(), *lane.values()] if s["Type"] == "Task"]
    assert len(tasks) == 5
    for state in tasks:
        assert state["Parameters"]["FunctionName"] == FUNCTION
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        assert state["Retry"][0]["MaxAttempts"] == 0
        assert "LockLost" in state["Retry"][0]["ErrorEquals"]
        assert "States.TaskFailed" in state["Retry"][1]["ErrorEquals"]


def test_the_sweep_definition_loops_steps_until_done_and_reruns_when_asked(
    local_aws: None,
) -> None:
    # Given a fake sweep function: three steps, then a finish that asks for one rerun
    steps = iter([False, False, True, True])
    reruns = iter([True, False])
    payloads: list[dict[str, Any]] = []

    @one_lane
    def function(payload: dict[str, Any], _context: Any) -> dict[str, Any]:
        payloads.append(payload)
        if payload["action"] == "start":
            return {"status": "started", "sweep_id": "s", "execution": payload["execution"]}
        if payload["action"] == "step":
            return {**payload["sweep"], "done": next(steps)}
        rerun = next(reruns)
        return {"rerun": rerun, "input": {"trigger": "policy-change" if rerun else None}}

    # When it runs
    result = sfn.run_sweep(function, {"trigger": "schedule"}, name="e1")

    # Then it started, stepped until done, finished, and went round once more
    assert result.status == "SUCCEEDED", result.cause
    assert [p["action"] for p in payloads] == [
        "start", "step", "step", "step", "finish", "start", "step", "finish",
    ]  # fmt: skip
    assert payloads[0]["input"] == {"trigger": "schedule"}
    assert payloads[5]["input"]["trigger"] == "policy-change"
    assert payloads[1]["sweep"]["execution"] == result.arn
    assert result.arn.endswith(":e1")
    assert len(result.history) < 100


def test_the_sweep_definition_waits_for_the_budget_when_a_step_could_start_no_set(
    local_aws: None,
) -> None:
    # Given a first step that found the SES budget taken for 40 seconds
    steps = iter([{"done": False, "wait_seconds": 40}, {"done": True}])

    @one_lane
    def function(payload: dict[str, Any], _context: Any) -> dict[str, Any]:
        if payload["action"] == "start":
            return {"status": "started", "sweep_id": "s"}
        if payload["action"] == "step":
            return {"sweep_id": "s", **next(steps)}
        return {"rerun": False}

    # When it runs (the Wait state passes at once in tests)
    result = sfn.run_sweep(function, {"trigger": "schedule"})

    # Then it waited in the Wait state, not in a step, and stepped again
    assert result.status == "SUCCEEDED", result.cause
    assert result.states.count("Wait for the budget") == 1
    assert result.waited == 40
    assert result.entered("Step") == 2


def test_the_sweep_definition_ends_at_once_when_another_sweep_runs(local_aws: None) -> None:
    result = sfn.run_sweep(one_lane(lambda payload, _: {"status": "busy", "done": False}), {})

    assert result.status == "SUCCEEDED"
    assert result.states == ["Lanes", "How many lanes?", "Each lane", "Start", "Already running?",
                             "Left to the running sweep", "Summary", "Every lane swept?",
                             "Swept"]  # fmt: skip


def test_the_sweep_definition_is_valid_amazon_states_language() -> None:
    # Given the sweep definition in a state machine resource, as SAM deploys it
    from cfnlint.api import ManualArgs, lint

    definition = json.loads(sfn.definition(SWEEP_DEFINITION, SUBSTITUTIONS))
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Sweep": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/sweep",
                    "StateMachineType": "STANDARD",
                    "Definition": definition,
                },
            }
        },
    }

    # Then cfn-lint's schema of the States language finds nothing wrong
    assert lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"])) == []
