"""The organization-wide sweep: one lane per member account and region, run side by side by
the sweep state machine's Map, against local AWS at a scaled SES limit.

As ``benchmarks.sweep_10k``, in processes as in AWS: this one is "AWS" (moto's server
with the local_aws extensions; an organization whose OU holds ``--accounts`` member
accounts, each with ``--sets`` configuration sets in each of ``--regions`` regions, every
tenth on the wrong pool) and Step Functions (moto's engine runs
``statemachine/sweep.asl.json`` through StartExecution, the Map's MaxConcurrency read
from LANE_CONCURRENCY = ``--concurrency``). The sweep function runs in warm child
processes, as many as the Map invokes at once (Lambda's execution environments), made
before the execution starts; each calls local AWS over HTTP, in the members through
their role. SES throttles each account and region on its own at ``--rate`` calls per
second, and each lane's budget (``ses-budget#<account>#<region>``) is that rate; steps
are scaled as in sweep_10k (``600 / rate`` seconds).

Local AWS serves one request at a time (``local_aws.faults``: real DynamoDB and SQS are
atomic where moto is not), in one Python process: its capacity is shared by every lane,
where AWS's is not. The run prints how busy that one-at-a-time lock was: near 100 %, the
lanes are waiting for local AWS, not for their budgets, and the rate must come down.

Prints: wall time of the execution; each lane's wall time (min, median, max, from the
Map's iteration events in GetExecutionHistory); total / largest lane (about 1 with
``--concurrency`` >= lanes, about lanes / concurrency below); SES calls per set; each
lane's SES call rate against its budget; throttling; sets on the right pool at the end;
history events against the 25,000 limit; peak RSS of the function's processes; the load
on local AWS.

Past ``lanes.INLINE_LANES`` lanes the sweep runs on the Distributed Map: each lane a child
execution (its wall time and history from ``sfn.map_runs``), the lanes listed in S3 and
their results read back from S3; the run then also prints the largest child history,
total / (lanes / concurrency x mean lane time), and reads the organization report back
from S3 as JSON, CSV and HTML (the HTML kept at ``--html`` for a browser).
``--distributed`` is that size at small lanes: 1,000 accounts x 2 regions x 1 set,
LANE_CONCURRENCY 20, unless given otherwise.

Usage: python -m benchmarks.org_sweep [--accounts 10] [--regions 2] [--sets 1000]
       [--rate 5] [--concurrency N (default: every lane)] [--distributed] [--html PATH]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import os
import resource
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3

from benchmarks.local import SETS_POLICY, local_credentials
from benchmarks.sweep_10k import REAL_STEP_SECONDS, WORKER_FLAG, FunctionProcess, peak_rss_mb
from local_aws import (
    call_counts,
    faults,
    lane_call_counts,
    lane_throttle_stats,
    seed,
    set_throttle,
    sfn,
    throttle_stats,
)
from local_aws.server import start_local_aws
from local_aws.sfn import HISTORY_LIMIT, FunctionError
from local_aws.stack import provision

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-2")
MEMBER_ROLE = "ses-pool-enforcer-member"
WRONG_EVERY = 10  # every tenth set starts on the wrong pool
MAX_LANE_CONCURRENCY = 40  # the default: an inline Map runs 40 iterations at most
LOCAL_AWS_SATURATED = 0.9  # of the execution with local AWS's one-at-a-time lock held


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=10, help="member accounts in the OU")
    parser.add_argument("--regions", type=int, default=2, help=f"member regions (of {REGIONS})")
    parser.add_argument("--sets", type=int, default=1_000, help="configuration sets per lane")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="SES calls/s per lane: its limit and budget"
    )
    parser.add_argument(
        "--burst", type=float, default=None, help="SES token bucket size (default: rate / 20)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="LANE_CONCURRENCY (default: every lane)"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="the Distributed Map's size: 1,000 accounts x 2 regions x 1 set, 20 at a time",
    )
    parser.add_argument(
        "--html", default="/tmp/org-report.html", help="where to keep the organization's HTML"
    )
    args = parser.parse_args()
    if args.distributed:
        defaults = {"accounts": 10, "regions": 2, "sets": 1_000, "concurrency": None}
        given = {k: getattr(args, k) for k in defaults}
        for key, value in {"accounts": 1_000, "sets": 1, "concurrency": 20}.items():
            if given[key] == defaults[key]:
                setattr(args, key, value)
    if not 1 <= args.regions <= len(REGIONS):
        parser.error(f"--regions: 1 to {len(REGIONS)}")
    return args


# --------------------------------------------------------------------------- Lambda


@dataclass(frozen=True)
class Invocation:
    action: str
    lane: tuple[str, str] | None
    began: float
    ended: float


class FunctionPool:
    """The sweep function as Lambda scales it: one warm process per invocation running at
    the same time (each invocation takes an idle one, or a new one when all are busy)."""

    def __init__(self, command: list[str], environment: dict[str, str], warm: int) -> None:
        self._command, self._environment = command, environment
        self._lock = threading.Lock()
        self._idle: list[FunctionProcess] = []
        self.processes: list[FunctionProcess] = []
        self.invocations: list[Invocation] = []
        self.cold_starts = 0
        started = [self._spawn() for _ in range(warm)]
        for process in started:
            # An event the function refuses at once: the process has imported everything
            # and built its runtime, as a warm environment has.
            try:
                process({"action": "warm-up"}, None)
            except FunctionError as exc:
                if exc.error_type != "SweepRequestError":
                    raise
        self._idle = started

    def _spawn(self) -> FunctionProcess:
        process = FunctionProcess(self._command, self._environment)
        with self._lock:
            self.processes.append(process)
        return process

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            process = self._idle.pop() if self._idle else None
        if process is None:
            process = self._spawn()
            with self._lock:
                self.cold_starts += 1
        began = time.perf_counter()
        try:
            return process(event, context)
        finally:
            ended = time.perf_counter()
            lane = event.get("lane") if event.get("action") == "start" else None
            lane = lane or (event.get("sweep") or {}).get("lane")
            key = (str(lane["account"]), str(lane["region"])) if lane else None
            with self._lock:
                self.invocations.append(Invocation(str(event.get("action")), key, began, ended))
                self._idle.append(process)

    def close(self) -> list[dict[str, Any]]:
        return [process.close() for process in self.processes]


# --------------------------------------------------------------------------- local AWS load


class TimedLock:
    """local_aws.faults' one-request-at-a-time lock, timed: how long requests held it (its
    busy time) and waited for it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._local = threading.local()
        self._stats = threading.Lock()
        self.held = 0.0
        self.waited = 0.0
        self.requests = 0

    def __enter__(self) -> None:
        asked = time.perf_counter()
        self._inner.acquire()
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.since = time.perf_counter()
            with self._stats:
                self.waited += self._local.since - asked
        self._local.depth = depth + 1

    def __exit__(self, *_: object) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            self._local.last = time.perf_counter() - self._local.since
            with self._stats:
                self.held += self._local.last
                self.requests += 1
        self._inner.release()

    def snapshot(self) -> tuple[float, float, int]:
        with self._stats:
            return self.held, self.waited, self.requests

    def last_held(self) -> float:
        """How long this thread's last request held the lock."""
        return float(getattr(self._local, "last", 0.0))


