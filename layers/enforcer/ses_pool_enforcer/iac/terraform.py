"""Terraform plans (``terraform show -json plan.out``) and states (``terraform show
-json``): ``aws_sesv2_configuration_set``, ``aws_sesv2_dedicated_ip_pool``, and the v1
``aws_ses_configuration_set``, which cannot carry a pool at all.

A value Terraform knows only after apply (``after_unknown``) is ``Unresolved``. A
resource the plan deletes is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ses_pool_enforcer.iac.declared import (
    DeclaredIdentity,
    DeclaredSet,
    Path,
    Position,
    Scan,
    Unresolved,
)
from ses_pool_enforcer.pools import DEFAULT_POOL, normalise_pool

SET_V2 = "aws_sesv2_configuration_set"
SET_V1 = "aws_ses_configuration_set"
POOL = "aws_sesv2_dedicated_ip_pool"
STANDARD = "STANDARD"  # a pool's scaling mode when none is given
IDENTITY = "aws_sesv2_email_identity"
V1_CANNOT_HOLD_A_POOL = (
    f"an {SET_V1} (SES v1) cannot carry a pool, so it sends from {DEFAULT_POOL} "
    f"(declare it as an {SET_V2} with delivery_options)"
)


def is_plan(data: Any) -> bool:
    return isinstance(data, dict) and "format_version" in data and "terraform_version" in data


@dataclass(frozen=True)
class _Resource:
    """A resource as it will be after apply: its attributes and which are unknown."""

    address: str
    mode: str
    type: str
    after: Mapping[str, Any]
    unknown: Any
    path: Path
    absent_is_unknown: bool = False

    def attribute(self, *keys: str | int) -> Any:
        """The attribute at ``keys``, or Unresolved if Terraform knows it only after apply."""
        value: Any = self.after
        unknown = self.unknown
        for key in keys:
            if unknown is True:
                break
            if self.absent_is_unknown and not _has(value, key):
                unknown = True
                break
            value = _item(value, key)
            unknown = _item(unknown, key)
        if unknown is True:
            return Unresolved(f"{_dotted(keys)} is known only after apply")
        return value


def scan(source: str, data: Mapping[str, Any], positions: Mapping[Path, Position]) -> Scan:
    defaults = default_tags(data)
    sets: list[DeclaredSet] = []
    identities: list[DeclaredIdentity] = []
    pools: set[str] = set()
    modes: dict[str, str] = {}
    for resource in _resources(data):
        if resource.type == POOL:
            name = resource.attribute("pool_name")
            if isinstance(name, str):
                pools.add(name)
                mode = _scaling_mode(data, resource)
                if mode is not None:
                    modes[name] = mode
        elif resource.mode == "managed" and resource.type in (SET_V1, SET_V2):
            position = positions.get((*resource.path, "address")) or positions.get(resource.path)
            sets.append(_configuration_set(source, resource, position, defaults))
        elif resource.mode == "managed" and resource.type == IDENTITY:
            position = positions.get((*resource.path, "address")) or positions.get(resource.path)
            identities.append(_identity(source, resource, position))
    kind = "Terraform plan" if "resource_changes" in data else "Terraform state"
    return Scan(source, kind, sets, pools, identities=identities, pool_modes=modes)


def _scaling_mode(data: Mapping[str, Any], resource: _Resource) -> str | None:
    """A pool's ``scaling_mode`` as it will be after apply; None when the plan leaves it
    open. The provider computes an omitted one (unknown in the plan): the configuration
    then has no ``scaling_mode`` and the pool is STANDARD, the API's default (the
    provider's aws_sesv2_dedicated_ip_pool page: "If omitted, the AWS API will default to
    a standard pool"). One written as an expression the plan cannot show stays open."""
    mode = resource.attribute("scaling_mode")
    if isinstance(mode, str):
        return mode
    config = _configuration_of(data, resource.address)
    if config is not None and "scaling_mode" not in _mapping(config.get("expressions")):
        return STANDARD
    return None


def _configuration_of(data: Mapping[str, Any], address: str) -> Mapping[str, Any] | None:
    """The resource's block in the plan's ``configuration`` (by its address, module
    calls and instance keys stripped), or None where the plan has none."""
    module = _mapping(_mapping(data.get("configuration")).get("root_module"))
    parts = re.sub(r"\[[^\]]*\]", "", address).split(".")
    while len(parts) > 2 and parts[0] == "module":
        module = _mapping(
            _mapping(_mapping(module.get("module_calls")).get(parts[1])).get("module")
        )
        parts = parts[2:]
    wanted = ".".join(parts)
    for config in module.get("resources") or []:
        if isinstance(config, dict) and config.get("address") == wanted:
            return config
    return None


def _identity(source: str, resource: _Resource, position: Position | None) -> DeclaredIdentity:
    current = resource.attribute("configuration_set_name")
    return DeclaredIdentity(
        source,
        resource.address,
        position,
        _string(resource.attribute("email_identity"), "email_identity"),
        current if isinstance(current, str | Unresolved) else None,
    )


