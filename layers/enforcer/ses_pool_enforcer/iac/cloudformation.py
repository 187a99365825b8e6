"""CloudFormation templates (SAM and CDK output included): every configuration set
(``AWS::SES::ConfigurationSet`` and ``AWS::PinpointEmail::ConfigurationSet``, which
creates the same SES set) with its name, pool and tags, and every
``AWS::SES::DedicatedIpPool``'s name.

Values are resolved as far as the template and the given parameters decide them:
``Ref`` to a parameter (given, or its Default) or a pool declared beside the set,
``Fn::GetAtt Pool.PoolName``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``,
``Fn::FindInMap``, and ``Fn::If`` on the template's ``Conditions``. A parameter with no
value is a choice: each of its ``AllowedValues``, or each value a condition compares it
with and "another value"; the set is then judged once per choice (``Alternative``). A
value no choice decides (a pseudo parameter, a free parameter) is a hole in a name
(``patterns``) and leaves a pool or a tag ``Unresolved``. ``Fn::ForEach``
(``AWS::LanguageExtensions``) is expanded; nested stacks are followed by ``sources``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from ses_pool_enforcer.iac.cfn_yaml import SHORT_FORMS
from ses_pool_enforcer.iac.declared import (
    Alternative,
    DeclaredIdentity,
    DeclaredSet,
    NestedStack,
    Path,
    Position,
    Scan,
    Unresolved,
)
from ses_pool_enforcer.iac.patterns import has_hole, hole, holes, shown
from ses_pool_enforcer.pools import DEFAULT_POOL, normalise_pool

CONFIGURATION_SET = "AWS::SES::ConfigurationSet"
PINPOINT_SET = "AWS::PinpointEmail::ConfigurationSet"
EMAIL_IDENTITY = "AWS::SES::EmailIdentity"
STACK = "AWS::CloudFormation::Stack"
SAM_APPLICATION = "AWS::Serverless::Application"
_REMOTE = re.compile(r"^(https?|s3)://", re.IGNORECASE)
SET_TYPES = frozenset({CONFIGURATION_SET, PINPOINT_SET})
DEDICATED_IP_POOL = "AWS::SES::DedicatedIpPool"
TENANT = "AWS::SES::Tenant"
# A configuration set's ARN: arn:<partition>:ses:<region>:<account>:configuration-set/<name>
_SET_ARN = re.compile(r":configuration-set/([^/:]+)$")
STANDARD = "STANDARD"
NO_VALUE = {"Ref": "AWS::NoValue"}
SSM_TYPE = "AWS::SSM::Parameter::Value<"
GENERATED_NAME = Unresolved("no Name: CloudFormation generates one at deploy")
INTRINSICS = frozenset({*SHORT_FORMS.values(), "Fn::ForEach"})
FOR_EACH = "Fn::ForEach::"
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_MAX_DEPTH = 20
MAX_ALTERNATIVES = 64
"""Combinations of open parameter values judged per set; past it, the rest stay open."""


def is_template(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("Resources"), dict)


class Template:
    """One template, the parameter values given for it, and the values assumed for the
    parameters it leaves open (``assumed``; ``others``: those whose assumed hole stands
    for a value none of the template's conditions compares them with)."""

    def __init__(
        self,
        data: Mapping[str, Any],
        parameters: Mapping[str, str],
        assumed: Mapping[str, str] | None = None,
        others: frozenset[str] = frozenset(),
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.resources: Mapping[str, Any] = (
            resources if resources is not None else _mapping(data.get("Resources"))
        )
        self.declared_parameters = _mapping(data.get("Parameters"))
        self.mappings = _mapping(data.get("Mappings"))
        self.conditions = _mapping(data.get("Conditions"))
        self.given = parameters
        self.assumed: Mapping[str, str] = assumed or {}
        self.others = others
        self.defaults_in_conditions: dict[str, str] = {}
        """The parameters a condition was decided by through their Default, and its value."""
        self._in_condition = 0

    def resolve(self, value: Any, depth: int = 0) -> str | Unresolved:
        """``value`` as a string, if the template and the parameters decide it; a part
        no choice decides is a hole (``patterns.hole``)."""
        if depth > _MAX_DEPTH:
            return Unresolved("references nest too deeply")
        match value:
            case bool():
                return str(value).lower()
            case str():
                return value
            case int() | float():
                return str(value)
            case {"Ref": str(target)}:
                return self._ref(target, depth)
            case {"Fn::GetAtt": [str(target), str(attribute)]}:
                return self._get_att(target, attribute, depth)
            case {"Fn::Sub": str(text)}:
                return self._sub(text, {}, depth)
            case {"Fn::Sub": [str(text), dict(variables)]}:
                return self._sub(text, variables, depth)
            case {"Fn::Join": [str(separator), list(parts)]}:
                return self._join(separator, parts, depth)
            case {"Fn::Select": [index, list(items)]}:
                return self._select(index, items, depth)
            case {"Fn::FindInMap": [name, top, second, *_]}:
                return self._find_in_map([name, top, second], depth)
            case {"Fn::If": list()}:
                chosen = self.choose(value, depth + 1)
                if isinstance(chosen, Unresolved):
                    return chosen
                if chosen == NO_VALUE:
                    return Unresolved("Fn::If gives AWS::NoValue")
                return self.resolve(chosen, depth + 1)
            case dict() if len(value) == 1:
                (function,) = value
                if function in INTRINSICS:
                    return Unresolved(f"{function} is evaluated at deploy")
                if str(function).startswith("Fn::"):
                    return Unresolved(f"unknown intrinsic function {function}")
        return Unresolved(f"not a string: {_describe(value)}")

    def choose(self, value: Any, depth: int = 0) -> Any:
        """``value`` with each ``Fn::If`` at its top replaced by the branch its condition
        picks; Unresolved when a condition is not decided."""
        while isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
            match value["Fn::If"]:
                case [str(name), if_true, if_false]:
                    decided = self.condition(name, depth + 1)
                    if isinstance(decided, Unresolved):
                        return Unresolved(f"Fn::If on condition {name}: {decided.reason}")
                    value = if_true if decided else if_false
                case _:
                    return Unresolved(
                        f"Fn::If is not [condition, value, value]: {_describe(value)}"
                    )
        return value

    def condition(self, name: str, depth: int = 0) -> bool | Unresolved:
        """The template condition ``name``, from the parameters given, their defaults, and
        the values assumed for the open ones."""
        if name not in self.conditions:
            return Unresolved(f"condition {name} is not declared")
        self._in_condition += 1
        try:
            return self._truth(self.conditions[name], depth + 1)
        finally:
            self._in_condition -= 1

    def _truth(self, value: Any, depth: int) -> bool | Unresolved:
        if depth > _MAX_DEPTH:
            return Unresolved("conditions nest too deeply")
        match value:
            case {"Condition": str(name)}:
                return self.condition(name, depth + 1)
            case {"Fn::Not": [operand]}:
                truth = self._truth(operand, depth + 1)
                return truth if isinstance(truth, Unresolved) else not truth
            case {"Fn::And": list(operands)}:
                truths = [self._truth(o, depth + 1) for o in operands]
                if False in truths:
                    return False
                return next((t for t in truths if isinstance(t, Unresolved)), True)
            case {"Fn::Or": list(operands)}:
                truths = [self._truth(o, depth + 1) for o in operands]
                if True in truths:
                    return True
                return next((t for t in truths if isinstance(t, Unresolved)), False)
            case {"Fn::Equals": [left, right]}:
                return self._equals(left, right, depth)
        return Unresolved(f"not a condition: {_describe(value)}")

    def _equals(self, left: Any, right: Any, depth: int) -> bool | Unresolved:
        values = [self.resolve(self.choose(side, depth + 1), depth + 1) for side in (left, right)]
        for value in values:
            if isinstance(value, Unresolved):
                return value
        a, b = str(values[0]), str(values[1])
        if a == b:
            return True
        if not has_hole(a) and not has_hole(b):
            return False
        # A hole that stands for "a value no condition compares it with" equals no text.
        for one, other in ((a, b), (b, a)):
            names = holes(one)
            alone = bool(names) and one == hole(names[0]) and names[0] in self.others
            if alone and not has_hole(other):
                return False
        return Unresolved(f"Fn::Equals on {shown(a)} and {shown(b)}: decided at deploy")

    def _ref(self, target: str, depth: int) -> str | Unresolved:
        if target in self.given:
            return self.given[target]
        if target in self.assumed:
            return self.assumed[target]
        declared = self.declared_parameters.get(target)
        if isinstance(declared, dict):
            if str(declared.get("Type", "")).startswith(SSM_TYPE):
                return hole(target)
            if "Default" in declared:
                value = self.resolve(declared["Default"], depth + 1)
                if self._in_condition and isinstance(value, str):
                    self.defaults_in_conditions[target] = value
                return value
            return hole(target)
        if target == "AWS::NoValue":
            return Unresolved("AWS::NoValue: no value")
        if target.startswith("AWS::"):
            return hole(target)
        resource = self.resources.get(target)
        if isinstance(resource, dict) and resource.get("Type") == DEDICATED_IP_POOL:
            return self.pool_name(target, depth)
        if isinstance(resource, dict):
            return Unresolved(f"Ref to {target} ({resource.get('Type')}) is known at deploy")
        return Unresolved(f"Ref to {target}, which the template does not declare")

    def why_open(self, value: str) -> str:
        """Why a value with holes is not known: each hole's parameter and how to give it."""
        reasons = []
        for name in dict.fromkeys(holes(value)):
            declared = _mapping(self.declared_parameters.get(name))
            if str(declared.get("Type", "")).startswith(SSM_TYPE):
                where = declared.get("Default", "a parameter")
                reasons.append(
                    f"parameter {name} is read from SSM ({where}) at deploy: pass "
                    f"--parameter {name}=..."
                )
            elif name.startswith("AWS::"):
                reasons.append(
                    f"pseudo parameter {name} is known at deploy: pass --parameter {name}=..."
                )
            else:
                reasons.append(f"parameter {name} has no default: pass --parameter {name}=...")
        return "; ".join(reasons)

    def open_value(self, value: str | Unresolved, what: str) -> str | Unresolved:
        """A pool or tag must be known whole: one with holes is Unresolved."""
        if isinstance(value, str) and has_hole(value):
            return Unresolved(f"{what} {shown(value)}: {self.why_open(value)}")
        return value

    def _get_att(self, target: str, attribute: str, depth: int) -> str | Unresolved:
        resource = self.resources.get(target)
        if attribute == "PoolName" and _type(resource) == DEDICATED_IP_POOL:
            return self.pool_name(target, depth)
        return Unresolved(f"Fn::GetAtt {target}.{attribute} is known at deploy")

    def pool_name(self, logical_id: str, depth: int = 0) -> str | Unresolved:
        properties = _mapping(self.resources[logical_id].get("Properties"))
        if "PoolName" not in properties:
            return Unresolved(f"pool {logical_id} has no PoolName: CloudFormation generates one")
        return self.resolve(properties["PoolName"], depth + 1)

    def _sub(self, text: str, variables: Mapping[str, Any], depth: int) -> str | Unresolved:
        parts: list[str] = []
        position = 0
        for match in _SUB_VARIABLE.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            variable = match.group(1)
            if variable.startswith("!"):  # ${!Literal} is written as ${Literal}
                parts.append("${" + variable[1:] + "}")
                continue
            if variable in variables:
                value = self.resolve(variables[variable], depth + 1)
            elif "." in variable:
                target, attribute = variable.split(".", 1)
                value = self._get_att(target, attribute, depth + 1)
            else:
                value = self._ref(variable, depth + 1)
            if isinstance(value, Unresolved):
                return value
            parts.append(value)
        return "".join([*parts, text[position:]])

    def _join(self, separator: str, parts: list[Any], depth: int) -> str | Unresolved:
        resolved = [self.resolve(part, depth + 1) for part in parts]
        unresolved = [r for r in resolved if isinstance(r, Unresolved)]
        return unresolved[0] if unresolved else separator.join(str(r) for r in resolved)

    def _select(self, index: Any, items: list[Any], depth: int) -> str | Unresolved:
        position = self.resolve(index, depth + 1)
        if isinstance(position, Unresolved):
            return position
        if not position.isdigit() or int(position) >= len(items):
            return Unresolved(f"Fn::Select index {position} is outside the list")
        return self.resolve(items[int(position)], depth + 1)

    def _find_in_map(self, keys: list[Any], depth: int) -> str | Unresolved:
        value: Any = self.mappings
        for key in keys:
            resolved = self.resolve(key, depth + 1)
            if isinstance(resolved, Unresolved):
                return resolved
            if not isinstance(value, dict) or resolved not in value:
                return Unresolved(f"Fn::FindInMap: no {resolved!r} in the mapping")
            value = value[resolved]
        return self.resolve(value, depth + 1)


def scan(
    source: str,
    data: Mapping[str, Any],
    positions: Mapping[Path, Position],
    parameters: Mapping[str, str],
    kind: str = "CloudFormation template",
) -> Scan:
    notes: list[str] = []
    base = Template(data, parameters)
    resources, origins = expand_for_each(base, notes)
    template = Template(data, parameters, resources=resources)
    sets: list[DeclaredSet] = []
    nested: list[NestedStack] = []
    identities: list[DeclaredIdentity] = []
    pools: set[str] = set()
    modes: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if _type(resource) == DEDICATED_IP_POOL:
            # Each name the pool may take is declared: a set judged under a choice of
            # the parameters finds its pool under the same choice.
            for _, world in _worlds(template, resource):
                name = world.open_value(world.pool_name(logical_id), "pool name")
                if isinstance(name, str):
                    pools.add(name)
                    # CloudFormation's default, as the resource's reference says: STANDARD.
                    declared = _mapping(resource.get("Properties")).get("ScalingMode")
                    mode = STANDARD if declared is None else world.resolve(declared)
                    if isinstance(mode, str):
                        modes[name] = mode
        elif _type(resource) in SET_TYPES:
            position = positions.get(("Resources", origins.get(logical_id, logical_id)))
            declared = _configuration_set(data, template, source, logical_id, position, notes)
            if declared is not None:
                sets.append(declared)
        elif _type(resource) in (STACK, SAM_APPLICATION):
            nested.append(_nested(template, logical_id, resource))
        elif _type(resource) == EMAIL_IDENTITY:
            position = positions.get(("Resources", origins.get(logical_id, logical_id)))
            identity = _identity(template, source, logical_id, position)
            if identity.condition is not None and template.condition(identity.condition) is False:
                notes.append(
                    f"Resources.{logical_id}: not created: its Condition {identity.condition} "
                    "is false with the parameters given"
                )
            else:
                identities.append(identity)
    ssm = {
        str(name): str(declared["Default"])
        for name, declared in template.declared_parameters.items()
        if isinstance(declared, dict)
        and str(declared.get("Type", "")).startswith(SSM_TYPE)
        and isinstance(declared.get("Default"), str)
        and name not in parameters
    }
    associated = _tenant_associations(template)
    sets = [
        replace(s, tenants=tuple(sorted(associated[s.name])))
        if isinstance(s.name, str) and s.name in associated
        else s
        for s in sets
    ]
    return Scan(source, kind, sets, pools, notes, nested, identities, ssm, modes)


def _tenant_associations(template: Template) -> dict[str, set[str]]:
    """Set name -> the tenants whose ``AWS::SES::Tenant`` associates it (by its ARN, as
    written or built with Fn::Sub / Ref). An association whose tenant or set the template
    leaves open is not counted."""
    found: dict[str, set[str]] = {}
    for resource in template.resources.values():
        if _type(resource) != TENANT:
            continue
        properties = _mapping(resource.get("Properties"))
        tenant = template.resolve(properties.get("TenantName"))
        associations = properties.get("ResourceAssociations")
        if not isinstance(tenant, str) or has_hole(tenant) or not isinstance(associations, list):
            continue
        for association in associations:
            name = _associated_set(template, _mapping(association).get("ResourceArn"))
            if name is not None:
                found.setdefault(name, set()).add(tenant)
    return found


# ``!Sub arn:...:configuration-set/${MySet}``: the set's Ref, its name
_SUB_SET_REF = re.compile(r":configuration-set/\$\{([A-Za-z0-9]+)\}$")


def _associated_set(template: Template, arn: Any) -> str | None:
    """The name of the configuration set ``arn`` names, written out or built with
    ``Fn::Sub`` from the set's Ref; None where the template leaves it open."""
    sub = arn.get("Fn::Sub") if isinstance(arn, dict) else None
    ref = _SUB_SET_REF.search(sub) if isinstance(sub, str) else None
    if ref is not None and _type(template.resources.get(ref.group(1))) in SET_TYPES:
        properties = _mapping(template.resources[ref.group(1)].get("Properties"))
        name: str | Unresolved = template.resolve(properties.get("Name"))
    else:
        resolved = template.resolve(arn)
        named = _SET_ARN.search(resolved) if isinstance(resolved, str) else None
        name = named.group(1) if named is not None else Unresolved("not a set's ARN")
    return name if isinstance(name, str) and not has_hole(name) else None


def _identity(
    template: Template, source: str, logical_id: str, position: Position | None
) -> DeclaredIdentity:
    """The identity and its default set, as the parameters given or their defaults make
    them (a choice left open leaves the value unresolved)."""
    resource = template.resources[logical_id]
    properties = _mapping(resource.get("Properties"))
    condition = resource.get("Condition") if isinstance(resource.get("Condition"), str) else None
    name = _name(template, properties.get("EmailIdentity"))
    if isinstance(name, str) and has_hole(name):
        name = Unresolved(f"identity {shown(name)}: {template.why_open(name)}")
    attributes = template.choose(properties.get("ConfigurationSetAttributes"))
    current: str | Unresolved | None = None
    if isinstance(attributes, Unresolved):
        current = Unresolved(f"ConfigurationSetAttributes: {attributes.reason}")
    elif isinstance(attributes, dict):
        written = template.choose(attributes.get("ConfigurationSetName"))
        if isinstance(written, Unresolved):
            current = written
        elif written is not None and written != NO_VALUE:
            current = template.open_value(template.resolve(written), "configuration set")
    return DeclaredIdentity(source, logical_id, position, name, current, condition)


def _nested(template: Template, logical_id: str, resource: Mapping[str, Any]) -> NestedStack:
    """Where a nested stack's template is: ``TemplateURL`` (or SAM's ``Location``) as a
    path on this disk, as ``sam build`` and ``cloudformation package`` read it; CDK writes
    the file's name in the ``aws:asset:path`` metadata."""
    properties = _mapping(resource.get("Properties"))
    asset = _mapping(resource.get("Metadata")).get("aws:asset:path")
    written = properties.get("TemplateURL", properties.get("Location"))
    location: str | Unresolved
    if isinstance(asset, str):
        location = asset
    elif isinstance(written, dict) and "ApplicationId" in written:
        location = Unresolved("a Serverless Application Repository application")
    else:
        resolved = template.open_value(template.resolve(written), "template location")
        if isinstance(resolved, str) and _REMOTE.match(resolved):
            location = Unresolved(f"its template is at {resolved}: check that template itself")
        else:
            location = resolved
    parameters: dict[str, str] = {}
    for key, value in _mapping(properties.get("Parameters")).items():
        resolved = template.open_value(template.resolve(value), "parameter")
        if isinstance(resolved, str):
            parameters[str(key)] = resolved
    return NestedStack(logical_id, location, parameters)


def expand_for_each(template: Template, notes: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The resources with each ``Fn::ForEach::`` loop expanded, as the
    AWS::LanguageExtensions transform does; and, for each resource a loop wrote, the
    loop's key (where it is written)."""
    resources: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key, value in template.resources.items():
        if not key.startswith(FOR_EACH):
            resources[key] = value
            continue
        expanded = _loop(template, key, value, {}, 0)
        if isinstance(expanded, Unresolved):
            notes.append(f"Resources.{key}: not checked: {expanded.reason}")
            continue
        for logical_id, resource in expanded.items():
            resources[logical_id] = resource
            origins[logical_id] = key
    return resources, origins


def _loop(
    template: Template, key: str, loop: Any, bound: Mapping[str, str], depth: int
) -> dict[str, Any] | Unresolved:
    if depth > 5:
        return Unresolved("Fn::ForEach loops nest more than 5 deep")
    if not (isinstance(loop, list) and len(loop) == 3 and isinstance(loop[2], dict)):
        return Unresolved("Fn::ForEach is not [identifier, collection, {key: value}]")
    identifier, collection, body = loop
    items = _collection(template, _bind(collection, bound))
    if isinstance(items, Unresolved):
        return Unresolved(f"its collection {items.reason}")
    out: dict[str, Any] = {}
    for item in items:
        names = {**bound, str(identifier): item}
        for output_key, output_value in body.items():
            if str(output_key).startswith(FOR_EACH):
                inner = _loop(template, output_key, output_value, names, depth + 1)
                if isinstance(inner, Unresolved):
                    return inner
                out.update(inner)
            else:
                out[_bind(output_key, names)] = _bind(output_value, names)
    return out


def _collection(template: Template, collection: Any) -> list[str] | Unresolved:
    values: list[str | Unresolved]
    if isinstance(collection, list):
        values = [template.resolve(item) for item in collection]
    else:
        joined = template.resolve(collection)  # a CommaDelimitedList parameter
        values = [*joined.split(",")] if isinstance(joined, str) else [joined]
    for value in values:
        if isinstance(value, Unresolved):
            return value
        if has_hole(str(value)):
            return Unresolved(template.why_open(str(value)))
    return [str(v).strip() for v in values]


def _bind(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with each loop identifier replaced: ``Ref``, ``${x}`` and ``&{x}`` (the
    value without its non-alphanumeric characters)."""
    if isinstance(value, str):
        for name, item in names.items():
            value = value.replace("${" + name + "}", item)
            value = value.replace("&{" + name + "}", re.sub(r"[^A-Za-z0-9]", "", item))
        return value
    if isinstance(value, list):
        return [_bind(v, names) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in names:
            return names[value["Ref"]]
        return {_bind(k, names): _bind(v, names) for k, v in value.items()}
    return value


def _configuration_set(
    data: Mapping[str, Any],
    template: Template,
    source: str,
    logical_id: str,
    position: Position | None,
    notes: list[str],
) -> DeclaredSet | None:
    """The set as declared, judged under each choice of the parameters it leaves open;
    None (and a note) when its Condition is false whatever they are."""
    resource = template.resources[logical_id]
    path = _mapping(resource.get("Metadata")).get("aws:cdk:path")
    construct = path.removesuffix("/Resource") if isinstance(path, str) else None
    condition = resource.get("Condition") if isinstance(resource.get("Condition"), str) else None
    properties = resource.get("Properties")
    if not isinstance(properties, dict):
        unresolved = Unresolved(f"Properties of {logical_id} are not a mapping")
        return DeclaredSet(
            source,
            logical_id,
            position,
            unresolved,
            unresolved,
            unresolved,
            construct=construct,
            condition=condition,
        )
    found: dict[tuple[Any, ...], tuple[list[str], tuple[Any, Any, Any]]] = {}
    defaults: dict[str, str] = {}
    for assumption, world in _worlds(template, resource):
        if condition is not None and world.condition(condition) is False:
            continue
        values = (
            _name(world, properties.get("Name")),
            _pool(world, properties.get("DeliveryOptions")),
            _tags(world, properties.get("Tags")),
        )
        found.setdefault(_frozen(values), ([], values))[0].append(assumption)
        defaults.update(world.defaults_in_conditions)
    if not found:
        notes.append(
            f"Resources.{logical_id}: not created: its Condition {condition} is false"
            " with the parameters given"
        )
        return None
    alternatives = tuple(
        Alternative(" or ".join(a for a in assumptions if a) or "as given", *values)
        for assumptions, values in found.values()
    )
    return DeclaredSet(
        source,
        logical_id,
        position,
        name=_shared([a.name for a in alternatives], "name"),
        pool=_shared([a.pool for a in alternatives], "pool"),
        tags=_shared([a.tags for a in alternatives], "tags"),
        construct=construct,
        condition=condition,
        alternatives=alternatives if len(alternatives) > 1 else (),
        defaults=", ".join(f"{k}={v}" for k, v in sorted(defaults.items())) or None,
    )


def _frozen(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in values)


def _shared(values: list[Any], what: str) -> Any:
    if all(v == values[0] for v in values):
        return values[0]
    shown_values = sorted({shown(v) if isinstance(v, str) else repr(v) for v in values})
    return Unresolved(f"{what} depends on the parameters: one of {', '.join(shown_values)}")


def _worlds(template: Template, resource: Any) -> Iterator[tuple[str, Template]]:
    """Each combination of values of the open parameters the resource depends on (a
    parameter with no value given and no Default, or a pseudo parameter), with the
    template that assumes it: AllowedValues, else the values the conditions compare it
    with and "another value" (a hole)."""
    choices: dict[str, list[str]] = {}
    others: set[str] = set()
    compared = _compared(template.conditions)
    for name in sorted(_references(template, resource)):
        if name in template.given or name == "AWS::NoValue":
            continue
        declared = template.declared_parameters.get(name)
        if isinstance(declared, dict):
            ssm = str(declared.get("Type", "")).startswith(SSM_TYPE)
            if "Default" in declared and not ssm:
                continue
            allowed = declared.get("AllowedValues")
            if isinstance(allowed, list) and allowed and not ssm:
                choices[name] = [str(v) for v in allowed]
                continue
        elif not name.startswith("AWS::"):
            continue
        choices[name] = [*sorted(compared.get(name, ())), hole(name)]
        others.add(name)
    enumerated = [n for n in choices if len(choices[n]) > 1]
    product = 1
    for name in list(enumerated):
        if product * len(choices[name]) > MAX_ALTERNATIVES:
            enumerated.remove(name)
            choices[name] = [hole(name)]
            others.discard(name)
        else:
            product *= len(choices[name])
    fixed = {n: values[0] for n, values in choices.items() if n not in enumerated}
    for combination in itertools.product(*(choices[n] for n in enumerated)):
        assumed = {**fixed, **dict(zip(enumerated, combination, strict=True))}
        assumption = ", ".join(
            f"{n}={'another value' if has_hole(v) else v}"
            for n, v in zip(enumerated, combination, strict=True)
        )
        yield (
            assumption,
            Template(
                {
                    "Parameters": template.declared_parameters,
                    "Mappings": template.mappings,
                    "Conditions": template.conditions,
                },
                template.given,
                assumed,
                frozenset(others),
                template.resources,
            ),
        )


def _references(template: Template, resource: Any) -> set[str]:
    """The parameters (and pseudo parameters) ``resource`` depends on: through Ref,
    Fn::Sub, its conditions and the pools it refers to."""
    found: set[str] = set()
    seen: set[str] = set()
    pending: list[Any] = [resource]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending += value
        elif isinstance(value, dict):
            for key, item in value.items():
                if key == "Ref" and isinstance(item, str):
                    target = template.resources.get(item)
                    if isinstance(target, dict) and item not in seen:
                        seen.add(item)
                        pending.append(target.get("Properties"))
                    else:
                        found.add(item)
                elif key == "Fn::GetAtt" and isinstance(item, list) and item:
                    target = template.resources.get(str(item[0]))
                    if isinstance(target, dict) and str(item[0]) not in seen:
                        seen.add(str(item[0]))
                        pending.append(target.get("Properties"))
                elif key == "Fn::Sub":
                    text = item[0] if isinstance(item, list) and item else item
                    if isinstance(text, str):
                        for variable in _SUB_VARIABLE.findall(text):
                            if "." in variable:
                                pending.append({"Fn::GetAtt": variable.split(".", 1)})
                            elif not variable.startswith("!"):
                                pending.append({"Ref": variable})
                    pending.append(item)
                elif key in ("Condition", "Fn::If"):
                    name = item[0] if isinstance(item, list) and item else item
                    if isinstance(name, str) and f"?{name}" not in seen:
                        seen.add(f"?{name}")
                        pending.append(template.conditions.get(name))
                    pending.append(item)
                else:
                    pending.append(item)
    return found


def _compared(conditions: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each parameter a condition compares with text (``Fn::Equals [!Ref P, x]``),
    the texts it is compared with."""
    found: dict[str, set[str]] = {}
    pending: list[Any] = list(conditions.values())
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending += value
        elif isinstance(value, dict):
            equals = value.get("Fn::Equals")
            if isinstance(equals, list) and len(equals) == 2:
                for one, other in (equals, equals[::-1]):
                    ref = one.get("Ref") if isinstance(one, dict) else None
                    if isinstance(ref, str) and isinstance(other, str | int | bool):
                        text = str(other).lower() if isinstance(other, bool) else str(other)
                        found.setdefault(ref, set()).add(text)
            pending += value.values()
    return found


def _name(template: Template, name: Any) -> str | Unresolved:
    chosen = template.choose(name)
    if isinstance(chosen, Unresolved):
        return chosen
    if chosen is None or chosen == NO_VALUE:
        return GENERATED_NAME
    return template.resolve(chosen)


def _pool(template: Template, options: Any) -> str | Unresolved:
    options = template.choose(options)
    if isinstance(options, Unresolved):
        return Unresolved(f"DeliveryOptions: {options.reason}")
    if options is None or options == NO_VALUE:
        return DEFAULT_POOL
    if not isinstance(options, dict):
        return Unresolved(f"DeliveryOptions: {_reason(template.resolve(options))}")
    pool = template.choose(options.get("SendingPoolName"))
    if isinstance(pool, Unresolved):
        return Unresolved(f"SendingPoolName: {pool.reason}")
    if pool is None or pool == NO_VALUE:
        return DEFAULT_POOL
    resolved = template.open_value(template.resolve(pool), "pool")
    return resolved if isinstance(resolved, Unresolved) else normalise_pool(resolved)


def _tags(template: Template, tags: Any) -> Mapping[str, str] | Unresolved:
    tags = template.choose(tags)
    if isinstance(tags, Unresolved):
        return Unresolved(f"Tags: {tags.reason}")
    if tags is None or tags == NO_VALUE:
        return {}
    if not isinstance(tags, list):
        return Unresolved(f"Tags: {_reason(template.resolve(tags))}")
    resolved: dict[str, str] = {}
    for written in tags:
        tag = template.choose(written)
        if isinstance(tag, Unresolved):
            return Unresolved(f"Tags: {tag.reason}")
        if tag == NO_VALUE:
            continue
        if not isinstance(tag, dict) or "Key" not in tag:
            return Unresolved(f"Tags: not a Key and Value: {_describe(tag)}")
        key = template.open_value(template.resolve(tag["Key"]), "tag key")
        value = template.open_value(template.resolve(tag.get("Value", "")), "tag value")
        for part in (key, value):
            if isinstance(part, Unresolved):
                return Unresolved(f"tag {tag['Key']}: {part.reason}")
        resolved[str(key)] = str(value)
    return resolved


def _reason(value: str | Unresolved) -> str:
    return value.reason if isinstance(value, Unresolved) else f"not a mapping: {value!r}"


def _type(resource: Any) -> Any:
    return resource.get("Type") if isinstance(resource, dict) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
