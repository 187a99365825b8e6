"""Faults and crashes on demand, and requests served one at a time, for every service of
local AWS (moto in process or its server).

* ``fail(service, action, times, code, status)``: the next ``times`` requests of that
  action get an AWS error, as the service would answer it (nothing is applied).
* ``after(service, action, hook)``: once the request has been applied, ``hook`` runs
  before the answer is sent (it may make requests of its own, or wait for another
  client's: a test can interleave two workers at the exact point it wants). With the
  local server and a client in another process, ``kill_after`` is a process dying
  right after its write reached AWS: the way Lambda ends an invocation (timeout, out of
  memory), where no ``except`` and no ``finally`` of the client runs.
* ``request_counts()``: the requests received, per service and action (what a client in
  another process cost in calls, with nothing counted inside that process).
* Requests are served one at a time. Real DynamoDB applies a conditional write to an
  item atomically, and real SQS hands a message to one receiver; moto's backends do
  neither under concurrent requests, so without this a test of two consumers would find
  races that AWS does not have (and miss the ones it does).

This module is for tests, benchmarks and the local demo endpoint only.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Query-protocol services answer errors in XML; the others in JSON.
_XML_SERVICES = frozenset({"sns", "sts", "iam", "cloudformation", "ec2"})


@dataclass
class Fault:
    service: str
    action: str
    times: int = 1
    code: str = "InternalFailure"
    status: int = 500
    message: str = "injected by local_aws.faults"
    hook: Callable[[], None] | None = None  # None: fail before; else run after applying
    pid: int | None = None  # for kill hooks: the process to end, set once it is known
    skip: int = 0  # let this many matching requests through first
    where: dict[str, Any] = field(default_factory=dict)  # request fields that must match
    signed_by: str | None = None  # a role ARN: only requests signed with its sessions' keys
    keys: frozenset[str] | None = None  # ... and of those, only these keys (None: any)
    seen: int = field(default=0)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # the requests it matched


_lock = threading.Lock()  # guards _faults
_serial = threading.RLock()  # one request at a time
_faults: list[Fault] = []
_requests: Counter[str] = Counter()  # "service:Action" -> requests received (guarded by _lock)
_installed = False
_trace: list[tuple[str, str, dict[str, Any]]] | None = None  # the requests served, if traced


def fail(
    service: str,
    action: str,
    *,
    times: int = 1,
    code: str = "InternalFailure",
    status: int = 500,
    message: str = "injected by local_aws.faults",
    skip: int = 0,
    where: dict[str, Any] | None = None,
) -> Fault:
    """The next ``times`` ``service`` ``action`` requests (after ``skip`` others; whose
    JSON body has the fields in ``where``) fail with ``code``/``status``."""
    fault = Fault(service, action, times, code, status, message, skip=skip, where=where or {})
    with _lock:
        _faults.append(fault)
    return fault


def role_missing(account: str, role: str, *, times: int = 1000) -> Fault:
    """``sts:AssumeRole`` of ``role`` in ``account`` is refused as AWS refuses a role that
    is missing, deleted or does not trust the caller (AccessDenied)."""
    return fail(
        "sts",
        "AssumeRole",
        times=times,
        code="AccessDenied",
        status=403,
        message=f"not authorized to perform: sts:AssumeRole on arn:aws:iam::{account}:role/{role}",
        where={"RoleArn": f"arn:aws:iam::{account}:role/{role}"},
    )


def role_deleted(account: str, role: str, *, times: int = 1000) -> list[Fault]:
    """``role`` in ``account`` is deleted (or stripped of its permissions): AssumeRole is
    refused (``role_missing``), and so is every request of any service signed with a
    session of that role issued before. AWS does not revoke a deleted role's sessions, but
    evaluates each request against the role's permissions as they are now, so the requests
    fail: "Permissions assigned to temporary security credentials are evaluated each time
    they are used to make an AWS request. Once you remove all permissions from the
    credentials, AWS requests that use them fail." (IAM User Guide, "Disabling permissions
    for temporary security credentials",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html).
    moto honours such a session as long as it lasts."""
    arn = f"arn:aws:iam::{account}:role/{role}"
    session = Fault(
        "*",
        "*",
        times,
        code="AccessDeniedException",
        status=403,
        message=f"User: {arn} is not authorized to perform this action",
        signed_by=arn,
    )
    with _lock:
        _faults.append(session)
    return [role_missing(account, role, times=times), session]


def session_expired(account: str, role: str, *, times: int = 1000) -> Fault:
    """Every session of ``role`` in ``account`` issued so far has expired (STS answers
    ``ExpiredTokenException``); a session assumed from now on is good."""
    arn = f"arn:aws:iam::{account}:role/{role}"
    fault = Fault(
        "*",
        "*",
        times,
        code="ExpiredTokenException",
        status=403,
        message="The security token included in the request is expired",
        signed_by=arn,
        keys=frozenset(_session_keys(arn)),
    )
    with _lock:
        _faults.append(fault)
    return fault


def _session_keys(role_arn: str) -> set[str]:
    """The access keys of the sessions moto has issued for ``role_arn``."""
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4]
    return {
        assumed.access_key_id
        for backend in sts_backends[account].values()
        for assumed in backend.assumed_roles
        if assumed.role_arn == role_arn
    }


def _signed_by(response: Any, fault: Fault) -> bool:
    """Whether the request was signed with a key of a session the fault refuses."""
    key = response.get_access_key()
    if fault.keys is not None:
        return key in fault.keys
    return key in _session_keys(str(fault.signed_by))


def after(service: str, action: str, hook: Callable[[], None], *, times: int = 1) -> Fault:
    """Run ``hook`` after the next ``times`` ``service`` ``action`` requests are applied."""
    fault = Fault(service, action, times, hook=hook)
    with _lock:
        _faults.append(fault)
    return fault


def kill_after(
    service: str, action: str, *, skip: int = 0, where: dict[str, Any] | None = None
) -> Fault:
    """SIGKILL the process whose pid is set on the returned fault, right after its next
    ``action`` request (after ``skip`` others; whose JSON body has the fields in
    ``where``) is applied and before it hears the answer."""
    fault = Fault(service, action, 1, skip=skip, where=where or {})

    def kill() -> None:
        if fault.pid is None:
            raise RuntimeError("kill_after: no pid set on the fault")
        os.kill(fault.pid, signal.SIGKILL)

    fault.hook = kill
    with _lock:
        _faults.append(fault)
    return fault


def clear() -> None:
    """No faults, no trace."""
    global _trace
    with _lock:
        _faults.clear()
        _trace = None


def trace() -> list[tuple[str, str, dict[str, Any]]]:
    """From now on, every request served is appended, in order, to the list returned:
    (service, action, its fields). ``untrace()`` stops it."""
    global _trace
    with _lock:
        _trace = []
        return _trace


def untrace() -> None:
    global _trace
    with _lock:
        _trace = None


def request_counts() -> dict[str, int]:
    """Requests received per ``service:Action``, every service, since this process began
    serving (failed ones included): what a client's work cost in calls, counted where AWS
    would count it, with nothing added to the client."""
    with _lock:
        return dict(_requests)


def _body(response: Any) -> dict[str, Any]:
    """The request's fields: its JSON body, or a query-protocol request's parameters (STS,
    SNS, IAM: ``RoleArn``, ``TopicArn``...)."""
    try:
        data = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict) and data:
        return data
    query = getattr(response, "querystring", None) or {}
    return {k: v[0] for k, v in query.items() if isinstance(v, list) and v}


def _take(service: str, action: str, response: Any) -> Fault | None:
    with _lock:
        for fault in _faults:
            if (
                fault.service in (service, "*")
                and fault.action in (action, "*")
                and fault.times > 0
            ):
                if fault.signed_by is not None and not _signed_by(response, fault):
                    continue
                if fault.where:
                    body = _body(response)
                    if any(body.get(k) != v for k, v in fault.where.items()):
                        continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                fault.seen += 1
                fault.bodies.append(_body(response))
                return fault
    return None


def _error(fault: Fault, service: str) -> tuple[int, dict[str, str], str]:
    if service in _XML_SERVICES:
        body = (
            "<ErrorResponse><Error><Type>Receiver</Type>"
            f"<Code>{fault.code}</Code><Message>{fault.message}</Message></Error>"
            "<RequestId>local-aws-fault</RequestId></ErrorResponse>"
        )
        return fault.status, {"status": str(fault.status), "Content-Type": "text/xml"}, body
    headers = {
        "status": str(fault.status),
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amzn-ErrorType": fault.code,
        "x-amzn-query-error": f"{fault.code};Receiver",
    }
    return fault.status, headers, json.dumps({"__type": fault.code, "message": fault.message})


def install() -> None:
    """Patch moto's request dispatch in this process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.core.responses import BaseResponse

        def _dispatch(self: Any, request: Any, full_url: Any = None, headers: Any = None) -> Any:
            with _serial:
                self.setup_class(request, full_url, headers)
                try:
                    action = str(self._get_action())
                except Exception:
                    action = ""
                with _lock:
                    _requests[f"{self.service_name}:{action}"] += 1
                    if _trace is not None:
                        _trace.append((str(self.service_name or ""), action, _body(self)))
                fault = _take(str(self.service_name or ""), action, self) if _faults else None
                if fault is not None and fault.hook is None:
                    return _error(fault, str(self.service_name or ""))
                response = self.call_action()
            if fault is not None and fault.hook is not None:
                fault.hook()  # outside the lock: a hook may wait for, or make, requests
            return response

        BaseResponse._dispatch = _dispatch  # type: ignore[method-assign]
        _installed = True