def _count_requests(serial: TimedLock) -> tuple[Counter[str], Counter[str]]:
    """Requests local AWS serves, and the seconds they held its lock, per service (moto's
    dispatch, wrapped)."""
    from moto.core.responses import BaseResponse

    served: Counter[str] = Counter()
    held: Counter[str] = Counter()
    lock = threading.Lock()
    dispatch = BaseResponse._dispatch

    def counted(self: Any, request: Any, full_url: Any = None, headers: Any = None) -> Any:
        try:
            return dispatch(self, request, full_url, headers)
        finally:
            service = str(self.service_name or "?")
            if service == "dynamodb":  # the one to watch: name its actions
                service = f"dynamodb {self._get_action()}"
            with lock:
                served[service] += 1
                held[service] += serial.last_held()  # type: ignore[assignment]

    BaseResponse._dispatch = counted  # type: ignore[method-assign]
    return served, held


# --------------------------------------------------------------------------- the organization


@dataclass(frozen=True)
class Organization:
    id: str
    unit: str
    accounts: list[str]


def _organization(accounts: int) -> Organization:
    organizations = cast(Any, boto3).client("organizations", region_name="us-east-1")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="email")
    unit_id = unit["OrganizationalUnit"]["Id"]
    members = []
    for n in range(accounts):
        account = organizations.create_account(
            AccountName=f"member-{n:02d}", Email=f"member-{n:02d}@example.com"
        )["CreateAccountStatus"]["AccountId"]
        organizations.move_account(
            AccountId=account, SourceParentId=root, DestinationParentId=unit_id
        )
        members.append(account)
    return Organization(organization["Id"], unit_id, sorted(members))


