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

A Distributed Map's iterations run in process as moto runs them, each given a history
of its own (as a child execution has) that :func:`map_runs` keeps the size of, and its
``ResultWriter`` writes the children's results to S3 as Step Functions documents them
(moto writes only an empty manifest).

Retry intervals and ``Wait`` states pass on :func:`set_time_scale`'s clock: as written
(1, the default), ``scale`` times faster, or not at all (``None``, what tests use).

:func:`run` starts an execution through the real StartExecution API and waits for it
(``describe_execution`` until it is no longer RUNNING); the :class:`Execution` it returns
is read from ``describe_execution`` and ``get_execution_history``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3

from local_aws.replay import LambdaContext

if TYPE_CHECKING:
    from collections.abc import Iterator

MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
SWEEP_DEFINITION = Path(__file__).resolve().parent.parent / "statemachine" / "sweep.asl.json"
SWEEP_FUNCTION = "ses-pool-enforcer-sweep"
SWEEP_STATE_MACHINE = "ses-pool-enforcer-sweep"
REPORT_BUCKET = "ses-pool-enforcer-reports"  # local_aws.stack's, by default
HISTORY_LIMIT = 25_000  # events in a Standard workflow's execution history
FUNCTION_TIMEOUT_MS = 900_000  # the sweep function's Timeout in template.yaml

Handler = Callable[[dict[str, Any], Any], Any]

_lock = threading.Lock()
_handlers: dict[str, Handler] = {}
_scale: list[float | None] = [1.0]
_installed = False


@dataclass
class Child:
    """One iteration of a Distributed Map: a child execution, as its record in the Map
    Run's results (ResultWriter) and its own history's length."""

    index: int
    input: Any
    started: dt.datetime
    stopped: dt.datetime | None = None
    status: str = "RUNNING"  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    events: int = 0  # its history: ExecutionStarted, its states' events, its end

    def record(self, map_run_arn: str, state_machine_arn: str) -> dict[str, Any]:
        """The child as a ResultWriter file lists it ("Exporting to Amazon S3", ResultWriter
        (Map), AWS Step Functions Developer Guide): input and output as JSON text, the
        error and cause of a child that did not succeed."""
        name = f"{self.index:08d}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{map_run_arn}/{self.index}')}"
        # arn:...:execution:<state machine>/<label>:<name>, as the Map Run's children are named
        arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1)
        record: dict[str, Any] = {
            "ExecutionArn": f"{arn}:{name}",
            "Input": json.dumps(self.input),
            "InputDetails": {"Included": True},
            "Name": name,
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE",
            "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
            "StartDate": self.started.isoformat(),
            "StateMachineArn": state_machine_arn,
            "Status": self.status,
            "StopDate": (self.stopped or self.started).isoformat(),
        }
        if self.status == "SUCCEEDED":
            record["Output"] = json.dumps(self.output)
            record["OutputDetails"] = {"Included": True}
        else:
            record["RedriveStatus"] = "REDRIVABLE"
            record["RedriveStatusReason"] = ""
            record["Error"] = self.error or f"States.{self.status}"
            record["Cause"] = self.cause or ""
        return record


@dataclass
class MapRun:
    """A Distributed Map's run: its children, in the order they ended."""

    arn: str
    state_machine_arn: str
    children: list[Child] = field(default_factory=list)

    @property
    def largest_history(self) -> int:
        return max((c.events for c in self.children), default=0)


_map_runs: dict[str, MapRun] = {}


def map_runs() -> list[MapRun]:
    """Every Distributed Map run of this process so far, oldest first."""
    with _lock:
        return list(_map_runs.values())


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


