"""Fill moto's Security Hub gaps for a finding provider, so that ``BatchImportFindings``
behaves as Security Hub does.

moto (5.2) imports findings into an account that never enabled Security Hub, takes any
number in one call, and merges an update into the stored finding whatever its
``UpdatedAt``. What :func:`install` changes (checked against the botocore ``securityhub``
model and the user guide's "BatchImportFindings for finding providers"):

* ``BatchImportFindings`` and ``GetFindings`` in an account and region that has not
  enabled Security Hub: ``InvalidAccessException`` (HTTP 401), "Account ... is not
  subscribed to AWS Security Hub". With :func:`answer_not_enabled_in_failed_findings`,
  ``BatchImportFindings`` answers instead with every finding in ``FailedFindings``,
  error code ``InvalidAccess``, as the user guide describes for a disabled integration.
* More than 100 findings in one call: ``InvalidInputException``.
* Each finding is checked for the required attributes and the ASFF limits (Id and
  GeneratorId 512, Title 256, Description 1024 characters; ProductFields at most 50
  pairs, keys 128 and values 2048 characters; 1 to 32 Resources, each
  ``Details.Other`` at most 50 pairs, keys and values fewer than 128 and 1024
  characters); one that fails goes in ``FailedFindings`` (``InvalidInput``).
* An update (a known ``Id``) whose ``UpdatedAt`` is earlier than the stored one is
  ignored. Otherwise the finding is replaced, except ``Note``, ``UserDefinedFields``,
  ``VerificationState`` and ``Workflow``, which a provider cannot change once it exists;
  ``Severity`` and ``Types`` follow ``FindingProviderFields``; the workflow goes back to
  NEW when the record state turns from ARCHIVED to ACTIVE or compliance from PASSED to
  FAILED.
* :func:`import_calls` lists the size of every ``BatchImportFindings`` call that reached
  Security Hub, :func:`read_calls` counts ``GetFindings`` calls.

This module is for tests and the local endpoint only.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any, Final

MAX_FINDINGS: Final = 100
REQUIRED: Final = (
    "SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "CreatedAt",
    "UpdatedAt", "Title", "Description", "Resources",
)  # fmt: skip
LENGTHS: Final = {"Id": 512, "GeneratorId": 512, "Title": 256, "Description": 1024}
CUSTOMER_FIELDS: Final = ("Note", "UserDefinedFields", "VerificationState", "Workflow")

_lock = threading.Lock()
_import_calls: list[int] = []
_read_calls = 0
_failed_findings_answer = False
_installed = False


def import_calls() -> list[int]:
    """The number of findings in each ``BatchImportFindings`` call that reached the hub."""
    with _lock:
        return list(_import_calls)


def read_calls() -> int:
    with _lock:
        return _read_calls


def answer_not_enabled_in_failed_findings(on: bool = True) -> None:
    global _failed_findings_answer
    with _lock:
        _failed_findings_answer = on


def reset() -> None:
    global _read_calls, _failed_findings_answer
    with _lock:
        _import_calls.clear()
        _read_calls = 0
        _failed_findings_answer = False


def _not_subscribed(account: str) -> Exception:
    from moto.securityhub.exceptions import SecurityHubClientError

    return SecurityHubClientError(
        "InvalidAccessException", f"Account {account} is not subscribed to AWS Security Hub"
    )


def _problem(finding: dict[str, Any]) -> str | None:
    """Why Security Hub would refuse ``finding``; None if it would take it."""
    missing = [name for name in REQUIRED if not finding.get(name)]
    if missing:
        return f"Finding is missing required attributes: {', '.join(missing)}"
    for name, limit in LENGTHS.items():
        if len(str(finding[name])) > limit:
            return f"{name} is longer than {limit} characters"
    fields = finding.get("ProductFields") or {}
    if len(fields) > 50 or any(len(k) > 128 or len(v) > 2048 for k, v in fields.items()):
        return "ProductFields exceeds 50 pairs, 128-character keys or 2048-character values"
    resources = finding["Resources"]
    if not isinstance(resources, list) or not 1 <= len(resources) <= 32:
        return "Finding must contain 1 to 32 resources"
    for resource in resources:
        if not resource.get("Type") or not resource.get("Id"):
            return "A resource needs a Type and an Id"
        other = (resource.get("Details") or {}).get("Other") or {}
        if len(other) > 50 or any(len(k) >= 128 or len(v) >= 1024 for k, v in other.items()):
            return "Details.Other exceeds 50 pairs, 127-character keys or 1023-character values"
    return None


def _when(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The stored finding after the provider's update ``new``."""
    merged = dict(new)
    for name in CUSTOMER_FIELDS:
        merged.pop(name, None)
        if name in old:
            merged[name] = old[name]
    provided = new.get("FindingProviderFields") or {}
    for name in ("Severity", "Types"):
        if name in provided:
            merged[name] = provided[name]
    reopened = (old.get("RecordState") == "ARCHIVED" and new.get("RecordState") == "ACTIVE") or (
        (old.get("Compliance") or {}).get("Status") == "PASSED"
        and (new.get("Compliance") or {}).get("Status") == "FAILED"
    )
    if reopened:
        merged["Workflow"] = {**merged.get("Workflow", {}), "Status": "NEW"}
    return merged