def _seed(org: Organization, regions: tuple[str, ...], sets: int) -> None:
    """The hub: its pools and the policy (no sets of its own). Each member lane: the two
    pools and ``sets`` sets, every tenth on the wrong one, as its own people made them."""
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(SETS_POLICY)
    for account in org.accounts:
        with seed.as_account(account):
            for region in regions:
                ses = seed.sesv2(region)  # one client for the lane's pools and sets
                for pool in ("marketing", "transactional"):
                    ses.create_dedicated_ip_pool(PoolName=pool, ScalingMode="STANDARD")
                for i in range(sets):
                    pool = "transactional" if i % WRONG_EVERY == WRONG_EVERY - 1 else "marketing"
                    ses.create_configuration_set(
                        ConfigurationSetName=f"set-{i:05d}",
                        DeliveryOptions={"SendingPoolName": pool, "TlsPolicy": "REQUIRE"},
                    )


def _on_pool(lane: tuple[str, str], pool: str) -> tuple[int, int]:
    """(sets on ``pool``, sets) in ``lane``, read from moto's store (not the API: the
    figure must not cost a lane's SES calls, nor minutes)."""
    from moto.ses.models import ses_backends

    config_sets = ses_backends[lane[0]][lane[1]].config_sets
    right = sum(
        1 for s in config_sets.values() if (s.delivery_options or {}).get("SendingPoolName") == pool
    )
    return right, len(config_sets)


# --------------------------------------------------------------------------- figures


def _at(event: dict[str, Any]) -> float:
    stamp = event["timestamp"]
    return float(stamp.timestamp() if isinstance(stamp, dt.datetime) else stamp)


def _lane_walls(history: list[dict[str, Any]]) -> dict[Any, float]:
    """Lane (account, region; None for the hub's own) -> its Map iteration's wall time,
    from the iteration events, the lanes read from the Lanes task's output."""
    listed: list[Any] = []
    began: dict[int, float] = {}
    walls: dict[Any, float] = {}
    for event in history:
        details = event.get("stateExitedEventDetails")
        if details and details.get("name") == "Lanes":
            listed = [item["lane"] for item in json.loads(details["output"])["lanes"]]
        if event["type"] == "MapIterationStarted":
            began[event["mapIterationStartedEventDetails"]["index"]] = _at(event)
        elif event["type"] in ("MapIterationSucceeded", "MapIterationFailed"):
            key = next(k for k in event if k.startswith("mapIteration"))
            index = event[key]["index"]
            lane = listed[index]
            walls[(lane["account"], lane["region"]) if lane else None] = _at(event) - began[index]
    return walls


