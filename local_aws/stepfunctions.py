"""A small in-process runner for the project's Amazon States Language definitions.

moto stores state machines but cannot run Lambda tasks without Docker, so tests, the
benchmark and the demo run ``statemachine/*.asl.json`` here, with each Lambda function
ARN bound to a Python callable (the real handler). What it implements, as Step
Functions does:

* states ``Task`` (``arn:aws:states:::lambda:invoke`` with ``FunctionName`` and
  ``Payload``, or a function ARN directly), ``Choice``, ``Pass``, ``Wait`` (``Seconds``
  or ``SecondsPath``, through the injectable ``sleep``), ``Succeed``, ``Fail``;
* ``InputPath``, ``Parameters`` (keys ending in ``.$`` take a path from the state input
  or, with ``$$.``, from the context object), ``ResultSelector``, ``ResultPath``
  (including null), ``OutputPath``;
* ``Retry`` (the first retrier whose ``ErrorEquals`` names the error decides;
  ``MaxAttempts`` 0 never retries; waits follow ``IntervalSeconds``, ``BackoffRate`` and
  ``MaxDelaySeconds``, through an injectable ``sleep``; ``JitterStrategy`` is ignored)
  and ``Catch``; a raised exception's class name is its error, as Lambda reports it;
  ``States.ALL`` and ``States.TaskFailed`` match any task error;
* ``Choice`` rules with ``Variable`` and ``StringEquals``, ``BooleanEquals``,
  ``NumericEquals``, ``NumericGreaterThan(Equals)``, ``NumericLessThan(Equals)``,
  ``IsPresent``, ``IsNull``, ``And``, ``Or``, ``Not``;
* ``Fail`` with ``Error``/``Cause`` or ``ErrorPath``/``CausePath``;
* the 256 KB limit on a state's input and output (``States.DataLimitExceeded``) and a
  count of the history events a Standard workflow would record (at most 25,000).

JSONPath is limited to ``$`` and dotted member names (``$.a.b``). Anything else in a
definition is refused when it is loaded, not half-run.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
PAYLOAD_LIMIT = 262_144
HISTORY_LIMIT = 25_000
STATE_TYPES = frozenset({"Task", "Choice", "Pass", "Wait", "Succeed", "Fail"})
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a is b,
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericGreaterThanEquals": lambda a, b: _number(a) and a >= b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "NumericLessThanEquals": lambda a, b: _number(a) and a <= b,
}
MISSING = object()

Function = Callable[[Any], Any]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class DefinitionError(ValueError):
    """The definition uses something this runner does not implement, or is malformed."""


class StatesError(Exception):
    """An error raised inside the workflow, named as Step Functions names it."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class RuntimeFailure(StatesError):
    """``States.Runtime``/``States.DataLimitExceeded``: fails the execution outright;
    neither Retry nor Catch applies."""


@dataclass
class Execution:
    execution_id: str
    status: str = "RUNNING"  # SUCCEEDED | FAILED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    states: list[str] = field(default_factory=list)  # names of the states entered
    task_attempts: int = 0
    history_events: int = 2  # ExecutionStarted and the final event
    waited: float = 0.0  # seconds spent in Wait states

    def entered(self, name: str) -> int:
        return self.states.count(name)


def _path(path: str) -> list[str]:
    if path == "$":
        return []
    if not path.startswith("$.") or any(c in path for c in "[]*?@"):
        raise DefinitionError(f"unsupported JSONPath {path!r}")
    parts = path[2:].split(".")
    if not all(parts):
        raise DefinitionError(f"malformed JSONPath {path!r}")
    return parts


