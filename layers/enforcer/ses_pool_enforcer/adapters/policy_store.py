"""The policy document in SSM Parameter Store, read through Powertools Parameters."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from ses_pool_enforcer.adapters.aws import client, error_code
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy

STANDARD_TIER_BYTES = 4096
ADVANCED_TIER_BYTES = 8192


class PolicyUnavailable(RuntimeError):
    """SSM could not be read (throttled, unreachable): transient, worth a retry."""


class PolicyMissing(PolicyError):
    """The parameter does not exist: nothing to enforce until someone publishes one."""


_parsed: dict[str, Policy] = {}


@cache
def _provider() -> SSMProvider:
    # Powertools' own client would build a second boto3 session (~7 MB) with other retries.
    return SSMProvider(boto3_client=client("ssm"))


def load_policy(name: str, max_age: int = 60) -> Policy:
    """The current policy. Raises PolicyError (invalid or missing: never enforce) or
    PolicyUnavailable (SSM failed: retry later)."""
    try:
        text = _provider().get(name, max_age=max_age, force_fetch=max_age == 0)
    except GetParameterError as exc:
        if (
            "ParameterNotFound" in str(exc)
            or error_code(exc.__cause__ or exc) == "ParameterNotFound"
        ):
            raise PolicyMissing(f"policy parameter {name} does not exist") from exc
        raise PolicyUnavailable(f"cannot read policy parameter {name}: {exc}") from exc
    if not isinstance(text, str):
        raise PolicyError(f"policy parameter {name} is not a string parameter")
    if text not in _parsed:
        _parsed.clear()
        _parsed[text] = parse_policy(text)
    return _parsed[text]


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
    _provider.cache_clear()
    _parsed.clear()
