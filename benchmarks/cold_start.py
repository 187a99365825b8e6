"""Cold start of the event function as Lambda bills it, against the floor any boto3 Lambda
pays, and the AWS calls an event costs.

Two processes, as in AWS: this one is "AWS" (moto's server with the local_aws
extensions: the stack, a policy, a pool and a compliant set). Each sample is a fresh
interpreter, "Lambda": it imports the event function's handler with the environment
``template.yaml`` gives it (a single-account deployment, every parameter at its default)
and handles one CloudTrail event about the compliant set, every AWS call made over local
HTTP; then, warm, a second event about the same set. Against it:

* the floor: a fresh interpreter that imports boto3, makes one ``sesv2`` client and one
  ``GetConfigurationSet``;
* the libraries' limit: boto3, pydantic (one model), the Powertools Logger, three clients
  (SES, DynamoDB, SSM) and the same ``GetConfigurationSet``: what any function on the
  same libraries pays before its own code;
* the event function once more, with its garbage-collection hold undone: what it would
  cost collecting as the two above do (its own cut, shown apart).

Times are taken inside each process, from its first line to the end of the event (init
plus the first invocation); the figure is the median of ``--runs`` processes. Calls are
counted by local AWS (every service), so nothing is added to the measured process.
Peak RSS is the process's own high-water mark (VmHWM).

Usage: python -m benchmarks.cold_start [--runs 11]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from benchmarks.local import SETS_POLICY, local_credentials, memory_size
from local_aws import faults, seed
from local_aws.replay import sample_event, sqs_event
from local_aws.server import start_local_aws
from local_aws.stack import LocalStack, provision
from ses_pool_enforcer.adapters.policy_store import write_policy
from ses_pool_enforcer.event_path import CLOCK_SKEW_SECONDS
from ses_pool_enforcer.policy import parse_policy

ROOT = Path(__file__).resolve().parent.parent
SET = "set-00000"
MARK = "BENCH "  # the measured process's own lines; the function logs to stdout as well

# What each measured process shares: its figures on a marked line, its peak memory.
PRELUDE = """
import time
_began, _cpu = time.perf_counter(), time.process_time()
import json, os, sys

def _report(**figures):
    figures.setdefault("cpu", time.process_time() - _cpu)
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    figures["rss_mb"] = int(hwm.split()[1]) / 1024
    print("BENCH " + json.dumps(figures), flush=True)

class Context:  # what Lambda hands the handler
    function_name = "EventFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:EventFunction"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self):
        return 60_000
"""

FLOOR = (
    PRELUDE
    + """
import boto3
boto3.session.Session().client("sesv2").get_configuration_set(ConfigurationSetName=os.environ["BENCH_SET"])
_report(seconds=time.perf_counter() - _began)
"""
)

LIBRARIES = (
    PRELUDE
    + """
import boto3
from aws_lambda_powertools import Logger
from pydantic import BaseModel

class Settings(BaseModel):
    name: str = "x"

Logger(service="x")
Settings()
session = boto3.session.Session()
ses, _, _ = (session.client(service) for service in ("sesv2", "dynamodb", "ssm"))
ses.get_configuration_set(ConfigurationSetName=os.environ["BENCH_SET"])
_report(seconds=time.perf_counter() - _began)
"""
)

HANDLER = (
    PRELUDE
    + """
from functions.on_event.app import handler

imported = time.perf_counter() - _began
answer = handler(json.loads(os.environ["BENCH_EVENT"]), Context())
seconds, cpu = time.perf_counter() - _began, time.process_time() - _cpu
from ses_pool_enforcer.runtime import get_runtime  # after the clock: already imported

budget = get_runtime().ses.budget
failed = len(answer["batchItemFailures"])
_report(seconds=seconds, cpu=cpu, imported=imported, paced=budget.waited, failed=failed)
for line in sys.stdin:  # warm: the same process, another event
    began, waited = time.perf_counter(), budget.waited
    answer = handler(json.loads(line), Context())
    seconds = time.perf_counter() - began
    _report(seconds=seconds, paced=budget.waited - waited, failed=len(answer["batchItemFailures"]))
