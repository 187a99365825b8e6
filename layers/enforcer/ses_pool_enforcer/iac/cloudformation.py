"""CloudFormation templates (SAM and CDK output included): every
``AWS::SES::ConfigurationSet`` with its name, pool and tags, and every
``AWS::SES::DedicatedIpPool``'s name.

Values are resolved only as far as the template and the given parameters decide them:
``Ref`` to a parameter or a pool declared beside the set, ``Fn::GetAtt Pool.PoolName``,
``Fn::Sub``, ``Fn::Join``, ``Fn::Select`` and ``Fn::FindInMap``. Anything else (a
condition, an import, a pseudo parameter, a generated name) is ``Unresolved``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ses_pool_enforcer.iac.cfn_yaml import SHORT_FORMS
from ses_pool_enforcer.iac.declared import DeclaredSet, Path, Position, Scan, Unresolved
from ses_pool_enforcer.pools import DEFAULT_POOL, normalise_pool

CONFIGURATION_SET = "AWS::SES::ConfigurationSet"
DEDICATED_IP_POOL = "AWS::SES::DedicatedIpPool"
NO_VALUE = {"Ref": "AWS::NoValue"}
GENERATED_NAME = Unresolved("no Name: CloudFormation generates one at deploy")
INTRINSICS = frozenset({*SHORT_FORMS.values(), "Fn::ForEach"})
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_MAX_DEPTH = 20


def is_template(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("Resources"), dict)


class Template:
    """One template and the parameter values given for it."""

    def __init__(self, data: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.resources: Mapping[str, Any] = data.get("Resources") or {}
        self.declared_parameters = _mapping(data.get("Parameters"))
        self.mappings = _mapping(data.get("Mappings"))
        self.given = parameters

    def resolve(self, value: Any, depth: int = 0) -> str | Unresolved:
        """``value`` as a string, if the template and the parameters decide it."""
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
            case {"Fn::If": [str(condition), *_]}:
                return Unresolved(f"Fn::If on condition {condition}: decided at deploy")
            case dict() if len(value) == 1:
                (function,) = value
                if function in INTRINSICS:
                    return Unresolved(f"{function} is evaluated at deploy")
                if str(function).startswith("Fn::"):
                    return Unresolved(f"unknown intrinsic function {function}")
        return Unresolved(f"not a string: {_describe(value)}")

    def _ref(self, target: str, depth: int) -> str | Unresolved:
        if target in self.given:
            return self.given[target]
        declared = self.declared_parameters.get(target)
        if isinstance(declared, dict):
            if "Default" in declared:
                return self.resolve(declared["Default"], depth + 1)
            return Unresolved(f"parameter {target} has no default: pass --parameter {target}=...")
        if target.startswith("AWS::"):
            return Unresolved(
                f"pseudo parameter {target} is known at deploy: pass --parameter {target}=..."
            )
        resource = self.resources.get(target)
        if isinstance(resource, dict) and resource.get("Type") == DEDICATED_IP_POOL:
            return self.pool_name(target, depth)
        if isinstance(resource, dict):
            return Unresolved(f"Ref to {target} ({resource.get('Type')}) is known at deploy")
        return Unresolved(f"Ref to {target}, which the template does not declare")

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
    template = Template(data, parameters)
    sets: list[DeclaredSet] = []
    pools: set[str] = set()
    for logical_id, resource in template.resources.items():
        if _type(resource) == DEDICATED_IP_POOL:
            name = template.pool_name(logical_id)
            if isinstance(name, str):
                pools.add(name)
        elif _type(resource) == CONFIGURATION_SET:
            sets.append(
                _configuration_set(
                    template, source, logical_id, positions.get(("Resources", logical_id))
                )
            )
    return Scan(source, kind, sets, pools)


def _configuration_set(
    template: Template, source: str, logical_id: str, position: Position | None
) -> DeclaredSet:
    resource = template.resources[logical_id]
    properties = resource.get("Properties")
    path = _mapping(resource.get("Metadata")).get("aws:cdk:path")
    construct = path.removesuffix("/Resource") if isinstance(path, str) else None
    if not isinstance(properties, dict):
        unresolved = Unresolved(f"Properties of {logical_id} are not a mapping")
        return DeclaredSet(
            source, logical_id, position, unresolved, unresolved, unresolved, construct=construct
        )
    name = template.resolve(properties["Name"]) if "Name" in properties else GENERATED_NAME
    return DeclaredSet(
        source,
        logical_id,
        position,
        name,
        _pool(template, properties.get("DeliveryOptions")),
        _tags(template, properties.get("Tags")),
        construct=construct,
    )


def _pool(template: Template, options: Any) -> str | Unresolved:
    if options is None or options == NO_VALUE:
        return DEFAULT_POOL
    if not isinstance(options, dict):
        return Unresolved(f"DeliveryOptions: {_reason(template.resolve(options))}")
    pool = options.get("SendingPoolName")
    if pool is None or pool == NO_VALUE:
        return DEFAULT_POOL
    resolved = template.resolve(pool)
    return resolved if isinstance(resolved, Unresolved) else normalise_pool(resolved)


def _tags(template: Template, tags: Any) -> Mapping[str, str] | Unresolved:
    if tags is None or tags == NO_VALUE:
        return {}
    if not isinstance(tags, list):
        return Unresolved(f"Tags: {_reason(template.resolve(tags))}")
    resolved: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict) or "Key" not in tag:
            return Unresolved(f"Tags: not a Key and Value: {_describe(tag)}")
        key, value = template.resolve(tag["Key"]), template.resolve(tag.get("Value", ""))
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
