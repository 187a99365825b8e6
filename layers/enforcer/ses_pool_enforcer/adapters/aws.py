"""boto3 clients, built lazily and once per process (honours ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Throttling (429) and transient errors are retried with jittered exponential backoff.
# Standard, not adaptive, mode: the budget already spaces SES calls, and adaptive mode's
# own client-side limiter would throttle us a second time. Three attempts everywhere:
# backoff sleeps do not look at the invocation's deadline (ten attempts could sleep for
# nearly two minutes), and an SES call still throttled after three is work put back on
# the queue for later (reconciler.py), not a failure.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=20
)
# The Config rule sends up to 100 PutEvaluations in a row, and nothing retries them for
# it until the next scheduled run: worth more patience.
PATIENT_RETRY_CONFIG = RETRY_CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": 10})
)
PATIENT_SERVICES = frozenset({"config"})
# An SES write cannot be conditional, so it must not land after the lease it began under
# (reconciler.WRITE_SECONDS, 30 s): its three attempts and the backoffs between them take
# 3 x (2 + 6) + 1 + 2 = 27 s at most, and the reconciler starts no attempt (a retry waits
# for a budget slot) later than WRITE_ATTEMPT_SECONDS before the lease ends.
WRITE_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=6
)
WRITE_ATTEMPT_SECONDS = 2 + 6


@cache
def _session() -> Any:
    # One session for all clients: each session loads and keeps its own copy of
    # botocore's endpoint data (about 7 MB), which a Lambda's memory pays per client.
    return cast(Any, boto3.session.Session())  # the stubs type one overload per service


@cache
def client(service: str, config: Config | None = None) -> Any:
    if config is None:
        config = PATIENT_RETRY_CONFIG if service in PATIENT_SERVICES else RETRY_CONFIG
    return _session().client(service, config=config)


# What AWS answers a call made on a role session it no longer honours: the role was deleted
# or lost its permissions (sessions are not revoked, but every call is evaluated against
# the role's policies as they are now), or the session expired or was never valid.
SESSION_REFUSED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)


class SessionRefused(Exception):
    """A call on a member role's session was refused (``SESSION_REFUSED_CODES``): the
    whole lane is unreachable, not the one set the call was about. Deliberately not a
    ClientError, so that no per-set handler records it as that set's error."""

    def __init__(self, account: str, region: str, operation: str, code: str, message: str):
        super().__init__(
            f"{operation} on the member role's session was refused: {code}"
            + (f": {message}" if message else "")
        )
        self.account, self.region, self.code = account, region, code


@dataclass(frozen=True)
class Assumed:
    """Clients in another lane (account, region), on the credentials of the member role
    assumed there, built from the process's one session (its endpoint data is shared);
    good until ``expires_at`` (epoch seconds)."""

    account: str
    region: str
    credentials: Mapping[str, str]
    expires_at: float

    def client(self, service: str, config: Config = RETRY_CONFIG) -> Any:
        made = _session().client(
            service, region_name=self.region, config=config, **self.credentials
        )
        if self.credentials:  # a role session, not the process's own credentials
            made.meta.events.register("after-call", self._refused)
        return made

    def _refused(self, http_response: Any, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        """Raise SessionRefused for a call AWS refused on this session (botocore's
        ``after-call`` event comes before the client raises the call's ClientError)."""
        if http_response.status_code < 400:
            return
        error = parsed.get("Error") or {}
        code = str(error.get("Code") or "")
        if code in SESSION_REFUSED_CODES:
            message = str(error.get("Message") or "")
            raise SessionRefused(self.account, self.region, model.name, code, message)


def own(account: str, region: str) -> Assumed:
    """Clients for this process's own account in ``region``, on its own credentials."""
    return Assumed(account, region, {}, float("inf"))


def assume(account: str, region: str, role_name: str, session_name: str) -> Assumed:
    """Clients for ``account`` in ``region`` on the role ``role_name`` there. Raises
    ClientError (AccessDenied: the role is missing, denied or deleted, or does not trust
    this function's role)."""
    arn = f"arn:{partition(region)}:iam::{account}:role/{role_name}"
    answer = client("sts").assume_role(RoleArn=arn, RoleSessionName=session_name)
    credentials = answer["Credentials"]
    return Assumed(
        account,
        region,
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        },
        credentials["Expiration"].timestamp(),
    )


def region() -> str | None:
    """The region the clients call (``AWS_REGION`` in Lambda)."""
    name = _session().region_name
    return str(name) if name else None


def partition(region_name: str) -> str:
    """The partition of ``region_name`` (aws, aws-cn, aws-us-gov), from botocore's own
    endpoint data: no call."""
    return str(_session().get_partition_for_region(region_name))


def reset() -> None:
    """Forget the session and clients (credentials, endpoints): a fresh process's state."""
    client.cache_clear()
    _session.cache_clear()


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalFailure",
    }
)


THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}
)


def throttled(exc: BaseException) -> bool:
    """The service refused the call for its rate: nothing was applied."""
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return status == 429 or error_code(exc) in THROTTLING_CODES


def transient(exc: BaseException) -> bool:
    """Throttling, server-side and connection failures: worth retrying later. A client
    error (access denied, a request SES refuses) is not: it fails the same way again."""
    if isinstance(exc, BotoCoreError):
        return True
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    code = error_code(exc)
    return status >= 500 or status == 429 or code in TRANSIENT_CODES or "Throttl" in code
