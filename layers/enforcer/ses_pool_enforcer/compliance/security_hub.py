"""The enforcer's outcomes as AWS Security Hub findings (AWS Security Finding Format),
for ``BatchImportFindings`` under the account's default product.

One finding per configuration set, with a stable id (the set's ARN and ``/pool-policy``):
a set whose outcome is ``violation``, ``error`` or ``flapping`` has it ``FAILED`` and
``ACTIVE``; when the set complies again (moved, exempt, unmanaged, or gone) it becomes
``PASSED`` and ``ARCHIVED``. A finding is imported only when that changes (``on_change``);
a sweep's finish sends every open one again and closes the ones the inventory no longer
backs (``resync``).

ASFF has no resource type for SES configuration sets (botocore's ``ResourceDetails``
lists none), so the resource is ``Other`` with the set's ARN. Severity and Types go in
``FindingProviderFields`` too: that is how a provider changes them on an existing
finding. Workflow is sent with a new problem only: Security Hub ignores it on updates and
sets it back to NEW itself when a finding fails again.

Pure: no boto3, no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ses_pool_enforcer.model import NON_COMPLIANT_OUTCOMES, Outcome, OutcomeRecord
from ses_pool_enforcer.notices import HEADLINES

SCHEMA_VERSION = "2018-10-08"
GENERATOR = "ses-pool-enforcer/pool-policy"  # + "/<rule id>"
FINDING_SUFFIX = "/pool-policy"
FIELD_PREFIX = "ses-pool-enforcer/"
# The ASFF taxonomy has no category for an organisation's own control; configuration
# checks of AWS resources go under "AWS Security Best Practices".
TYPES = ("Software and Configuration Checks/AWS Security Best Practices/SES Pool Policy",)
RESOURCE_TYPE = "Other"
# ASFF limits: Title 256, Description 1024, ProductFields values 2048, Details.Other
# values fewer than 1024 characters.
TITLE_CHARS = 256
DESCRIPTION_CHARS = 1024
FIELD_CHARS = 2048
OTHER_CHARS = 1023

# An error or a flap is worse than a violation. A violation is a set on the wrong pool
# under an audit rule: someone chose to be told rather than have it moved. An error means
# the policy cannot be enforced at all for the set (its pool is missing, the policy is
# invalid, SES refuses), and a flap means another actor keeps moving it off its pool and
# the enforcer has stopped fighting: nobody chose either, and mail may be leaving from
# the wrong pool right now.
SEVERITY = {Outcome.VIOLATION: "MEDIUM", Outcome.ERROR: "HIGH", Outcome.FLAPPING: "HIGH"}
PASSED_SEVERITY = "INFORMATIONAL"
PROBLEMS = frozenset(o.value for o in NON_COMPLIANT_OUTCOMES)

CLOSED_TITLES = {
    Outcome.COMPLIANT: "is on its required pool",
    Outcome.REMEDIATED: "was moved to its required pool",
    Outcome.EXEMPT: "is exempt from the pool policy",
    Outcome.UNMANAGED: "is no longer governed by the pool policy",
    Outcome.DELETED: "no longer exists",
}
GONE_REASON = "the configuration set is no longer in the enforcer's inventory: it was deleted"


class Status(StrEnum):
    FAILED = "FAILED"
    PASSED = "PASSED"


@dataclass(frozen=True)
class Product:
    """Where the findings go: the account and region the enforcer runs in, under the
    account's default product (the one every account may import its own findings to)."""

    account: str
    region: str
    partition: str = "aws"

    @property
    def arn(self) -> str:
        return (
            f"arn:{self.partition}:securityhub:{self.region}:{self.account}"
            f":product/{self.account}/default"
        )

    def resource_arn(self, name: str) -> str:
        return f"arn:{self.partition}:ses:{self.region}:{self.account}:configuration-set/{name}"

    def finding_id(self, name: str) -> str:
        return self.resource_arn(name) + FINDING_SUFFIX

    def name_of(self, finding_id: str) -> str | None:
        """The set a finding id of this product names; None for anyone else's."""
        prefix = self.resource_arn("")
        if finding_id.startswith(prefix) and finding_id.endswith(FINDING_SUFFIX):
            return finding_id[len(prefix) : -len(FINDING_SUFFIX)] or None
        return None


