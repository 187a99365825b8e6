"""The inventory's outcomes as AWS Config evaluations of ``AWS::SES::ConfigurationSet``
resources, for the enforcer's custom Config rule.

Config names a configuration set by its name: it is the resource type's primary
identifier (its CloudFormation registry schema, ``/properties/Name``), which Config uses
as the resource id. ``PutEvaluations`` takes at most 100 evaluations a call and an
annotation of at most 256 characters, and refuses ``INSUFFICIENT_DATA`` from a custom rule.

Pure: no boto3, no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import Entry

RESOURCE_TYPE = "AWS::SES::ConfigurationSet"
MAX_BATCH = 100
ANNOTATION_CHARS = 256

T = TypeVar("T")


class ComplianceType(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


COMPLIANCE = {
    Outcome.COMPLIANT: ComplianceType.COMPLIANT,
    Outcome.REMEDIATED: ComplianceType.COMPLIANT,
    Outcome.EXEMPT: ComplianceType.COMPLIANT,
    Outcome.VIOLATION: ComplianceType.NON_COMPLIANT,
    Outcome.ERROR: ComplianceType.NON_COMPLIANT,
    Outcome.FLAPPING: ComplianceType.NON_COMPLIANT,
    Outcome.UNMANAGED: ComplianceType.NOT_APPLICABLE,  # no rule and no default: not governed
}


@dataclass(frozen=True)
class Evaluation:
    resource_id: str
    compliance: ComplianceType
    annotation: str
    ordering_timestamp: dt.datetime

    def to_api(self) -> dict[str, Any]:
        """One member of ``PutEvaluations``' ``Evaluations``."""
        item: dict[str, Any] = {
            "ComplianceResourceType": RESOURCE_TYPE,
            "ComplianceResourceId": self.resource_id,
            "ComplianceType": self.compliance.value,
            "OrderingTimestamp": self.ordering_timestamp,
        }
        if self.annotation:  # Config refuses an empty one
            item["Annotation"] = self.annotation
        return item


def compliance_of(outcome: str) -> ComplianceType:
    """An outcome this code does not know is never reported as compliant."""
    try:
        return COMPLIANCE.get(Outcome(outcome), ComplianceType.NON_COMPLIANT)
    except ValueError:
        return ComplianceType.NON_COMPLIANT


def annotation(entry: Entry) -> str:
    """The outcome and its reason, as Config shows it beside the resource."""
    text = f"{entry.outcome}: {entry.reason}" if entry.reason else entry.outcome
    return text if len(text) <= ANNOTATION_CHARS else text[: ANNOTATION_CHARS - 1] + "…"


def checked_at(entry: Entry, fallback: dt.datetime) -> dt.datetime:
    """When the enforcer last judged the set (naive times are UTC); ``fallback`` for an
    entry that does not say."""
    try:
        when = dt.datetime.fromisoformat(entry.checked_at)
    except ValueError:
        return fallback
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def evaluate(entry: Entry, fallback: dt.datetime) -> Evaluation:
    return Evaluation(
        resource_id=entry.configuration_set,
        compliance=compliance_of(entry.outcome),
        annotation=annotation(entry),
        ordering_timestamp=checked_at(entry, fallback),
    )


def evaluations(entries: Iterable[Entry], fallback: dt.datetime) -> list[Evaluation]:
    return [evaluate(entry, fallback) for entry in entries]


def batches(items: Sequence[T], size: int = MAX_BATCH) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``; one empty slice for no items (a rule run
    that found no set still reports, so Config records the run)."""
    if not items:
        yield items
    for start in range(0, len(items), size):
        yield items[start : start + size]
