"""Fill moto's AWS Config gaps: custom rules' evaluations (``PutEvaluations`` behaves as
Config does and its results can be read back), and the advanced query an organization
aggregator answers about SES configuration sets (``SelectAggregateResourceConfig``).

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
* ``SelectAggregateResourceConfig`` answers, for an aggregator moto holds
  (``PutConfigurationAggregator``), ``SELECT <properties> WHERE resourceType =
  'AWS::SES::ConfigurationSet' [AND accountId IN (...)] [AND awsRegion IN (...)]`` from
  the SES backends of every account and region moto holds, as an organization
  aggregator would have recorded them; any other expression is refused
  (``InvalidExpressionException``), a ``Limit`` over 100 too (``InvalidLimitException``).
  :func:`record` freezes the recording (later SES changes look stale until the next
  one), :func:`record_live` ends that; :func:`select_calls` lists every call answered.
  Not modelled: deleted-resource items, recorder settings per account, aggregator
  source scopes, any other query. Details beside the code below.

This module is for tests and the local endpoint only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
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
    global _recorded
    with _lock:
        _tokens.clear()
        _kept.clear()
        _calls.clear()
        _select_calls.clear()
        _recorded = None


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


def _epoch(value: Any) -> float:
    """An ``OrderingTimestamp`` as seconds since the epoch, however moto hands it over.

    moto up to 5.2.5 passes the wire's number (or its string); 5.2.6 parses the request
    against the service model first and passes a ``datetime``. Both mean the same instant.
    """
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return dt.datetime.fromisoformat(str(value)).timestamp()


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
                ordering = _epoch(item["OrderingTimestamp"])
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


# --------------------------------------------------------------------------- advanced queries
#
# ``SelectAggregateResourceConfig`` (moto 5.2: NotImplementedError). What an organization
# aggregator answers about AWS::SES::ConfigurationSet, computed from the SES backends of
# every account and region moto holds: what Config would have recorded there. A deliberately
# small evaluator of exactly the query the enforcer sends (adapters/aggregator.py):
#
#   SELECT <properties> WHERE resourceType = 'AWS::SES::ConfigurationSet'
#       [AND accountId IN ('...', ...)] [AND awsRegion IN ('...', ...)]
#
# with <properties> among SELECTABLE. Anything else (another resource type, another
# operator, GROUP BY, functions, SELECT *) is refused with Config's
# InvalidExpressionException, as is a Limit above 100 (InvalidLimitException). An unknown
# aggregator: NoSuchConfigurationAggregatorException. Paging: NextToken is an offset.
#
# Recording: by default each query sees the sets as they are (a recorder with no lag).
# :func:`record` freezes what Config "recorded" at that moment: later changes in SES are
# not seen (a stale recording) until :func:`record` is called again, or :func:`record_live`.
# Not modelled: resources deleted (Config keeps a ResourceDeleted item for a while),
# per-account recorder settings, aggregator source scopes (every account moto holds is
# in the organization), the query language beyond the form above.

SES_SET_TYPE: Final = "AWS::SES::ConfigurationSet"
SELECTABLE: Final = (
    "accountId",
    "awsRegion",
    "resourceId",
    "resourceName",
    "resourceType",
    "configurationItemCaptureTime",
    "configuration.Name",
    "configuration.DeliveryOptions.SendingPoolName",
    "configuration.DeliveryOptions.TlsPolicy",
    "tags",
    "tags.key",
    "tags.value",
)
_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w.]+(?:\s*,\s*[\w.]+)*)\s+"
    r"WHERE\s+resourceType\s*=\s*'(?P<type>[^']*)'"
    r"(?P<filters>(?:\s+AND\s+(?:accountId|awsRegion)\s+IN\s*\(\s*'[^']*'(?:\s*,\s*'[^']*')*\s*\))*)"
    r"\s*$",
    re.IGNORECASE,
)
_FILTER = re.compile(r"AND\s+(accountId|awsRegion)\s+IN\s*\(([^)]*)\)", re.IGNORECASE)


@dataclass(frozen=True)
class SelectCall:
    aggregator: str
    expression: str
    limit: int
    returned: int


_recorded: list[dict[str, Any]] | None = None  # None: each query sees SES as it is
_select_calls: list[SelectCall] = []


def _ses_items(now: dt.datetime) -> list[dict[str, Any]]:
    """Every configuration set of every account and region moto holds, as Config records
    it (its configuration item's queryable properties)."""
    from moto.ses.models import ses_backends

    items: list[dict[str, Any]] = []
    captured = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    for account, regions in list(ses_backends.items()):
        for region, backend in list(regions.items()):
            for name, config_set in list(backend.config_sets.items()):
                arn = f"arn:{backend.partition}:ses:{region}:{account}:configuration-set/{name}"
                tags = backend.tagger.get_tag_dict_for_resource(arn)
                options = {
                    k: v
                    for k, v in (config_set.delivery_options or {}).items()
                    if k in ("SendingPoolName", "TlsPolicy")
                }
                configuration: dict[str, Any] = {"Name": name}
                if options:
                    configuration["DeliveryOptions"] = options
                items.append(
                    {
                        "accountId": account,
                        "awsRegion": region,
                        "resourceId": name,
                        "resourceName": name,
                        "resourceType": SES_SET_TYPE,
                        "configurationItemCaptureTime": captured,
                        "configuration": configuration,
                        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
                    }
                )
    return sorted(items, key=lambda i: (i["accountId"], i["awsRegion"], i["resourceName"]))


def record(at: dt.datetime | None = None) -> int:
    """Config records every set now (captured ``at``, default now); later SES changes
    stay unseen (stale) until the next call. Returns the number of sets recorded."""
    global _recorded
    items = _ses_items(at or dt.datetime.now(dt.UTC))
    with _lock:
        _recorded = items
    return len(items)


def record_live() -> None:
    """Each query sees SES as it is (the default)."""
    global _recorded
    with _lock:
        _recorded = None


def select_calls() -> list[SelectCall]:
    """Every ``SelectAggregateResourceConfig`` call answered, for tests and benchmarks."""
    with _lock:
        return list(_select_calls)


def _invalid_expression(expression: str, why: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(
        "InvalidExpressionException",
        f"The expression {expression!r} is not valid ({why}); the local evaluator supports "
        f"SELECT <{', '.join(SELECTABLE)}> WHERE resourceType = '{SES_SET_TYPE}' "
        "[AND accountId IN (...)] [AND awsRegion IN (...)] only.",
    )


def _project(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in fields:
        if path.startswith("tags"):
            keep = ("key", "value") if path == "tags" else (path.split(".", 1)[1],)
            out["tags"] = [{k: t[k] for k in keep} for t in item["tags"]]
            continue
        parts = path.split(".")
        source: Any = item
        for part in parts:
            source = source.get(part) if isinstance(source, dict) else None
        if source is None:
            continue  # Config leaves out a property the item does not have
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = source
    return out


def _select_aggregate_resource_config(self: Any) -> str:
    from moto.config.exceptions import InvalidLimitException, NoSuchConfigurationAggregatorException

    expression = str(self._get_param("Expression") or "")
    aggregator = str(self._get_param("ConfigurationAggregatorName") or "")
    limit = int(self._get_param("Limit") or self._get_param("MaxResults") or 25)
    start = int(self._get_param("NextToken") or 0)
    if aggregator not in self.config_backend.config_aggregators:
        raise NoSuchConfigurationAggregatorException()
    if limit > MAX_LIMIT:
        raise InvalidLimitException(limit)
    parsed = _SELECT.match(expression)
    if parsed is None:
        raise _invalid_expression(expression, "not of the supported form")
    fields = [f.strip() for f in parsed["fields"].split(",")]
    unknown = [f for f in fields if f not in SELECTABLE]
    if unknown:
        raise _invalid_expression(expression, f"unsupported properties {unknown}")
    if parsed["type"] != SES_SET_TYPE:
        raise _invalid_expression(expression, f"unsupported resource type {parsed['type']}")
    wanted: dict[str, set[str]] = {}
    for key, values in _FILTER.findall(parsed["filters"]):
        found = {v.strip().strip("'") for v in values.split(",")}
        name = "accountId" if key.lower() == "accountid" else "awsRegion"
        wanted[name] = wanted.get(name, found) & found
    with _lock:
        recorded = _recorded
    items = recorded if recorded is not None else _ses_items(dt.datetime.now(dt.UTC))
    matching = [i for i in items if all(i[k] in v for k, v in wanted.items())] if wanted else items
    page = matching[start : start + limit]
    with _lock:
        _select_calls.append(SelectCall(aggregator, expression, limit, len(page)))
    answer: dict[str, Any] = {
        "Results": [json.dumps(_project(i, fields)) for i in page],
        "QueryInfo": {"SelectFields": [{"Name": f} for f in fields]},
    }
    if start + limit < len(matching):
        answer["NextToken"] = str(start + limit)
    return json.dumps(answer)


_PATCHES: Final[dict[str, Callable[..., Any]]] = {
    "put_evaluations": _put_evaluations,
    "get_compliance_details_by_config_rule": _get_compliance_details_by_config_rule,
    "select_aggregate_resource_config": _select_aggregate_resource_config,
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