def status_change(record: OutcomeRecord, previous: Mapping[str, str]) -> Status | None:
    """What a look that concluded ``record`` does to the set's finding, ``previous`` being
    the inventory row it replaced: a new or changed problem fails it, a problem that went
    away passes it, anything else leaves it as it is (None)."""
    was = previous.get("outcome")
    if record.outcome in NON_COMPLIANT_OUTCOMES:
        same = (
            was == record.outcome.value
            and previous.get("current_pool") == record.current_pool
            and previous.get("expected_pool") == record.expected_pool
            and previous.get("rule_id") == record.rule_id
        )
        return None if same else Status.FAILED
    return Status.PASSED if was in PROBLEMS else None


def on_change(
    record: OutcomeRecord, previous: Mapping[str, str], product: Product
) -> dict[str, Any] | None:
    """The finding to import after a look that concluded ``record``, or None when the
    set's finding does not change. It is created when the set first became non-compliant
    (``problem_since`` in the inventory) and updated when the enforcer looked."""
    status = status_change(record, previous)
    if status is None:
        return None
    since = parse_time(previous.get("problem_since")) or record.checked_at
    return finding(record, product, status, created_at=since, updated_at=record.checked_at)


def finding(
    record: OutcomeRecord,
    product: Product,
    status: Status,
    *,
    created_at: dt.datetime,
    updated_at: dt.datetime,
) -> dict[str, Any]:
    """One ``BatchImportFindings`` member for the set of ``record``."""
    name = record.configuration_set
    failed = status is Status.FAILED
    severity = {
        "Label": SEVERITY.get(record.outcome, "HIGH") if failed else PASSED_SEVERITY,
        "Original": record.outcome.value,
    }
    item: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": product.finding_id(name),
        "ProductArn": product.arn,
        "GeneratorId": f"{GENERATOR}/{record.rule_id or 'no-rule'}",
        "AwsAccountId": product.account,
        "Types": list(TYPES),
        "CreatedAt": timestamp(created_at),
        "UpdatedAt": timestamp(updated_at),
        "Severity": severity,
        "Title": _clip(f"SES configuration set {name} {_headline(record, failed)}", TITLE_CHARS),
        "Description": _clip(_description(record), DESCRIPTION_CHARS),
        "ProductFields": _fields(
            {
                "Outcome": record.outcome.value,
                "Rule": record.rule_id,
                "RequiredPool": record.expected_pool,
                "CurrentPool": record.current_pool,
                "PolicyVersion": record.policy_version,
                "Reason": record.reason,
                # The target pool's state and the set's tenants, only when read (ASFF
                # takes no empty value; ProductFields holds up to 50 pairs).
                "TargetPoolScalingMode": record.pool_scaling_mode,
                "TargetPoolIps": record.pool_ips,
                "TargetPoolColdestWarmupPercent": record.pool_coldest_warmup,
                "Tenants": None if record.tenants is None else ",".join(record.tenants),
            },
            FIELD_PREFIX,
            FIELD_CHARS,
        ),
        "Resources": [
            {
                "Type": RESOURCE_TYPE,
                "Id": product.resource_arn(name),
                "Partition": product.partition,
                "Region": product.region,
                "Details": {
                    "Other": _fields(
                        {"ConfigurationSetName": name, "SendingPoolName": record.current_pool},
                        "",
                        OTHER_CHARS,
                    )
                },
            }
        ],
        "Compliance": {"Status": status.value},
        "RecordState": "ACTIVE" if failed else "ARCHIVED",
        "FindingProviderFields": {"Severity": severity, "Types": list(TYPES)},
    }
    if failed:
        item["Workflow"] = {"Status": "NEW"}
    return item