def read_path(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data``, or MISSING."""
    value = data
    for part in _path(path):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def _must_read(data: Any, path: str) -> Any:
    value = read_path(data, path)
    if value is MISSING:
        raise RuntimeFailure("States.Runtime", f"the JSONPath {path!r} could not be found")
    return value


def write_path(data: Any, path: str | None, result: Any) -> Any:
    """Apply ``ResultPath``: replace (``$``), discard (null) or set a member."""
    if path is None:
        return data
    parts = _path(path)
    if not parts:
        return result
    out = copy.deepcopy(data) if isinstance(data, dict) else {}
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = result
    return out


def _apply_template(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(template, list):
        return [_apply_template(item, data, context) for item in template]
    if not isinstance(template, dict):
        return template
    out: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            if not isinstance(value, str):
                raise DefinitionError(f"{key} must be a path")
            if value.startswith("$$"):
                out[key[:-2]] = _must_read(context, value[1:])
            else:
                out[key[:-2]] = _must_read(data, value)
        else:
            out[key] = _apply_template(value, data, context)
    return out


def _select(data: Any, path: Any) -> Any:
    """``InputPath``/``OutputPath``: absent (MISSING) = ``$``, null = ``{}``."""
    if path is MISSING or path == "$":
        return data
    if path is None:
        return {}
    return _must_read(data, str(path))


def _check_size(name: str, what: str, value: Any) -> None:
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > PAYLOAD_LIMIT:
        raise RuntimeFailure(
            "States.DataLimitExceeded", f"{name} {what} is {size} bytes (limit {PAYLOAD_LIMIT})"
        )


def _matches(error: str, names: list[str]) -> bool:
    if error in ("States.Runtime", "States.DataLimitExceeded"):
        return False
    return error in names or "States.ALL" in names or "States.TaskFailed" in names


class StateMachine:
    """A loaded definition whose Lambda ARNs are bound to in-process callables."""

    def __init__(
        self,
        definition: Mapping[str, Any] | str,
        functions: Mapping[str, Function],
        substitutions: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        for key, value in (substitutions or {}).items():
            text = text.replace("${" + key + "}", value)
        self.definition: dict[str, Any] = json.loads(text)
        self.functions = dict(functions)
        self.sleep = sleep
        self._validate()

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        functions: Mapping[str, Function],
        substitutions: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> StateMachine:
        return cls(Path(path).read_text(), functions, substitutions, sleep)

    # ------------------------------------------------------------------ validation

    def _validate(self) -> None:
        states = self.definition.get("States")
        if not isinstance(states, dict) or self.definition.get("StartAt") not in states:
            raise DefinitionError("StartAt must name one of States")
        for name, state in states.items():
            kind = state.get("Type")
            if kind not in STATE_TYPES:
                raise DefinitionError(f"state {name!r}: type {kind!r} is not supported")
            targets = [state.get("Next"), state.get("Default")]
            targets += [rule.get("Next") for rule in state.get("Choices", [])]
            targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
            for target in targets:
                if target is not None and target not in states:
                    raise DefinitionError(f"state {name!r} goes to unknown state {target!r}")
            terminal = kind in ("Succeed", "Fail") or state.get("End") is True
            if kind == "Choice":
                if not state.get("Choices"):
                    raise DefinitionError(f"choice {name!r} has no Choices")
                for rule in state["Choices"]:
                    self._validate_rule(name, rule)
            elif not terminal and "Next" not in state:
                raise DefinitionError(f"state {name!r} has neither Next nor End")
            if kind == "Wait" and ("Seconds" in state) == ("SecondsPath" in state):
                raise DefinitionError(f"wait {name!r} needs exactly one of Seconds, SecondsPath")
            if kind == "Task":
                resource = state.get("Resource")
                if resource == LAMBDA_INVOKE:
                    if "FunctionName" not in state.get("Parameters", {}):
                        raise DefinitionError(f"task {name!r} invokes no FunctionName")
                elif not str(resource).startswith("arn:aws:lambda:") and (
                    resource not in self.functions
                ):
                    raise DefinitionError(f"task {name!r}: resource {resource!r} not supported")
            for key in ("InputPath", "OutputPath", "ResultPath"):
                if isinstance(state.get(key), str):
                    _path(state[key])

    def _validate_rule(self, name: str, rule: Mapping[str, Any]) -> None:
        if "And" in rule or "Or" in rule:
            for inner in rule.get("And") or rule.get("Or") or []:
                self._validate_rule(name, inner)
            return
        if "Not" in rule:
            self._validate_rule(name, rule["Not"])
            return
        operators = set(rule) - {"Variable", "Next"}
        if "Variable" not in rule or len(operators) != 1:
            raise DefinitionError(f"choice {name!r}: rule {rule} not supported")
        operator = operators.pop()
        if operator not in COMPARISONS and operator not in ("IsPresent", "IsNull"):
            raise DefinitionError(f"choice {name!r}: operator {operator} not supported")
        _path(rule["Variable"])

    # ------------------------------------------------------------------ running

    def run(
        self,
        execution_input: Any = None,
        *,
        execution_id: str | None = None,
        max_transitions: int = 100_000,
    ) -> Execution:
        """Run the workflow to its end; the result says SUCCEEDED or FAILED."""
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        name = execution_id or str(uuid.uuid4())
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:aws:states:us-east-1:123456789012:execution:local:{name}")
        )
        execution = Execution(execution_id=arn)
        data = json.loads(json.dumps({} if execution_input is None else execution_input))
        context = {
            "Execution": {
                "Id": arn,
                "Name": arn.rsplit(":", 1)[-1],
                "Input": data,
                "StartTime": started,
            },
            "State": {"Name": "", "EnteredTime": started, "RetryCount": 0},
        }
        current: str | None = self.definition["StartAt"]
        try:
            while current is not None:
                if len(execution.states) >= max_transitions:
                    raise RuntimeFailure("States.Runtime", "too many state transitions")
                execution.states.append(current)
                context["State"] = {"Name": current, "EnteredTime": started, "RetryCount": 0}
                state = self.definition["States"][current]
                _check_size(current, "input", data)
                current, data = self._run_state(current, state, data, context, execution)
                _check_size(execution.states[-1], "output", data)
        except StatesError as failure:
            execution.status = "FAILED"
            execution.error, execution.cause = failure.error, failure.cause
            return execution
        execution.status = "SUCCEEDED"
        execution.output = data
        return execution

    def _run_state(
        self,
        name: str,
        state: Mapping[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> tuple[str | None, Any]:
        kind = state["Type"]
        execution.history_events += 2  # StateEntered, StateExited
        if kind == "Succeed":
            return None, _select(
                _select(data, state.get("InputPath", MISSING)), state.get("OutputPath", MISSING)
            )
        if kind == "Fail":
            error = state.get("Error") or (
                _must_read(data, state["ErrorPath"]) if "ErrorPath" in state else "States.Fail"
            )
            cause = state.get("Cause") or (
                _must_read(data, state["CausePath"]) if "CausePath" in state else ""
            )
            raise StatesError(str(error), str(cause))
        effective = _select(data, state.get("InputPath", MISSING))
        if kind == "Choice":
            for rule in state["Choices"]:
                if self._holds(rule, effective):
                    return rule["Next"], _select(effective, state.get("OutputPath", MISSING))
            if "Default" not in state:
                raise RuntimeFailure("States.NoChoiceMatched", f"no choice of {name} matched")
            return state["Default"], _select(effective, state.get("OutputPath", MISSING))
        if "Parameters" in state:
            effective = _apply_template(state["Parameters"], effective, context)
        if kind == "Wait":
            seconds = (
                state["Seconds"]
                if "Seconds" in state
                else _must_read(effective, state["SecondsPath"])
            )
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise RuntimeFailure("States.Runtime", f"wait {name}: {seconds!r} is not seconds")
            execution.waited += float(seconds)
            self.sleep(float(seconds))
            return state["Next"], _select(effective, state.get("OutputPath", MISSING))
        if kind == "Pass":
            result = state.get("Result", effective)
        else:
            try:
                result = self._task(state, effective, context, execution)
            except RuntimeFailure:
                raise
            except StatesError as failure:
                catcher = next(
                    (
                        c
                        for c in state.get("Catch", [])
                        if _matches(failure.error, c["ErrorEquals"])
                    ),
                    None,
                )
                if catcher is None:
                    raise
                error = {"Error": failure.error, "Cause": failure.cause}
                return catcher["Next"], write_path(data, catcher.get("ResultPath", "$"), error)
            if "ResultSelector" in state:
                result = _apply_template(state["ResultSelector"], result, context)
        output = write_path(data, state.get("ResultPath", "$"), result)
        output = _select(output, state.get("OutputPath", MISSING))
        if state.get("End") is True:
            return None, output
        return state["Next"], output

    def _task(
        self,
        state: Mapping[str, Any],
        payload: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> Any:
        resource = state["Resource"]
        if resource == LAMBDA_INVOKE:
            arn, body = payload.get("FunctionName"), payload.get("Payload", {})
        else:
            arn, body = resource, payload
        function = self.functions.get(str(arn))
        if function is None:
            raise StatesError("Lambda.ResourceNotFoundException", f"no function bound to {arn}")
        attempts: dict[int, int] = {}
        while True:
            execution.task_attempts += 1
            execution.history_events += 3  # TaskScheduled, TaskStarted, TaskSucceeded/Failed
            try:
                result = function(json.loads(json.dumps(body)))
                result = json.loads(json.dumps(result))
            except Exception as exc:  # a Lambda function error, named by its type
                error = type(exc).__name__
                cause = json.dumps({"errorMessage": str(exc), "errorType": error})
                delay = self._retry_delay(state.get("Retry", []), error, attempts)
                if delay is None:
                    raise StatesError(error, cause) from exc
                context["State"]["RetryCount"] = sum(attempts.values())
                self.sleep(delay)
                continue
            if resource == LAMBDA_INVOKE:
                return {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
            return result

    @staticmethod
    def _retry_delay(
        retriers: list[dict[str, Any]], error: str, attempts: dict[int, int]
    ) -> float | None:
        for index, retrier in enumerate(retriers):
            if not _matches(error, retrier["ErrorEquals"]):
                continue
            done = attempts.get(index, 0)
            if done >= int(retrier.get("MaxAttempts", 3)):
                return None
            attempts[index] = done + 1
            delay = (
                float(retrier.get("IntervalSeconds", 1))
                * float(retrier.get("BackoffRate", 2.0)) ** done
            )
            return min(delay, float(retrier.get("MaxDelaySeconds", delay)))
        return None

    def _holds(self, rule: Mapping[str, Any], data: Any) -> bool:
        if "And" in rule:
            return all(self._holds(r, data) for r in rule["And"])
        if "Or" in rule:
            return any(self._holds(r, data) for r in rule["Or"])
        if "Not" in rule:
            return not self._holds(rule["Not"], data)
        value = read_path(data, rule["Variable"])
        if "IsPresent" in rule:
            return (value is not MISSING) is rule["IsPresent"]
        if value is MISSING:
            raise RuntimeFailure("States.Runtime", f"choice variable {rule['Variable']} is absent")
        if "IsNull" in rule:
            return (value is None) is rule["IsNull"]
        operator = next(k for k in rule if k in COMPARISONS)
        return COMPARISONS[operator](value, rule[operator])


# --------------------------------------------------------------------------- the sweep

SWEEP_DEFINITION = Path(__file__).resolve().parent.parent / "statemachine" / "sweep.asl.json"
SWEEP_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ses-pool-enforcer-sweep"


def sweep_state_machine(
    invoke: Function, sleep: Callable[[float], None] = lambda _seconds: None
) -> StateMachine:
    """``statemachine/sweep.asl.json`` with the sweep function bound to ``invoke`` (a
    callable taking the payload, e.g. the handler with a local context). Retry waits
    are skipped unless a ``sleep`` is given."""
    return StateMachine.from_file(
        SWEEP_DEFINITION,
        {SWEEP_FUNCTION_ARN: invoke},
        {"SweepFunctionArn": SWEEP_FUNCTION_ARN},
        sleep,
    )
