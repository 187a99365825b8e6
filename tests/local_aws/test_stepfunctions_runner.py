"""The local Amazon States Language runner: what it implements behaves as Step Functions
documents it, what it does not implement is refused, and the project's sweep definition
is one it runs completely."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_aws.stepfunctions import (
    LAMBDA_INVOKE,
    SWEEP_DEFINITION,
    DefinitionError,
    StateMachine,
    sweep_state_machine,
)

FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def machine(
    states: dict[str, Any], functions: dict[str, Any] | None = None, **kw: Any
) -> StateMachine:
    return StateMachine({"StartAt": next(iter(states)), "States": states}, functions or {}, **kw)


def invoke_task(next_state: str | None = None, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": FN, "Payload.$": "$"},
        **extra,
    }
    if next_state:
        task["Next"] = next_state
    else:
        task["End"] = True
    return task


class Boom(Exception):
    pass


def test_parameters_take_paths_from_the_input_and_the_context_object() -> None:
    # Given a Pass state building its output from the input and the execution id
    sm = machine(
        {
            "Shape": {
                "Type": "Pass",
                "Parameters": {
                    "action": "start",
                    "execution.$": "$$.Execution.Id",
                    "nested": {"who.$": "$.user.name", "fixed": [1, 2]},
                    "input.$": "$",
                },
                "End": True,
            }
        }
    )

    # When it runs
    result = sm.run({"user": {"name": "ana"}}, execution_id="exec-7")

    # Then the ".$" keys were resolved, the others copied
    assert result.status == "SUCCEEDED"
    assert result.output == {
        "action": "start",
        "execution": "arn:aws:states:us-east-1:123456789012:execution:local:exec-7",
        "nested": {"who": "ana", "fixed": [1, 2]},
        "input": {"user": {"name": "ana"}},
    }


def test_a_lambda_invoke_task_wraps_the_payload_and_the_paths_shape_the_output() -> None:
    # Given tasks calling a function through lambda:invoke, with every path field
    calls: list[Any] = []

    def function(payload: Any) -> Any:
        calls.append(payload)
        return {"doubled": payload["n"] * 2}

    sm = machine(
        {
            "Whole": invoke_task("Selected", InputPath="$.args"),
            "Selected": invoke_task(
                "Kept",
                Parameters={"FunctionName": FN, "Payload": {"n.$": "$.Payload.doubled"}},
                ResultSelector={"value.$": "$.Payload.doubled", "code.$": "$.StatusCode"},
                ResultPath="$.result",
            ),
            "Kept": invoke_task(
                None,
                Parameters={"FunctionName": FN, "Payload": {"n": 1}},
                ResultPath=None,
                OutputPath="$.result",
            ),
        },
        {FN: function},
    )

    # When it runs
    result = sm.run({"args": {"n": 3}})

    # Then each task saw its payload, and the output followed the paths
    assert calls == [{"n": 3}, {"n": 6}, {"n": 1}]
    assert result.output == {"value": 12, "code": 200}
    assert result.task_attempts == 3


def test_choice_rules() -> None:
    # Given a choice with every supported kind of rule
    rules = [
        {"And": [{"Variable": "$.n", "NumericGreaterThan": 5},
                 {"Not": {"Variable": "$.s", "StringEquals": "x"}}], "Next": "Big"},
        {"Or": [{"Variable": "$.flag", "BooleanEquals": True},
                {"Variable": "$.missing", "IsPresent": True}], "Next": "Flagged"},
        {"Variable": "$.s", "IsNull": True, "Next": "Null"},
    ]  # fmt: skip
    end = {"Type": "Pass", "Result": None, "ResultPath": "$.seen", "End": True}
    sm = machine(
        {
            "Decide": {"Type": "Choice", "Choices": rules, "Default": "Other"},
            "Big": {**end, "Result": "big"},
            "Flagged": {**end, "Result": "flagged"},
            "Null": {**end, "Result": "null"},
            "Other": {**end, "Result": "other"},
        }
    )

    def decide(data: dict[str, Any]) -> str:
        result = sm.run(data)
        assert result.status == "SUCCEEDED"
        return str(result.output["seen"])

    # Then the first matching rule decides, else the default
    assert decide({"n": 9, "s": "y", "flag": False}) == "big"
    assert decide({"n": 9, "s": "x", "flag": True}) == "flagged"
    assert decide({"n": 1, "s": None, "flag": False}) == "null"
    assert decide({"n": 1, "s": "x", "flag": False}) == "other"
    assert decide({"n": True, "s": "x", "flag": False}) == "other"  # a boolean is no number


def test_retry_backs_off_then_catch_takes_over_with_the_error() -> None:
    # Given a function that always fails, a retrier with backoff, and a catcher
    waits: list[float] = []

    def failing(payload: Any) -> Any:
        raise Boom("it broke")

    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 3,
              "BackoffRate": 3, "MaxDelaySeconds": 10}]  # fmt: skip
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]
    sm = machine(
        {
            "Work": invoke_task("Done", Retry=retry, Catch=catch),
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
        {FN: failing},
        sleep=waits.append,
    )

    # When it runs
    result = sm.run({"k": 1})

    # Then it tried 4 times, waited 2, 6, then 10 (capped), and failed with the error
    assert result.task_attempts == 4
    assert waits == [2, 6, 10]
    assert result.status == "FAILED"
    assert result.error == "Boom"
    assert json.loads(result.cause or "") == {"errorMessage": "it broke", "errorType": "Boom"}
    assert result.states == ["Work", "Failed"]


def test_the_first_matching_retrier_decides_and_zero_attempts_means_no_retry() -> None:
    # Given a retrier that never retries Boom ahead of one that retries everything
    attempts: list[int] = []

    def failing(payload: Any) -> Any:
        attempts.append(1)
        raise Boom("fatal")

    retry = [{"ErrorEquals": ["Boom"], "MaxAttempts": 0},
             {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}]  # fmt: skip
    sm = machine({"Work": invoke_task(None, Retry=retry)}, {FN: failing}, sleep=lambda _: None)

    # When it runs
    result = sm.run({})

    # Then Boom was not retried
    assert attempts == [1] and result.status == "FAILED" and result.error == "Boom"


def test_a_task_that_fails_once_is_retried_and_succeeds() -> None:
    outcomes = iter([Boom("once"), {"ok": True}])

    def flaky(payload: Any) -> Any:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    sm = machine(
        {"Work": invoke_task(None, Retry=[{"ErrorEquals": ["Boom"]}], OutputPath="$.Payload")},
        {FN: flaky},
        sleep=lambda _: None,
    )

    result = sm.run({})

    assert result.status == "SUCCEEDED" and result.output == {"ok": True}
    assert result.task_attempts == 2


def test_runtime_errors_fail_the_execution_past_any_catch() -> None:
    # Given a state reading a path the input lacks, with a catch-all
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    sm = machine(
        {
            "Read": invoke_task(
                "Caught",
                Parameters={"FunctionName": FN, "Payload": {"x.$": "$.absent"}},
                Catch=catch,
            ),
            "Caught": {"Type": "Succeed"},
        },
        {FN: lambda payload: payload},
    )

    # Then the execution fails with States.Runtime
    result = sm.run({})
    assert result.status == "FAILED" and result.error == "States.Runtime"


def test_a_state_output_over_256_kb_fails_the_execution() -> None:
    sm = machine({"Big": invoke_task(None)}, {FN: lambda payload: "x" * 300_000})

    result = sm.run({})

    assert result.status == "FAILED" and result.error == "States.DataLimitExceeded"


@pytest.mark.parametrize(
    ("states", "why"),
    [
        ({"A": {"Type": "Map", "End": True}}, "not supported"),
        ({"A": {"Type": "Pass", "Next": "Nowhere"}}, "unknown state"),
        ({"A": {"Type": "Pass"}}, "neither Next nor End"),
        ({"A": {"Type": "Pass", "OutputPath": "$.items[0]", "End": True}}, "JSONPath"),
        (
            {
                "A": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.x", "StringMatches": "a*", "Next": "A"}],
                }
            },
            "StringMatches",
        ),
    ],
)
def test_what_the_runner_does_not_implement_is_refused_when_loaded(
    states: dict[str, Any], why: str
) -> None:
    with pytest.raises(DefinitionError, match=why):
        machine(states)


def test_the_sweep_definition_loads_and_every_task_retries_and_catches() -> None:
    # Given the project's sweep state machine, bound to a function
    definition = json.loads(SWEEP_DEFINITION.read_text())
    sm = sweep_state_machine(lambda payload: {})

    # Then it has only what the runner implements, and its one substitution was made
    assert "${" not in json.dumps(sm.definition)
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    assert len(tasks) == 3
    for task in tasks:
        assert task["Parameters"]["FunctionName"] == "${SweepFunctionArn}"
        assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        # Errors a retry cannot cure come first and are never retried
        assert task["Retry"][0]["MaxAttempts"] == 0
        assert "LockLost" in task["Retry"][0]["ErrorEquals"]
        assert "States.TaskFailed" in task["Retry"][1]["ErrorEquals"]


def test_the_sweep_definition_loops_steps_until_done_and_reruns_when_asked() -> None:
    # Given a fake sweep function: three steps, then a finish that asks for one rerun
    steps = iter([False, False, True, True])
    reruns = iter([True, False])
    payloads: list[dict[str, Any]] = []

    def function(payload: dict[str, Any]) -> dict[str, Any]:
        payloads.append(payload)
        if payload["action"] == "start":
            return {"status": "started", "sweep_id": "s", "execution": payload["execution"]}
        if payload["action"] == "step":
            return {**payload["sweep"], "done": next(steps)}
        rerun = next(reruns)
        return {"rerun": rerun, "trigger": "policy-change" if rerun else None}

    # When it runs
    result = sweep_state_machine(function).run({"trigger": "schedule"}, execution_id="e1")

    # Then it started, stepped until done, finished, and went round once more
    assert result.status == "SUCCEEDED"
    assert [p["action"] for p in payloads] == [
        "start", "step", "step", "step", "finish", "start", "step", "finish",
    ]  # fmt: skip
    assert payloads[0]["input"] == {"trigger": "schedule"}
    assert payloads[5]["input"]["trigger"] == "policy-change"
    assert payloads[1]["sweep"]["execution"].endswith(":e1")
    assert result.history_events < 100


def test_the_sweep_definition_ends_at_once_when_another_sweep_runs() -> None:
    sm = sweep_state_machine(lambda payload: {"status": "busy", "done": False})

    result = sm.run({"trigger": "policy-change"})

    assert result.status == "SUCCEEDED"
    assert result.states == ["Start", "Already running?", "Left to the running sweep"]


def test_the_sweep_definition_is_valid_amazon_states_language() -> None:
    # Given the sweep definition in a state machine resource, as SAM deploys it
    from cfnlint.api import ManualArgs, lint

    arn = "arn:aws:lambda:us-east-1:123456789012:function:sweep"
    definition = json.loads(SWEEP_DEFINITION.read_text().replace("${SweepFunctionArn}", arn))
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
