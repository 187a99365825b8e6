"""Step Functions on local AWS: moto's own Amazon States Language engine runs the
project's state machines, and its Lambda tasks run the functions' handlers in process.

moto runs executions when ``MOTO_CONFIG`` is its config (``mock_aws(config=...)``, or
``/moto-api/config`` for its server, which :func:`local_aws.server.start_local_aws`
sets), each on a thread of its own. Its Lambda runs no code without Docker, so
:func:`install` replaces the one call the engine makes for a Lambda task
(``lambda_eval_utils._invoke_lambda_function``, the ``Invoke`` of
``arn:aws:states:::lambda:invoke``) with a call of the handler :func:`bind` gave for
the function: a handler's exception is a function error named by its type, as Lambda
reports it, and a function with no handler is Lambda's ``ResourceNotFoundException``.

Retry intervals and ``Wait`` states pass on :func:`set_time_scale`'s clock: as written
(1, the default), ``scale`` times faster, or not at all (``None``, what tests use).

:func:`run` starts an execution through the real StartExecution API and waits for it
(``describe_execution`` until it is no longer RUNNING); the :class:`Execution` it returns
is read from ``describe_execution`` and ``get_execution_history``.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import boto3

from local_aws.replay import LambdaContext

MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
SWEEP_DEFINITION = Path(__file__).resolve().parent.parent / "statemachine" / "sweep.asl.json"
SWEEP_FUNCTION = "ses-pool-enforcer-sweep"
SWEEP_STATE_MACHINE = "ses-pool-enforcer-sweep"
HISTORY_LIMIT = 25_000  # events in a Standard workflow's execution history
FUNCTION_TIMEOUT_MS = 900_000  # the sweep function's Timeout in template.yaml

Handler = Callable[[dict[str, Any], Any], Any]

_lock = threading.Lock()
_handlers: dict[str, Handler] = {}
_scale: list[float | None] = [1.0]
_installed = False


class FunctionError(Exception):
    """A function error named by ``error_type`` rather than by this exception's class: for
    a handler that runs elsewhere (a process of its own) and reports its error's name."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def bind(function_name: str, handler: Handler) -> None:
    """Lambda tasks that invoke ``function_name`` (a name or any of its ARNs) run
    ``handler(event, context)`` in this process."""
    with _lock:
        _handlers[function_name] = handler


def unbind_all() -> None:
    with _lock:
        _handlers.clear()


def set_time_scale(scale: float | None) -> None:
    """How the engine's retry intervals and Wait states pass: ``scale`` times faster than
    written (1: as written), or not at all (None)."""
    if scale is not None and scale <= 0:
        raise ValueError("scale must be positive, or None for no waiting")
    _scale[0] = scale


def _real_seconds(seconds: float) -> float:
    scale = _scale[0]
    return 0.0 if scale is None else max(0.0, seconds / scale)


def _function_name(name_or_arn: str) -> str:
    """``my-function``, ``123456789012:function:my-function`` or a full ARN (with or
    without a qualifier) -> ``my-function``."""
    match = re.search(r"function:([^:]+)", name_or_arn)
    return match.group(1) if match else name_or_arn


def _invoke(parameters: dict[str, Any], region: str, state_credentials: Any = None) -> Any:
    """What Lambda answers the engine's ``Invoke``, the bound handler doing the work."""
    from botocore.exceptions import ClientError

    requested = str(parameters.get("FunctionName", ""))
    name = _function_name(requested)
    with _lock:
        handler = _handlers.get(name)
    if handler is None:
        raise ClientError(
            {
                "Error": {
                    "Code": "ResourceNotFoundException",
                    "Message": f"Function not found: {requested}",
                },
                "ResponseMetadata": {  # type: ignore[typeddict-item] # what the engine reads
                    "HTTPStatusCode": 404,
                    "RequestId": str(uuid.uuid4()),
                },
            },
            "Invoke",
        )
    raw = parameters.get("Payload") or b"{}"
    event = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    context = LambdaContext(
        function_name=name, aws_request_id=str(uuid.uuid4()), remaining_ms=FUNCTION_TIMEOUT_MS
    )
    if requested.startswith("arn:"):
        context.invoked_function_arn = requested
    answer: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    try:
        # A round trip through JSON, as the payload crosses the Lambda API.
        answer["Payload"] = json.loads(json.dumps(handler(event, context)))
    except Exception as exc:  # an unhandled function error, named by its type
        answer["FunctionError"] = "Unhandled"
        answer["Payload"] = {
            "errorMessage": str(exc),
            "errorType": exc.error_type if isinstance(exc, FunctionError) else type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    return answer


def _wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
    """A Wait state, on the engine's clock; stopping the execution still ends it."""
    real = _real_seconds(wait_seconds)
    if real > 0:
        env.program_state_event.wait(real)


def install() -> None:
    """Patch moto's Step Functions engine in this process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        package = "moto.stepfunctions.parser.asl.component"
        lambda_eval_utils: Any = importlib.import_module(
            f"{package}.state.exec.state_task.lambda_eval_utils"
        )
        retrier_decl: Any = importlib.import_module(f"{package}.common.retry.retrier_decl")
        wait_function: Any = importlib.import_module(
            f"{package}.state.wait.wait_function.wait_function"
        )
        lambda_eval_utils._invoke_lambda_function = _invoke
        # The retrier sleeps on its module's ``time``: give it the engine's clock only.
        retrier_decl.time = types.SimpleNamespace(
            **{**vars(time), "sleep": lambda seconds: time.sleep(_real_seconds(seconds))}
        )
        wait_function.WaitFunction._wait_interval = _wait_interval
        _installed = True


# --------------------------------------------------------------------------- executions


@dataclass
class Execution:
    """A finished execution, as ``describe_execution`` and ``get_execution_history`` tell it."""

    arn: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def states(self) -> list[str]:
        """The names of the states entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]

    def entered(self, name: str) -> int:
        return self.states.count(name)

    @property
    def task_attempts(self) -> int:
        """Lambda invocations: every attempt of every Task state, retries included."""
        return sum(1 for e in self.history if e["type"] == "TaskScheduled")

    @property
    def waited(self) -> float:
        """Seconds the Wait states were asked to wait (``SecondsPath`` read from their input)."""
        total = 0.0
        for event in self.history:
            if event["type"] == "WaitStateEntered":
                data = json.loads(event["stateEnteredEventDetails"].get("input") or "{}")
                total += float(data.get("wait_seconds", 0))
        return total


