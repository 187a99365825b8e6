"""AWS Security Hub: the enforcer's findings imported in batches (``BatchImportFindings``),
and the ones it left open read back (``GetFindings``) for a sweep's resync.

Findings are buffered (``add``) and sent by ``flush``, at most 100 a call, paced: an
account may make 10 ``BatchImportFindings`` calls a second (burst 30) and 3
``GetFindings``. Up to three processes import at once (two event consumers and a sweep
step), so each keeps to a third of the account's rate.

Nothing here fails the caller: the outcome is already in the inventory, and the next
sweep sends every open finding again. A finding Security Hub refuses is logged and
counted; a call that fails is logged and counted and its findings dropped. An account
or region without Security Hub (``InvalidAccessException``, or every finding refused
with ``InvalidAccess``) gets one error alert an hour per process, a log line and a
metric, and no further calls for that hour.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters.aws import client, error_code
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.compliance.security_hub import GENERATOR, Product
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.observability import logger, metrics

# BatchImportFindings takes at most 100 findings a call; GetFindings returns 100 a page.
MAX_BATCH = 100

IMPORT_INTERVAL_SECONDS = 0.3  # 3.3 calls/s: three processes stay under 10/s
READ_INTERVAL_SECONDS = 0.5  # 2 calls/s of the account's 3 (only a sweep's finish reads)
NOT_ENABLED_SECONDS = 3600.0  # one alert, and no calls, per process per hour
NOT_ENABLED_CODES = frozenset({"InvalidAccessException", "InvalidAccess"})
LOGGED_FAILURES = 5
# What the sweep's resync needs of a finding Security Hub holds (a full one is kilobytes).
KEPT_FIELDS = ("Id", "ProductArn", "GeneratorId", "RecordState", "Compliance", "CreatedAt")


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class AlertSink(Protocol):
    def publish(
        self, title: str, text: str, document: dict[str, Any], attributes: dict[str, str]
    ) -> None: ...


@dataclass
class Delivery:
    """What one flush (or read) achieved."""

    where: str  # "account ..., region ..."
    imported: int = 0
    refused: int = 0
    calls: int = 0
    not_enabled: bool = False
    error: str | None = None  # a call that failed as a whole

    def notes(self) -> tuple[str, ...]:
        """What a report says about this delivery."""
        if self.not_enabled:
            return (
                f"Security Hub is not enabled in {self.where}: no findings were imported "
                "(enable Security Hub there, or deploy with SecurityHub=disabled).",
            )
        said = []
        if self.error:
            said.append(f"Security Hub: {self.error}; the next sweep sends the findings again.")
        if self.refused:
            said.append(
                f"Security Hub refused {self.refused} findings (see the sweep function's "
                "log); the next sweep sends them again."
            )
        return tuple(said)

    def summary(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "refused": self.refused,
            "calls": self.calls,
            "not_enabled": self.not_enabled,
            "error": self.error,
        }


@dataclass
class Pace:
    """Calls at least ``interval`` seconds apart."""

    interval: float
    next_at: float = float("-inf")

    def wait(self, clock: Clock) -> None:
        clock.sleep(self.next_at - clock.time())
        self.next_at = clock.time() + self.interval


class SecurityHubFindings:
    def __init__(self, product: Product, alerts: AlertSink, clock: Clock = SYSTEM) -> None:
        self.product = product
        self._alerts = alerts
        self._clock = clock
        self._pending: dict[str, dict[str, Any]] = {}  # by finding id: the latest wins
        self._imports = Pace(IMPORT_INTERVAL_SECONDS)
        self._reads = Pace(READ_INTERVAL_SECONDS)
        self._dormant_until = float("-inf")  # Security Hub was found not enabled

    def add(self, finding: dict[str, Any]) -> None:
        """Buffer ``finding`` until the next flush (a later one for the same set wins)."""
        self._pending.pop(finding["Id"], None)
        self._pending[finding["Id"]] = finding

    def flush(self, more: Iterable[dict[str, Any]] = ()) -> Delivery:
        """Import every buffered finding, then ``more`` (read as it is sent, 100 at a
        time); never raises."""
        delivery = self._delivery()
        pending, self._pending = list(self._pending.values()), {}
        for batch in _chunks(itertools.chain(pending, more), MAX_BATCH):
            if self._dormant():
                delivery.not_enabled = True
                break
            try:
                self._imports.wait(self._clock)
                answer = client("securityhub").batch_import_findings(Findings=list(batch))
            except Exception as exc:  # the outcome is recorded: nothing may fail the caller
                self._failed("BatchImportFindings", exc, delivery)
                break
            delivery.calls += 1
            refused = answer.get("FailedFindings") or []
            if refused and {f.get("ErrorCode") for f in refused} <= NOT_ENABLED_CODES:
                self._not_enabled(str(refused[0].get("ErrorMessage", "InvalidAccess")), delivery)
                break
            delivery.imported += len(batch) - len(refused)
            delivery.refused += len(refused)
            if refused:
                self._refused(refused)
        metrics.add_metric(
            name="SecurityHubFindingsImported", unit=MetricUnit.Count, value=delivery.imported
        )
        return delivery

    def open_findings(self) -> list[dict[str, Any]] | Delivery:
        """The enforcer's findings Security Hub holds as ACTIVE and FAILED, or, when they
        cannot be read, what went wrong. (The filters are checked again by the caller.)"""
        delivery = self._delivery()
        if self._dormant():
            delivery.not_enabled = True
            return delivery
        filters = {
            "ProductArn": [{"Value": self.product.arn, "Comparison": "EQUALS"}],
            "GeneratorId": [{"Value": GENERATOR, "Comparison": "PREFIX"}],
            "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
            "ComplianceStatus": [{"Value": "FAILED", "Comparison": "EQUALS"}],
        }
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            try:
                self._reads.wait(self._clock)
                page = client("securityhub").get_findings(
                    Filters=filters, MaxResults=MAX_BATCH, **({"NextToken": token} if token else {})
                )
            except Exception as exc:
                self._failed("GetFindings", exc, delivery)
                return delivery
            found.extend(
                {k: f[k] for k in KEPT_FIELDS if k in f} for f in page.get("Findings") or []
            )
            token = page.get("NextToken")
            if not token:
                return found

    # ------------------------------------------------------------------ failures

    def _failed(self, operation: str, exc: Exception, delivery: Delivery) -> None:
        if isinstance(exc, ClientError) and error_code(exc) in NOT_ENABLED_CODES:
            self._not_enabled(str(exc), delivery)
            return
        delivery.error = f"{operation}: {exc}"
        if isinstance(exc, ClientError | BotoCoreError):
            logger.error(
                "Security Hub call failed; the next sweep sends the findings again",
                extra={"operation": operation, "cause": str(exc)},
            )
        else:
            logger.exception("Security Hub findings not sent", extra={"operation": operation})
        metrics.add_metric(name="SecurityHubCallFailed", unit=MetricUnit.Count, value=1)

    def _refused(self, refused: list[dict[str, Any]]) -> None:
        logger.warning(
            "Security Hub refused findings; the next change or sweep sends them again",
            extra={
                "refused": len(refused),
                "first": [
                    {k: f.get(k) for k in ("Id", "ErrorCode", "ErrorMessage")}
                    for f in refused[:LOGGED_FAILURES]
                ],
            },
        )
        metrics.add_metric(
            name="SecurityHubFindingsRefused", unit=MetricUnit.Count, value=len(refused)
        )

    def _not_enabled(self, cause: str, delivery: Delivery) -> None:
        delivery.not_enabled = True
        metrics.add_metric(name="SecurityHubNotEnabled", unit=MetricUnit.Count, value=1)
        # No call (so no alert) reaches here again for an hour: see _dormant.
        self._dormant_until = self._clock.time() + NOT_ENABLED_SECONDS
        logger.error(
            "Security Hub is not enabled; findings are not imported",
            extra={"account": self.product.account, "region": self.product.region, "cause": cause},
        )
        text = (
            "The enforcer could not import its findings into AWS Security Hub in "
            f"{delivery.where}: {cause}\n\n"
            "Security Hub is not enabled there (or does not accept findings from this "
            "account). Enable Security Hub in this region, or deploy the stack with "
            "SecurityHub=disabled.\n\n"
            "Enforcement goes on: sets are still checked, moved and reported. Once Security "
            "Hub is enabled, the next sweep imports every open finding. This alert repeats "
            "at most once an hour per function instance.\n"
        )
        try:
            self._alerts.publish(
                f"[ses-pool-enforcer] error: Security Hub not enabled in {self.product.region}",
                text,
                {
                    "kind": "security-hub-not-enabled",
                    "outcome": Outcome.ERROR.value,
                    "account": self.product.account,
                    "region": self.product.region,
                    "reason": cause,
                },
                {"outcome": Outcome.ERROR.value},
            )
        except Exception:
            logger.exception("the Security Hub alert could not be sent")

    def _delivery(self) -> Delivery:
        return Delivery(f"account {self.product.account}, region {self.product.region}")

    def _dormant(self) -> bool:
        return self._clock.time() < self._dormant_until