def _batch_import_findings(self: Any) -> str:
    from moto.securityhub.exceptions import InvalidInputException
    from moto.securityhub.models import Finding

    backend = self.securityhub_backend
    findings: list[dict[str, Any]] = json.loads(self.body or "{}").get("Findings", [])
    if len(findings) > MAX_FINDINGS:
        raise InvalidInputException(
            op="BatchImportFindings",
            msg=f"Findings: {len(findings)} items, at most {MAX_FINDINGS} are accepted",
        )
    if not backend.enabled:
        if not _failed_findings_answer:
            raise _not_subscribed(self.current_account)
        refused = [
            {
                "Id": f.get("Id", ""),
                "ErrorCode": "InvalidAccess",
                "ErrorMessage": f"Account {self.current_account} is not subscribed to "
                "AWS Security Hub",
            }
            for f in findings
        ]
        return json.dumps(
            {"FailedCount": len(refused), "SuccessCount": 0, "FailedFindings": refused}
        )
    failed = []
    with _lock:
        _import_calls.append(len(findings))
        stored = {f.id: f for f in backend.findings}
        for finding in findings:
            problem = _problem(finding)
            if problem is not None:
                failed.append(
                    {
                        "Id": finding.get("Id", ""),
                        "ErrorCode": "InvalidInput",
                        "ErrorMessage": problem,
                    }
                )
                continue
            old = stored.get(finding["Id"])
            if old is None:
                stored[finding["Id"]] = Finding(finding["Id"], finding)
                backend.findings.append(stored[finding["Id"]])
            elif _when(finding["UpdatedAt"]) >= _when(old.data["UpdatedAt"]):
                old.data = _merged(old.data, finding)
            # else: older than what Security Hub holds, ignored (and not an error)
    return json.dumps(
        {
            "FailedCount": len(failed),
            "SuccessCount": len(findings) - len(failed),
            "FailedFindings": failed,
        }
    )


_original_get_findings: Callable[[Any], str] | None = None


def _get_findings(self: Any) -> str:
    global _read_calls
    if not self.securityhub_backend.enabled:
        raise _not_subscribed(self.current_account)
    with _lock:
        _read_calls += 1
    assert _original_get_findings is not None
    return _original_get_findings(self)


def install() -> None:
    """Patch moto's Security Hub responses in this process; idempotent."""
    global _installed, _original_get_findings
    with _lock:
        if _installed:
            return
        from moto.securityhub.responses import SecurityHubResponse

        _original_get_findings = SecurityHubResponse.get_findings
        patches = {"batch_import_findings": _batch_import_findings, "get_findings": _get_findings}
        for name, function in patches.items():
            setattr(SecurityHubResponse, name, function)
        _installed = True