def _child_walls(runs: list[sfn.MapRun]) -> tuple[dict[Any, float], int]:
    """Lane -> its child execution's wall time, and the largest child history, from the
    Distributed Map's runs."""
    walls: dict[Any, float] = {}
    largest = 0
    for run in runs:
        for child in run.children:
            lane = child.input.get("lane") if isinstance(child.input, dict) else None
            key = (lane["account"], lane["region"]) if lane else None
            stopped = child.stopped or child.started
            walls[key] = (stopped - child.started).total_seconds()
            largest = max(largest, child.events)
    return walls, largest


def _read_report(links: dict[str, str], html_path: str) -> str:
    """The organization report read back from S3 as JSON, CSV and HTML: what each holds."""
    s3 = cast(Any, boto3).client("s3", region_name="us-east-1")

    def body(uri: str) -> str:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())

    document = json.loads(body(links["json_uri"]))
    rows = list(csv.DictReader(io.StringIO(body(links["csv_uri"]))))
    html = body(links["html_uri"])
    Path(html_path).write_text(html, encoding="utf-8")
    return (
        f"JSON {len(document['accounts']):,} accounts, {document['lanes']:,} lanes; "
        f"CSV {len(rows):,} rows ({sum(1 for r in rows if r['status'] == 'swept'):,} swept); "
        f"HTML {len(html) / 1e6:.1f} MB, {html.count('<tr class='):,} lane rows ({html_path})"
    )


def _spread(values: list[float], unit: str = " s", digits: int = 1) -> str:
    if not values:
        return "none"
    return (
        f"min {min(values):.{digits}f}{unit}, median {statistics.median(values):.{digits}f}{unit}, "
        f"max {max(values):.{digits}f}{unit}"
    )