def resync(
    rows: Iterable[Mapping[str, str]],
    open_findings: Iterable[Mapping[str, Any]],
    product: Product,
    as_of: dt.datetime,
) -> Iterator[dict[str, Any]]:
    """What a sweep's finish sends: every non-compliant set's finding again (a lost
    import is repaired, and Security Hub does not expire a finding still true), and
    ``PASSED``/``ARCHIVED`` for every finding still open (``open_findings``, as Security
    Hub holds them) whose set complies or left the inventory. Each is dated by the look
    it reports (``as_of`` for sets that are gone), so a finding an event updated since
    the inventory was read is not overwritten by an older one."""
    still_open = {
        str(f["Id"]): f
        for f in open_findings
        if is_open(f, product) and product.name_of(str(f.get("Id", "")))
    }
    for row in rows:
        record = record_of(row)
        if record is None:
            continue  # claimed but never judged: the next look fills it
        fid = product.finding_id(record.configuration_set)
        held = still_open.pop(fid, None)
        created = (
            parse_time(row.get("problem_since"))
            or parse_time(held.get("CreatedAt") if held else None)
            or record.checked_at
        )
        if record.outcome in NON_COMPLIANT_OUTCOMES:
            status = Status.FAILED
        elif held is not None:
            status = Status.PASSED
        else:
            continue
        yield finding(record, product, status, created_at=created, updated_at=record.checked_at)
    for fid, held in still_open.items():
        gone = OutcomeRecord(
            str(product.name_of(fid)), Outcome.DELETED, None, None, None, GONE_REASON, as_of
        )
        created = parse_time(held.get("CreatedAt")) or as_of
        yield finding(gone, product, Status.PASSED, created_at=created, updated_at=as_of)


def is_open(finding: Mapping[str, Any], product: Product) -> bool:
    """A finding of this enforcer that Security Hub holds as failing."""
    return (
        finding.get("ProductArn") == product.arn
        and str(finding.get("GeneratorId", "")).startswith(GENERATOR)
        and finding.get("RecordState") == "ACTIVE"
        and (finding.get("Compliance") or {}).get("Status") == Status.FAILED.value
    )


def record_of(row: Mapping[str, str]) -> OutcomeRecord | None:
    """An inventory row as the record it holds; None for an entry never judged."""
    if "outcome" not in row or "configuration_set" not in row:
        return None
    try:
        outcome = Outcome(row["outcome"])
    except ValueError:
        outcome = Outcome.ERROR  # an outcome this code does not know is never compliant
    version = row.get("policy_version")
    tenants = row.get("tenants")
    return OutcomeRecord(
        row["configuration_set"],
        outcome,
        row.get("current_pool") or None,
        row.get("expected_pool") or None,
        row.get("rule_id") or None,
        row.get("reason", ""),
        parse_time(row.get("checked_at")) or dt.datetime.fromtimestamp(0, dt.UTC),
        policy_version=int(version) if version and version.isdigit() else None,
        pool_scaling_mode=row.get("pool_scaling_mode") or None,
        pool_ips=_number(row.get("pool_ips")),
        pool_coldest_warmup=_number(row.get("pool_coldest_warmup")),
        tenants=None if tenants is None else tuple(t for t in tenants.split(",") if t),
    )


def _number(text: str | None) -> int | None:
    try:
        return None if not text else int(text)
    except ValueError:
        return None


def timestamp(when: dt.datetime) -> str:
    """ASFF's timestamp form: UTC, milliseconds, ``Z``."""
    utc = when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: object) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _headline(record: OutcomeRecord, failed: bool) -> str:
    if failed:
        return HEADLINES.get(record.outcome, "is not on its required pool")
    return CLOSED_TITLES.get(record.outcome, "complies with the pool policy")


def _description(record: OutcomeRecord) -> str:
    version = record.policy_version if record.policy_version is not None else "unknown"
    return (
        f"{record.outcome.value}: {record.reason or 'no reason given'}. "
        f"Current pool: {record.current_pool or '-'}; required pool: "
        f"{record.expected_pool or '-'}; rule: {record.rule_id or '-'}; "
        f"policy version: {version}."
    )


def _fields(values: Mapping[str, object], prefix: str, limit: int) -> dict[str, str]:
    """A string map as ASFF takes it: no empty values (each must hold a non-blank
    character), each clipped to ``limit``."""
    return {
        prefix + key: _clip(str(value), limit)
        for key, value in values.items()
        if value is not None and str(value).strip()
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