def _child_job(original: Callable[..., None]) -> Callable[..., None]:
    """moto's evaluation of one Distributed Map item, given a history of its own (a child
    execution's: moto would put every child's events in one shared list) and recorded
    for :func:`map_runs` and the ResultWriter."""
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )

    def eval_job(self: Any, env: Any, job: Any) -> None:
        record = self._map_run_record
        child = Child(job.job_index, job.job_input, dt.datetime.now(dt.UTC))
        env.event_manager = EventManager()
        try:
            original(self, env, job)
        finally:
            child.stopped = dt.datetime.now(dt.UTC)
            state = env.program_state()
            if isinstance(state, ProgramError):
                child.status = "FAILED"
                details = state.error or {}
                child.error, child.cause = details.get("error"), details.get("cause")
            elif isinstance(state, ProgramStopped):
                child.status = "ABORTED"
            elif isinstance(state, ProgramTimedOut):
                child.status = "TIMED_OUT"
            elif job.job_output is None:
                child.status = "FAILED"  # moto's own catch: the job raised
            else:
                child.status, child.output = "SUCCEEDED", job.job_output
            # and ExecutionStarted and its end, which a child's own history has
            child.events = len(env.event_manager.get_event_history()) + 2
            with _lock:
                run = _map_runs.setdefault(
                    record.map_run_arn, MapRun(record.map_run_arn, record.map_state_machine_arn)
                )
                run.children.append(child)

    return eval_job


RESULTS_PER_FILE = 1_000  # children a results file holds here (AWS: up to 5 GB a file)


def _write_results(env: Any, runtime_part: Any, credentials: Any) -> None:
    """The ResultWriter's ``s3:putObject``: the children's records in files by status
    (``<prefix>/<map run id>/SUCCEEDED_0.json``, ``FAILED_0.json``, ...) and the manifest
    that lists them, then the Map's output, ``MapRunArn`` and ``ResultWriterDetails``."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs, in order: the records below carry them
    s3 = ResourceEvalS3._get_s3_client(runtime_part, credentials)
    record = env.map_run_record_pool_manager.get_all().pop()
    bucket, prefix = parameters["Bucket"], parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = f"{prefix}{record.map_run_arn.split(':')[-1]}"
    with _lock:
        run = _map_runs.get(record.map_run_arn)
        children = sorted(run.children if run else [], key=lambda c: c.index)
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}

    def by_status() -> Iterator[tuple[str, list[Child]]]:
        for status in ("SUCCEEDED", "FAILED"):
            chosen = [c for c in children if (c.status == "SUCCEEDED") == (status == "SUCCEEDED")]
            for n, start in enumerate(range(0, len(chosen), RESULTS_PER_FILE)):
                yield f"{status}_{n}", chosen[start : start + RESULTS_PER_FILE]

    for name, part in by_status():
        key = f"{folder}/{name}.json"
        body = json.dumps(
            [c.record(record.map_run_arn, record.map_state_machine_arn) for c in part]
        ).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files[name.split("_")[0]].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
    key = f"{folder}/manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
    env.stack.append(
        {
            "MapRunArn": record.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": key},
        }
    )


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
        worker: Any = importlib.import_module(
            f"{package}.state.exec.state_map.iteration.itemprocessor."
            "distributed_item_processor_worker"
        )
        worker_class = worker.DistributedItemProcessorWorker
        worker_class._eval_job = _child_job(worker_class._eval_job)
        writer: Any = importlib.import_module(
            f"{package}.state.exec.state_map.result_writer.resource_eval.resource_eval_s3"
        )
        writer.ResourceEvalS3._handle_put_object = staticmethod(_write_results)
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
    ``SweepFunctionArn`` substituted, and its ``ReportBucketName``: ``REPORT_BUCKET``, as
    the local stack sets it), bind the sweep function to ``handler``, and return the state
    machine's ARN. Calling it again rebinds and reuses the machine."""
    account = cast(Any, boto3).client("sts", region_name=region).get_caller_identity()["Account"]
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{SWEEP_FUNCTION}"
    bind(SWEEP_FUNCTION, handler)
    sfn = _client(region)
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == SWEEP_STATE_MACHINE:
            return str(machine["stateMachineArn"])
    arn: str = sfn.create_state_machine(
        name=SWEEP_STATE_MACHINE,
        definition=definition(
            SWEEP_DEFINITION,
            {
                "SweepFunctionArn": function_arn,
                "ReportBucketName": os.environ.get("REPORT_BUCKET", REPORT_BUCKET),
            },
        ),
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
