"""Fill moto's AWS Config gaps for custom rules, so that ``PutEvaluations`` behaves as
Config does and its results can be read back.

moto (5.2) accepts ``PutEvaluations`` only with ``TestMode`` and keeps nothing. What
:func:`install` changes (shapes checked against the botocore ``config`` model and the
API reference):

* ``PutEvaluations`` needs a result token Config issued for a rule invocation
  (:func:`issue_result_token`; an unknown one -> ``InvalidResultTokenException``),
  unless ``TestMode`` (then nothing is stored). At most 100 evaluations, annotations of
  at most 256 characters, resource types up to 256 and ids up to 768 characters
  (``ValidationException``); ``INSUFFICIENT_DATA`` is refused from a custom rule
  (``InvalidParameterValueException``). An empty list is accepted.
  Per rule and resource the evaluation with the latest ``OrderingTimestamp`` is kept.
* ``GetComplianceDetailsByConfigRule`` returns what was kept, filtered by
  ``ComplianceTypes``, ``Limit`` (default and maximum 100) and ``NextToken`` paging.
* :func:`put_evaluation_calls` lists the size of every accepted call, for tests.

This module is for tests and the local endpoint only.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

MAX_EVALUATIONS: Final = 100
MAX_ANNOTATION: Final = 256
MAX_RESOURCE_TYPE: Final = 256
MAX_RESOURCE_ID: Final = 768
MAX_LIMIT: Final = 100
_CUSTOM_RULE_TYPES: Final = frozenset({"COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"})


@dataclass(frozen=True)
class _Kept:
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str | None
    ordering: float
    recorded: float
    token: str


_lock = threading.Lock()
_tokens: dict[str, str] = {}  # result token -> rule name
_kept: dict[str, dict[tuple[str, str], _Kept]] = {}  # rule -> (type, id) -> evaluation
_calls: list[int] = []
_installed = False


def issue_result_token(rule_name: str) -> str:
    """What Config puts in a rule invocation's ``resultToken``."""
    token = f"local-{uuid.uuid4().hex}"
    with _lock:
        _tokens[token] = rule_name
    return token


def put_evaluation_calls() -> list[int]:
    """The number of evaluations in each accepted, non-test ``PutEvaluations`` call."""
    with _lock:
        return list(_calls)


def reset() -> None:
    with _lock:
        _tokens.clear()
        _kept.clear()
        _calls.clear()


def _too_long(field: str, value: object, limit: int) -> Exception:
    from moto.config.exceptions import ValidationException

    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: Member must have length less than or equal to {limit}"
    )


def _check(evaluations: list[dict[str, Any]]) -> None:
    from moto.config.exceptions import InvalidParameterValueException

    if len(evaluations) > MAX_EVALUATIONS:
        raise _too_long("evaluations", f"[{len(evaluations)} items]", MAX_EVALUATIONS)
    for index, item in enumerate(evaluations, start=1):
        annotation = item.get("Annotation")
        # (botocore itself refuses an empty annotation, before sending)
        if annotation is not None and len(annotation) > MAX_ANNOTATION:
            raise _too_long(f"evaluations.{index}.member.annotation", annotation, MAX_ANNOTATION)
        if len(item["ComplianceResourceType"]) > MAX_RESOURCE_TYPE:
            raise _too_long(
                f"evaluations.{index}.member.complianceResourceType",
                item["ComplianceResourceType"],
                MAX_RESOURCE_TYPE,
            )
        if len(item["ComplianceResourceId"]) > MAX_RESOURCE_ID:
            raise _too_long(
                f"evaluations.{index}.member.complianceResourceId",
                item["ComplianceResourceId"],
                MAX_RESOURCE_ID,
            )
        if item["ComplianceType"] not in _CUSTOM_RULE_TYPES:
            raise InvalidParameterValueException(
                f"The ComplianceType {item['ComplianceType']} is not supported by a custom "
                "rule: use COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE."
            )


def _put_evaluations(self: Any) -> str:
    from moto.config.exceptions import InvalidResultTokenException

    evaluations = self._get_param("Evaluations") or []
    token = self._get_param("ResultToken")
    test_mode = bool(self._get_param("TestMode"))
    _check(evaluations)
    with _lock:
        rule = _tokens.get(token or "")
        if not test_mode and rule is None:
            raise InvalidResultTokenException()
        if not test_mode and rule is not None:
            now = dt.datetime.now(dt.UTC).timestamp()
            kept = _kept.setdefault(rule, {})
            for item in evaluations:
                key = (item["ComplianceResourceType"], item["ComplianceResourceId"])
                ordering = float(item["OrderingTimestamp"])
                if key in kept and kept[key].ordering > ordering:
                    continue  # Config keeps the newest by ordering time
                kept[key] = _Kept(
                    *key, item["ComplianceType"], item.get("Annotation"), ordering, now, token
                )
            _calls.append(len(evaluations))
    return json.dumps({"FailedEvaluations": []})


def _get_compliance_details_by_config_rule(self: Any) -> str:
    rule = self._get_param("ConfigRuleName")
    wanted = set(self._get_param("ComplianceTypes") or []) or _CUSTOM_RULE_TYPES
    limit = min(int(self._get_param("Limit") or MAX_LIMIT), MAX_LIMIT)
    start = int(self._get_param("NextToken") or 0)
    with _lock:
        found = sorted(
            (k for k in _kept.get(rule, {}).values() if k.compliance in wanted),
            key=lambda k: (k.resource_type, k.resource_id),
        )
    page = found[start : start + limit]
    answer: dict[str, Any] = {
        "EvaluationResults": [
            {
                "EvaluationResultIdentifier": {
                    "EvaluationResultQualifier": {
                        "ConfigRuleName": rule,
                        "ResourceType": k.resource_type,
                        "ResourceId": k.resource_id,
                        "EvaluationMode": "DETECTIVE",
                    },
                    "OrderingTimestamp": k.ordering,
                },
                "ComplianceType": k.compliance,
                "ResultRecordedTime": k.recorded,
                "ConfigRuleInvokedTime": k.recorded,
                **({"Annotation": k.annotation} if k.annotation else {}),
                "ResultToken": k.token,
            }
            for k in page
        ]
    }
    if start + limit < len(found):
        answer["NextToken"] = str(start + limit)
    return json.dumps(answer)


_PATCHES: Final[dict[str, Callable[..., Any]]] = {
    "put_evaluations": _put_evaluations,
    "get_compliance_details_by_config_rule": _get_compliance_details_by_config_rule,
}


def install() -> None:
    """Patch moto's Config responses in this process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.config.responses import ConfigResponse

        for name, function in _PATCHES.items():
            setattr(ConfigResponse, name, function)
        _installed = True