def _client(region: str = "us-east-1") -> Any:
    return cast(Any, boto3).client("stepfunctions", region_name=region)


def wait_for(execution_arn: str, timeout: float = 120.0, region: str = "us-east-1") -> Execution:
    """Poll ``describe_execution`` until the execution is no longer RUNNING (or raise
    ``TimeoutError`` after ``timeout`` seconds), then read its history."""
    sfn = _client(region)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still RUNNING after {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    history: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **token)
        history.extend(page["events"])
        if not page.get("nextToken"):
            break
        token = {"nextToken": page["nextToken"]}
    output = described.get("output")
    return Execution(
        arn=execution_arn,
        status=described["status"],
        output=json.loads(output) if output is not None else None,
        error=described.get("error"),
        cause=described.get("cause"),
        history=history,
    )


def definition(path: Path, substitutions: Mapping[str, str]) -> str:
    """``path`` with its ``${Name}`` placeholders replaced, as SAM's
    ``DefinitionSubstitutions`` does before the state machine is created."""
    text = path.read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    left = sorted(set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text)))
    if left:
        raise ValueError(f"{path.name}: no substitution for {', '.join(left)}")
    return text


def sweep_state_machine(handler: Handler, region: str = "us-east-1") -> str:
    """Create the sweep state machine from ``statemachine/sweep.asl.json`` (its
    ``SweepFunctionArn`` substituted), bind the sweep function to ``handler``, and
    return the state machine's ARN. Calling it again rebinds and reuses the machine."""
    account = cast(Any, boto3).client("sts", region_name=region).get_caller_identity()["Account"]
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{SWEEP_FUNCTION}"
    bind(SWEEP_FUNCTION, handler)
    sfn = _client(region)
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == SWEEP_STATE_MACHINE:
            return str(machine["stateMachineArn"])
    arn: str = sfn.create_state_machine(
        name=SWEEP_STATE_MACHINE,
        definition=definition(SWEEP_DEFINITION, {"SweepFunctionArn": function_arn}),
        roleArn=f"arn:aws:iam::{account}:role/{SWEEP_STATE_MACHINE}-role",
        type="STANDARD",
    )["stateMachineArn"]
    return arn


def run(
    state_machine_arn: str,
    execution_input: Any = None,
    *,
    name: str | None = None,
    timeout: float = 120.0,
    region: str = "us-east-1",
) -> Execution:
    """StartExecution, then :func:`wait_for` it."""
    # Always named: moto's engine gives an unnamed execution ``$$.Execution.Id`` ending
    # in ``:None`` (Step Functions names it with a UUID), and the sweep's lock is keyed
    # by that id.
    started = _client(region).start_execution(
        stateMachineArn=state_machine_arn,
        name=name or str(uuid.uuid4()),
        input=json.dumps({} if execution_input is None else execution_input),
    )
    return wait_for(started["executionArn"], timeout, region)


def run_sweep(
    handler: Handler, execution_input: Any = None, *, timeout: float = 120.0, **kw: Any
) -> Execution:
    """One execution of the sweep state machine, its function bound to ``handler``."""
    return run(sweep_state_machine(handler), execution_input, timeout=timeout, **kw)
