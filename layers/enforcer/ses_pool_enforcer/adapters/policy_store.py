"""The policy document in SSM Parameter Store, read through Powertools Parameters, with
the parameter version it came from: every report and alert says which version judged."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from ses_pool_enforcer.adapters.aws import client, error_code
from ses_pool_enforcer.observability import logger
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy

STANDARD_TIER_BYTES = 4096
ADVANCED_TIER_BYTES = 8192


class PolicyUnavailable(RuntimeError):
    """SSM could not be read (throttled, unreachable): transient, worth a retry."""


class PolicyMissing(PolicyError):
    """The parameter does not exist: nothing to enforce until someone publishes one."""


PINNED_MAX_AGE = 86_400  # a version's document never changes
NOT_FOUND_CODES = frozenset({"ParameterNotFound", "ParameterVersionNotFound"})


@dataclass(frozen=True)
class PolicySnapshot:
    """A valid policy and the parameter version it was read from."""

    policy: Policy
    version: int | None


class _VersionedSSMProvider(SSMProvider):
    """Powertools' SSM provider (its cache, max age, errors), answering the parameter's
    version with its value: ``"<version>\n<value>"``."""

    def _get(self, name: str, decrypt: bool = False, **sdk_options: Any) -> str:
        parameter = self.client.get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]
        return f"{parameter['Version']}\n{parameter['Value']}"


_parsed: dict[str, Policy] = {}


@cache
def _provider() -> _VersionedSSMProvider:
    # Powertools' own client would build a second boto3 session (~7 MB) with other retries.
    return _VersionedSSMProvider(boto3_client=client("ssm"))


@dataclass
class _ReadAhead:
    """A read of the current policy begun before anyone asked for it, and how it ended."""

    thread: threading.Thread
    failed: PolicyError | None = None
    ended_at: float = 0.0


_ahead: dict[str, _ReadAhead] = {}


def read_ahead(name: str, max_age: int) -> None:
    """Begin, in a thread, the read the first ``load_policy(name, max_age)`` would make,
    so that its wait for SSM overlaps a cold start's other work (building the other
    clients); that call then waits for it instead of reading. A read served from the
    cache needs none. Nothing is begun for ``max_age`` 0 (every look reads anew)."""
    if max_age <= 0 or name in _ahead:
        return
    _provider()  # the client is built here: botocore's session is not built from two threads
    ahead = _ReadAhead(
        threading.Thread(target=lambda: _read_ahead(ahead, name, max_age), daemon=True)
    )
    _ahead[name] = ahead
    ahead.thread.start()


def _read_ahead(ahead: _ReadAhead, name: str, max_age: int) -> None:
    try:
        load_policy(name, max_age)
    except PolicyError as exc:  # missing or invalid: the answer its own read would get
        ahead.failed = exc
    except Exception as exc:
        # SSM failing (or this environment frozen mid-read and thawed later): nothing
        # kept; the look reads again, as a retry would.
        logger.info(
            "policy read ahead failed; the first look reads it again", extra={"cause": str(exc)}
        )
    ahead.ended_at = time.monotonic()


def _joined(name: str, max_age: int) -> None:
    """Wait for a read ahead of ``name``, if any; raise what it found wrong with the
    policy (missing, invalid) if that is no older than ``max_age`` (the age a read that
    worked would be served from the cache)."""
    ahead = _ahead.get(name)
    if ahead is None or ahead.thread is threading.current_thread():
        return
    ahead.thread.join()
    del _ahead[name]
    if ahead.failed is not None and time.monotonic() - ahead.ended_at <= max_age:
        raise ahead.failed


def load_policy(name: str, max_age: int = 60, version: int | None = None) -> PolicySnapshot:
    """The current policy, at most ``max_age`` seconds old (0: read now), or exactly
    ``version``. Raises PolicyError (invalid or missing: never enforce) or
    PolicyUnavailable (SSM failed: retry later)."""
    _joined(name, max_age)
    selector = name if version is None else f"{name}:{version}"
    age = PINNED_MAX_AGE if version is not None else max_age
    try:
        answer = _provider().get(selector, max_age=age, force_fetch=age == 0)
    except GetParameterError as exc:
        cause = exc.__cause__ or exc
        if error_code(cause) in NOT_FOUND_CODES or "ParameterNotFound" in str(exc):
            what = "does not exist" if version is None else f"has no version {version}"
            raise PolicyMissing(f"policy parameter {name} {what}") from exc
        raise PolicyUnavailable(f"cannot read policy parameter {name}: {exc}") from exc
    if not isinstance(answer, str):
        raise PolicyError(f"policy parameter {name} is not a string parameter")
    stored_version, _, text = answer.partition("\n")
    if text not in _parsed:
        if len(_parsed) > 4:  # the current document and a pinned one or two
            _parsed.clear()
        _parsed[text] = parse_policy(text)
    return PolicySnapshot(_parsed[text], int(stored_version))


@dataclass(frozen=True)
class StoredPolicy:
    text: str
    version: int


def read_stored(name: str) -> StoredPolicy | None:
    """The stored document and its version, uncached (for publishing and diffs)."""
    ssm = client("ssm")
    try:
        answer = ssm.get_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        return None
    return StoredPolicy(answer["Parameter"]["Value"], int(answer["Parameter"]["Version"]))


def write_policy(name: str, policy: Policy) -> int:
    """Store the canonical JSON of ``policy``; returns the new parameter version."""
    text = policy.to_json()
    size = len(text.encode())
    if size > ADVANCED_TIER_BYTES:
        raise PolicyError(
            f"policy is {size} bytes; SSM parameters hold at most {ADVANCED_TIER_BYTES}"
        )
    # Intelligent-Tiering stores a small document as Standard, yet does not fail where
    # an explicit "Standard" would: on a parameter that was once advanced (over 4 KB).
    tier = "Intelligent-Tiering" if size <= STANDARD_TIER_BYTES else "Advanced"
    answer = client("ssm").put_parameter(
        Name=name, Value=text, Type="String", Overwrite=True, Tier=tier
    )
    return int(answer["Version"])


def clear_cache() -> None:
    for ahead in list(_ahead.values()):
        ahead.thread.join()
    _ahead.clear()
    _provider.cache_clear()
    _parsed.clear()


def read_parameter_values(names: list[str]) -> dict[str, str]:
    """The current values of the SSM parameters ``names`` that exist (for ``check
    --live``: a template's ``AWS::SSM::Parameter::Value<...>`` parameters, read as
    CloudFormation reads them at deploy); those missing are left out."""
    if not names:
        return {}
    try:
        found = _provider().get_parameters_by_name(
            {name: {} for name in names}, decrypt=False, max_age=0, raise_on_error=False
        )
    except GetParameterError as exc:
        raise PolicyUnavailable(f"cannot read SSM parameters: {exc}") from exc
    # GetParameters in batches: the plain values (the version prefix is _get's alone)
    return {
        name: value for name, value in found.items() if name != "_errors" and isinstance(value, str)
    }