def _configuration_set(
    source: str,
    resource: _Resource,
    position: Position | None,
    defaults: Mapping[str, str] | Unresolved,
) -> DeclaredSet:
    if resource.type == SET_V1:
        name = _string(resource.attribute("name"), "name")
        return DeclaredSet(
            source, resource.address, position, name, DEFAULT_POOL, fixed_pool=V1_CANNOT_HOLD_A_POOL
        )
    return DeclaredSet(
        source,
        resource.address,
        position,
        _string(resource.attribute("configuration_set_name"), "configuration_set_name"),
        _pool(resource),
        _tags(resource, defaults),
    )


def _pool(resource: _Resource) -> str | Unresolved:
    options = resource.attribute("delivery_options")
    if isinstance(options, Unresolved) or not options:
        return options if isinstance(options, Unresolved) else DEFAULT_POOL
    pool = resource.attribute("delivery_options", 0, "sending_pool_name")
    if isinstance(pool, Unresolved):
        return pool
    return normalise_pool(pool if isinstance(pool, str) else None)


def _tags(
    resource: _Resource, default_tags: Mapping[str, str] | Unresolved
) -> Mapping[str, str] | Unresolved:
    # tags_all is what SES receives: the resource's tags and the provider's default_tags.
    tags_all = resource.attribute("tags_all")
    if isinstance(tags_all, Unresolved) and resource.attribute("tags") is None:
        # The provider plans tags_all unknown whenever tags is null; what apply writes is
        # then the default_tags alone (none: {}).
        return default_tags
    for tags in (tags_all, resource.attribute("tags")):
        if isinstance(tags, Unresolved):
            return tags
        if isinstance(tags, dict):
            return {str(k): str(v) for k, v in tags.items()}
    return {}


def default_tags(data: Mapping[str, Any]) -> Mapping[str, str] | Unresolved:
    """The AWS provider's ``default_tags`` as the plan's configuration writes them: {}
    when no configuration of the provider has any; Unresolved when one is an expression
    the plan does not show, or when configurations disagree."""
    configs = _mapping(_mapping(data.get("configuration")).get("provider_config"))
    if not configs:
        return Unresolved(
            "tags_all is known only after apply (the plan shows no provider configuration)"
        )
    found: list[Mapping[str, str]] = []
    for config in configs.values():
        config = _mapping(config)
        if config.get("name") != "aws":
            continue
        blocks = _mapping(config.get("expressions")).get("default_tags")
        if not blocks:
            found.append({})
            continue
        tags = _mapping(_mapping(blocks[0] if isinstance(blocks, list) else blocks).get("tags"))
        if "constant_value" not in tags or not isinstance(tags["constant_value"], dict):
            return Unresolved("tags_all is known only after apply (default_tags is an expression)")
        found.append({str(k): str(v) for k, v in tags["constant_value"].items()})
    if any(tags != found[0] for tags in found[1:]):
        return Unresolved(
            "tags_all is known only after apply "
            "(provider configurations with different default_tags)"
        )
    return found[0] if found else {}


def _string(value: Any, attribute: str) -> str | Unresolved:
    if isinstance(value, str | Unresolved):
        return value
    return Unresolved(f"{attribute} is not set")


def _resources(data: Mapping[str, Any]) -> Iterator[_Resource]:
    changes = data.get("resource_changes")
    if isinstance(changes, list):
        for index, change in enumerate(changes):
            resource = _from_change(change, ("resource_changes", index))
            if resource is not None:
                yield resource
        return
    # A state holds no unknown value; planned values (a plan without resource_changes)
    # leave an unknown attribute out.
    key = "values" if "values" in data else "planned_values"
    root = _mapping(_mapping(data.get(key)).get("root_module"))
    yield from _from_module(root, (key, "root_module"), absent_is_unknown=key == "planned_values")


def _from_change(change: Any, path: Path) -> _Resource | None:
    if not isinstance(change, dict):
        return None
    details = _mapping(change.get("change"))
    after = details.get("after")
    if not isinstance(after, dict):  # deleted, or not a resource this plan keeps
        return None
    return _Resource(
        str(change.get("address", "")),
        str(change.get("mode", "managed")),
        str(change.get("type", "")),
        after,
        details.get("after_unknown") or {},
        path,
    )


def _from_module(
    module: Mapping[str, Any], path: Path, *, absent_is_unknown: bool
) -> Iterator[_Resource]:
    for index, resource in enumerate(module.get("resources") or []):
        if isinstance(resource, dict) and isinstance(resource.get("values"), dict):
            yield _Resource(
                str(resource.get("address", "")),
                str(resource.get("mode", "managed")),
                str(resource.get("type", "")),
                resource["values"],
                {},
                (*path, "resources", index),
                absent_is_unknown,
            )
    for index, child in enumerate(module.get("child_modules") or []):
        yield from _from_module(
            _mapping(child), (*path, "child_modules", index), absent_is_unknown=absent_is_unknown
        )


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


def _item(container: Any, key: str | int) -> Any:
    if isinstance(container, dict) and isinstance(key, str):
        return container.get(key)
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return container[key]
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _dotted(keys: tuple[str | int, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")