"""
)

# The same, with the handler's garbage-collection hold undone (functions/on_event/app.py
# holds collection off while its modules load, then freezes them): what the event function
# would cost collecting as the floor and the libraries' limit do, for comparison.
COLLECTING = HANDLER.replace(
    "from functions.on_event.app import handler\n",
    "import gc\ngc.disable = gc.freeze = lambda: None\n"
    "from functions.on_event.app import handler\n",
    1,
)


# --------------------------------------------------------------------------- environment


def _resolve(value: Any, references: dict[str, str], parameters: dict[str, Any]) -> str:
    """One of the template's environment values, for a single-account stack whose
    parameters are all at their defaults. Raises on a form it does not know, so that a
    new variable cannot be left out unseen."""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and argument in references:
            return references[argument]
        if function == "Ref" and argument in parameters:
            default = parameters[argument].get("Default", "")
            return ",".join(default) if isinstance(default, list) else str(default)
        if function == "Fn::If" and argument[0] == "IsHub":  # no organization: the else
            return _resolve(argument[2], references, parameters)
    raise ValueError(f"template.yaml: an environment value this benchmark cannot resolve: {value}")


def function_environment(stack: LocalStack, function: str) -> dict[str, str]:
    """The environment ``template.yaml`` gives ``function`` (Globals, then its own), with
    the stack's resources standing for the template's."""
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    parameters = template["Parameters"]
    resources = {
        "AWS::AccountId": stack.account_id,
        "AlertTopic": stack.alert_topic_arn,
        "AlertFallbackQueue": stack.alert_fallback_queue_url,
        "InventoryTable": stack.inventory_table,
        "IdentityTable": stack.identity_table,
        "StateTable": stack.state_table,
        "ReportBucket": stack.report_bucket,
        "EventQueue": stack.work_queue_url,
    }
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][function]["Properties"].get("Environment") or {}
    variables.update(own.get("Variables") or {})
    return {name: _resolve(value, resources, parameters) for name, value in variables.items()}


# --------------------------------------------------------------------------- samples


@dataclass
class Sample:
    seconds: float  # init and the first event, less the wait for the SES call budget
    paced: float  # that wait: pacing at SES_CALLS_PER_SECOND, not start-up
    cpu: float  # the CPU time of the same (user and system): what a busy machine leaves alone
    rss_mb: float
    calls: Counter[str]
    warm_calls: Counter[str] = field(default_factory=Counter)
    warm_seconds: float = 0.0
    warm_rss_mb: float = 0.0
    imported: float = 0.0  # of ``seconds``, importing the handler (Lambda's init phase)


def _event(pause: float) -> str:
    """An SQS batch of one CloudTrail record about the set, stamped by SQS now, ``pause``
    seconds after the last event: after any earlier look at the set began (a look that
    began later would cover it: one call), and with the SES call budget's next slot free
    (the deployment's budget is shared through the state table: the last process's call
    would otherwise make this one wait, which is pacing, not a cold start)."""
    time.sleep(max(pause, CLOCK_SKEW_SECONDS + 0.05))
    body = sample_event("create_configuration_set_v2.json", configuration_set=SET, fresh_id=True)
    return json.dumps(sqs_event([body]))


def _since(before: dict[str, int]) -> Counter[str]:
    after = faults.request_counts()
    return Counter({k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)})


def _marked(stream: Any) -> dict[str, Any]:
    for line in stream:
        if line.startswith(MARK):
            figures: dict[str, Any] = json.loads(line[len(MARK) :])
            if figures.get("failed"):
                sys.exit(f"the event failed in the measured process: {figures}")
            return figures
    sys.exit("the measured process ended without its figures")


def sample(code: str, environment: dict[str, str], warm: bool = False) -> Sample:
    pause = 1 / float(environment["SES_CALLS_PER_SECOND"]) + 0.05
    env = {**environment, "BENCH_EVENT": _event(pause), "BENCH_SET": SET}
    before = faults.request_counts()
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    cold = _marked(process.stdout)
    paced = cold.get("paced", 0.0)
    result = Sample(cold["seconds"] - paced, paced, cold["cpu"], cold["rss_mb"], _since(before))
    result.imported = cold.get("imported", 0.0)
    if warm:
        event = _event(pause)
        before = faults.request_counts()
        process.stdin.write(event + "\n")
        process.stdin.flush()
        figures = _marked(process.stdout)
        result.warm_calls = _since(before)
        result.warm_seconds = figures["seconds"] - figures["paced"]
        result.warm_rss_mb = figures["rss_mb"]
    process.stdin.close()
    process.stdout.read()
    if process.wait() != 0:
        sys.exit(f"the measured process failed (exit {process.returncode})")
    return result


def _calls(counted: Counter[str]) -> str:
    detail = ", ".join(f"{k} {n}" for k, n in sorted(counted.items()))
    return f"{sum(counted.values())} ({detail})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="answer every AWS call this much later (local AWS answers in a few ms; an "
        "in-region call to AWS takes longer: DynamoDB's own figure is single-digit ms)",
    )
    args = parser.parse_args()
    local_credentials(POWERTOOLS_TRACE_DISABLED="1")
    with start_local_aws() as aws:
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
        stack = provision()
        seed.create_pool("marketing")
        # Stored as the CLI publishes it (canonical JSON), not as written (YAML).
        write_policy(stack.policy_parameter, parse_policy(SETS_POLICY))
        seed.create_set(SET, pool="marketing", tls_policy="REQUIRE")
        if args.latency_ms > 0:  # after each call is applied, before its answer leaves
            faults.after("*", "*", lambda: time.sleep(args.latency_ms / 1000), times=10**9)
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        environment = {
            **base,
            **function_environment(stack, "EventFunction"),
            "AWS_LAMBDA_FUNCTION_NAME": "EventFunction",
        }
        kinds = (
            ("floor: boto3, sesv2 client, 1 call", FLOOR, False),
            ("libraries: + pydantic, Logger, 3 clients", LIBRARIES, False),
            ("event function: init + first event", HANDLER, True),
            ("  the same, collecting as the others do", COLLECTING, False),
        )
        for _, code, warm in kinds:  # bytecode caches warm, the set known: as deployed
            sample(code, environment, warm)
        # Round robin: a machine's load that drifts during the run weighs on all alike.
        samples: dict[str, list[Sample]] = {label: [] for label, _, _ in kinds}
        for _ in range(args.runs):
            for label, code, warm in kinds:
                samples[label].append(sample(code, environment, warm))

    floor_label, libraries_label, ours_label, _ = (label for label, _, _ in kinds)
    wall = {label: statistics.median(s.seconds for s in runs) for label, runs in samples.items()}
    cpu = {label: statistics.median(s.cpu for s in runs) for label, runs in samples.items()}
    print(
        f"cold start as Lambda bills it (init + first event), median of {args.runs} fresh "
        f"processes each (Python {sys.version.split()[0]}; AWS over local HTTP"
        + (f", every call answered {args.latency_ms:g} ms late" if args.latency_ms else "")
        + "; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"{'':42} {'seconds':>8} {'x floor':>8} {'CPU s':>7} {'x floor':>8} {'peak RSS MB':>12}")
    for label, runs in samples.items():
        print(
            f"{label:42} {wall[label]:8.3f} {wall[label] / wall[floor_label]:7.2f}x "
            f"{cpu[label]:7.3f} {cpu[label] / cpu[floor_label]:7.2f}x "
            f"{max(s.rss_mb for s in runs):12.1f}"
        )
    ours = samples[ours_label]
    imported = statistics.median(s.imported for s in ours)
    print(
        f"  the event function: importing the handler {imported:.3f} s of it; its wait for "
        "the SES call budget left out (median "
        f"{statistics.median(s.paced for s in ours):.3f} s: pacing at "
        f"SES_CALLS_PER_SECOND={environment['SES_CALLS_PER_SECOND']}, not start-up)"
    )
    print(
        f"event function over the floor: {wall[ours_label] / wall[floor_label]:.2f}x "
        f"({cpu[ours_label] / cpu[floor_label]:.2f}x in CPU time; target <= 1.40); over the "
        f"libraries: {wall[ours_label] - wall[libraries_label]:+.3f} s, "
        f"{cpu[ours_label] - cpu[libraries_label]:+.3f} CPU s (the project's own code)"
    )
    print(
        "  (seconds are what Lambda bills; on a busy machine they wait for a CPU, and the CPU "
        "time is the steadier figure; the event function holds off garbage collection while "
        "its modules load, and freezes them: 'collecting as the others do' shows it without that)"
    )
    print("AWS calls for one event about a compliant set (counted by local AWS, every call)")
    print(f"  cold process  {_calls(ours[0].calls)}: init and the first event")
    print(
        f"  warm process  {_calls(ours[0].warm_calls)} (target <= 3): the same process, a "
        "later event about the same set, whose look finds it as the last one left it"
    )
    print(
        f"  warm event    {statistics.median(s.warm_seconds for s in ours) * 1000:.1f} ms "
        "(budget wait left out)"
    )
    peak, memory = max(s.warm_rss_mb for s in ours), memory_size("EventFunction")
    print(
        f"peak memory (peak RSS) of the event function {peak:.1f} MB after both events: "
        f"{peak / memory:.0%} of its MemorySize {memory} MB (template.yaml)"
    )


if __name__ == "__main__":
    main()