def main() -> None:
    args = _arguments()
    local_credentials(POWERTOOLS_TRACE_DISABLED="1")
    regions = REGIONS[: args.regions]
    member_lanes = args.accounts * args.regions
    lanes_total = member_lanes + 1  # and the hub's own account and region
    concurrency = args.concurrency or min(lanes_total, MAX_LANE_CONCURRENCY)
    step_seconds = max(1, round(REAL_STEP_SECONDS / args.rate))
    burst = args.burst if args.burst is not None else max(2.0, args.rate / 20)

    with start_local_aws() as aws:
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
        serial = TimedLock(faults._serial)
        faults._serial = serial  # type: ignore[assignment]  # read by each dispatch
        served, held_by = _count_requests(serial)
        stack = provision()
        org = _organization(args.accounts)
        print(
            f"seeding {args.accounts} accounts x {args.regions} regions x {args.sets:,} sets ...",
            file=sys.stderr,
            flush=True,
        )
        seeding = time.perf_counter()
        _seed(org, regions, args.sets)
        seeding = time.perf_counter() - seeding
        environment = {
            **os.environ,
            **stack.environment(),
            "ORGANIZATION_ID": org.id,
            "MEMBER_ROLE_NAME": MEMBER_ROLE,
            "MEMBER_REGIONS": ",".join(regions),
            "MEMBER_OUS": org.unit,
            "LANE_CONCURRENCY": str(concurrency),
            "SES_CALLS_PER_SECOND": f"{args.rate:g}",
            "SWEEP_STEP_SECONDS": str(step_seconds),
        }
        warm = min(concurrency, lanes_total)
        print(
            f"starting {warm} warm function processes; sweeping {lanes_total} lanes, "
            f"{concurrency} at a time, at {args.rate:g} SES calls/s per lane (burst {burst:g}), "
            f"{step_seconds} s steps ...",
            file=sys.stderr,
            flush=True,
        )
        command = [sys.executable, "-m", "benchmarks.sweep_10k", WORKER_FLAG]
        function = FunctionPool(command, environment, warm)
        counts_before, lanes_before = call_counts(), lane_call_counts()
        stats_before = throttle_stats()
        set_throttle(args.rate, burst, per_lane=True)
        load_before, cpu_before = serial.snapshot(), resource.getrusage(resource.RUSAGE_SELF)
        served_before, held_before = Counter(served), Counter(held_by)
        began = time.perf_counter()
        os.environ["REPORT_BUCKET"] = stack.report_bucket  # the ResultWriter's bucket
        runs_before = len(sfn.map_runs())
        execution = sfn.run_sweep(function, {"trigger": "manual"}, timeout=6 * 3600.0)
        runs = sfn.map_runs()[runs_before:]
        wall = time.perf_counter() - began
        cpu_after, load_after = resource.getrusage(resource.RUSAGE_SELF), serial.snapshot()
        served_during = Counter(served)
        served_during.subtract(served_before)
        held_during = Counter(held_by)
        held_during.subtract(held_before)
        set_throttle(None)
        lanes_after, counts_after = lane_call_counts(), call_counts()
        stats_after, lane_stats = throttle_stats(), lane_throttle_stats()
        figures = function.close()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        member_keys = [(a, r) for a in org.accounts for r in regions]
        pools = {lane: _on_pool(lane, "marketing") for lane in member_keys}
        server_rss = peak_rss_mb()
        if execution.status != "SUCCEEDED":
            print(f"the execution {execution.status}: {execution.error} {execution.cause}")
        links = (execution.output or {}).get("organization_report")
        readable = _read_report(links, args.html) if isinstance(links, dict) else None

    # ---- the execution and its lanes
    history = execution.history
    execution_wall = _at(history[-1]) - _at(history[0])
    walls, largest_child = _child_walls(runs)
    walls = walls or _lane_walls(history)
    member_walls = [walls[lane] for lane in member_keys if lane in walls]
    largest = max(member_walls, default=float("nan"))
    # The hub's lane (no sets) frees its slot at once: the member lanes run in waves of
    # ``concurrency``.
    expected = math.ceil(member_lanes / concurrency)
    output = execution.output or {}
    failed_attempts = sum(1 for e in history if e["type"] == "TaskFailed")

    # ---- SES
    calls = {
        op: n - counts_before.get(op, 0)
        for op, n in counts_after.items()
        if n != counts_before.get(op, 0)
    }
    total_calls = sum(calls.values())
    sets_total = member_lanes * args.sets
    stepping: dict[tuple[str, str], float] = Counter()
    for invocation in function.invocations:
        if invocation.action == "step" and invocation.lane is not None:
            stepping[invocation.lane] += invocation.ended - invocation.began
    lane_calls = {
        lane: lanes_after.get(lane, 0) - lanes_before.get(lane, 0) for lane in member_keys
    }
    rate_stepping = [
        lane_calls[lane] / stepping[lane] / args.rate for lane in member_keys if stepping[lane]
    ]
    rate_wall = [
        lane_calls[lane] / walls[lane] / args.rate for lane in member_keys if walls.get(lane)
    ]
    throttled = stats_after.throttled - stats_before.throttled
    lane_throttled = [lane_stats[lane].throttled for lane in member_keys if lane in lane_stats]
    right = sum(pools[lane][0] for lane in member_keys)
    found = sum(pools[lane][1] for lane in member_keys)

    # ---- local AWS
    held = load_after[0] - load_before[0]
    waited = load_after[1] - load_before[1]
    requests = load_after[2] - load_before[2]
    server_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    function_cpu = children.ru_utime + children.ru_stime
    requests_by_service = ", ".join(
        f"{s} {n:,} ({held_during[s] / n * 1000:.1f} ms)"
        for s, n in served_during.most_common()
        if n
    )

    print(
        f"\nOrganization sweep: {args.accounts} accounts x {args.regions} regions "
        f"({', '.join(regions)}) x {args.sets:,} sets = {member_lanes} member lanes "
        f"+ the hub's own (no sets); SES limit and budget {args.rate:g} calls/s per lane; "
        f"LANE_CONCURRENCY {concurrency}"
    )
    print(f"  execution                   {execution.status} {execution.error or ''}")
    print(
        f"  lanes                       {output.get('lanes')} swept, "
        f"{output.get('failed')} failed, {output.get('unreachable')} unreachable"
    )
    print(
        f"  wall time                   {execution_wall:.1f} s for the execution "
        f"(history; {wall:.1f} s StartExecution to its end as polled)"
    )
    source = "child executions" if runs else "Map iteration events"
    print(f"  lane wall time              {_spread(member_walls)} ({source})")
    hub_wall = walls.get(None)
    if hub_wall is not None:
        print(f"  hub's own lane              {hub_wall:.1f} s (no sets)")
    print(
        f"  total / largest lane        {execution_wall / largest:.2f} "
        f"(about {expected} expected: {member_lanes} lanes, {concurrency} at a time)"
    )
    if runs:
        mean = statistics.fmean(member_walls)
        ideal = member_lanes / concurrency * mean
        print(
            f"  Distributed Map             {sum(len(r.children) for r in runs):,} child "
            f"executions; total / (lanes / concurrency x mean lane time) = "
            f"{execution_wall:.1f} / ({member_lanes} / {concurrency} x {mean:.2f} s) = "
            f"{execution_wall / ideal:.2f}"
        )
        print(
            f"  largest history             {max(largest_child, len(history)):,} events "
            f"(a child's largest {largest_child:,}, the parent's {len(history):,}; "
            f"limit {HISTORY_LIMIT:,} each)"
        )
    if readable:
        print(f"  organization report         {readable}")
    print(
        f"  sets on the right pool      {right:,} of {found:,} "
        f"({sets_total // WRONG_EVERY:,} started on the wrong one)"
    )
    print(f"  SES calls                   {total_calls:,} {dict(sorted(calls.items()))}")
    print(f"  SES calls per set           {total_calls / max(sets_total, 1):.4f}")
    print(
        f"  SES call rate per lane      {_spread(rate_stepping, '', 3)} of the budget while "
        "stepping (target >= 0.95)"
    )
    print(f"                              {_spread(rate_wall, '', 3)} over the lane's wall time")
    print(
        f"  SES calls, all lanes        {total_calls / execution_wall:.1f}/s over the execution "
        f"(the lanes' budgets add up to {member_lanes * args.rate:g}/s)"
    )
    print(
        f"  throttled answers (429)     {throttled} "
        f"({_spread([float(t) for t in lane_throttled], '', 0)} a lane; the SDK retries them)"
    )
    print(f"  failed task attempts        {failed_attempts}")
    print(
        f"  state machine               {len(history):,} history events "
        f"(Standard limit {HISTORY_LIMIT:,}: {len(history) / HISTORY_LIMIT:.1%}), "
        f"{len(execution.states):,} transitions; "
        f"{sum(1 for i in function.invocations if i.action == 'step')} steps of "
        f"{step_seconds} s"
    )
    print(
        f"  peak memory (peak RSS)      {max(f['rss_peak_mb'] for f in figures):.1f} MB, the "
        f"largest of {len(figures)} function processes ({function.cold_starts} started during "
        f"the run); local AWS and Step Functions {server_rss:.0f} MB"
    )
    print(
        f"  local AWS, one at a time    {requests:,} requests ({requests / execution_wall:.0f}/s: "
        f"{requests_by_service}); the lock busy {held / execution_wall:.0%} of the execution, "
        f"{held / max(requests, 1) * 1000:.2f} ms a request, "
        f"{waited / max(requests, 1) * 1000:.2f} ms waited for it on average: "
        + (
            "the lanes waited for local AWS, not for their budgets (lower --rate)"
            if held / execution_wall >= LOCAL_AWS_SATURATED
            else "local AWS had time to spare"
        )
    )
    print(
        f"  CPU                         local AWS + Step Functions "
        f"{server_cpu / execution_wall:.2f} CPUs, the function's processes "
        f"{function_cpu / execution_wall:.2f} CPUs on average "
        f"(of {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} at the end)"
    )
    print(f"  seeding                     {seeding:.0f} s ({found:,} sets through the API)")


if __name__ == "__main__":
    main()
