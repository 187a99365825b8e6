"""Strict parsing of the policy document, version 1 (docs/policy.md, the user contract)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_pool_enforcer.policy import Mode, Policy, PolicyError, parse_policy
from ses_pool_enforcer.pools import DEFAULT_POOL, SHARED_POOL

REFERENCE_EXAMPLE = """
version: 1
mode: enforce                 # enforce | audit; the default for every rule
default:                      # optional: sets that match no rule must use this pool
  pool: ses-default-dedicated-pool
  mode: audit                 # optional override
rules:                        # ordered: the first rule that matches a set decides
  - id: marketing             # unique, used in reports
    description: Newsletters and promotions   # optional
    match:
      names: ["mkt-*", "newsletter"]
      tags: {stream: marketing}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit               # report, do not reassign
exemptions:
  - configuration_set: legacy-*        # glob
    reason: OPS-42 migration           # required
    expires: 2027-01-31                # required
"""

ONE_RULE = """
version: 1
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
"""


def _errors_of(text: str | bytes) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


# --- valid documents --------------------------------------------------------------------


def test_reference_example_parses_from_yaml() -> None:
    # Given the example of docs/policy.md, written in YAML with comments
    # When it is parsed
    policy = parse_policy(REFERENCE_EXAMPLE)

    # Then every part of it is read as written
    assert policy.version == 1
    assert policy.mode is Mode.ENFORCE
    assert policy.default is not None
    assert (policy.default.pool, policy.default.mode) == (DEFAULT_POOL, Mode.AUDIT)
    assert [rule.id for rule in policy.rules] == ["marketing", "receipts"]
    marketing, receipts = policy.rules
    assert marketing.description == "Newsletters and promotions"
    assert marketing.match.names == ["mkt-*", "newsletter"]
    assert marketing.match.tags == {"stream": "marketing"}
    assert (marketing.pool, marketing.mode) == ("marketing", None)
    assert receipts.match.tags is None
    assert (receipts.pool, receipts.mode) == ("transactional", Mode.AUDIT)
    (exemption,) = policy.exemptions
    assert exemption.configuration_set == "legacy-*"
    assert exemption.reason == "OPS-42 migration"
    assert exemption.expires == dt.date(2027, 1, 31)


def test_same_document_parses_from_json() -> None:
    # Given the docs/policy.md example rewritten as JSON
    text = json.dumps(
        {
            "version": 1,
            "mode": "enforce",
            "default": {"pool": "ses-default-dedicated-pool", "mode": "audit"},
            "rules": [
                {
                    "id": "marketing",
                    "description": "Newsletters and promotions",
                    "match": {"names": ["mkt-*", "newsletter"], "tags": {"stream": "marketing"}},
                    "pool": "marketing",
                },
                {"id": "receipts", "match": {"names": ["tx-*"]}, "pool": "transactional",
                 "mode": "audit"},
            ],
            "exemptions": [
                {"configuration_set": "legacy-*", "reason": "OPS-42 migration",
                 "expires": "2027-01-31"}
            ],
        }
    )  # fmt: skip

    # When it is parsed
    policy = parse_policy(text)

    # Then it is the very same policy as the YAML one
    assert policy == parse_policy(REFERENCE_EXAMPLE)


def test_bytes_are_accepted() -> None:
    # Given a document read from SSM or a file as bytes
    # When it is parsed
    policy = parse_policy(ONE_RULE.encode("utf-8"))

    # Then it is read like text
    assert [rule.id for rule in policy.rules] == ["marketing"]


def test_defaults_when_fields_are_absent() -> None:
    # Given the smallest valid document
    # When it is parsed
    policy = parse_policy("version: 1")

    # Then it audits, has no rules, no exemptions and no default
    assert policy.mode is Mode.AUDIT
    assert policy.rules == []
    assert policy.exemptions == []
    assert policy.default is None
    assert policy.pools() == set()


def test_match_on_tags_only_with_any_value() -> None:
    # Given a rule matching on a tag with "*" and no names
    text = """
    version: 1
    rules:
      - id: bulk
        match: {tags: {stream: "*"}}
        pool: ses-shared-pool
    """

    # When it is parsed
    policy = parse_policy(text)

    # Then names stay absent and "*" is kept as written
    assert policy.rules[0].match.names is None
    assert policy.rules[0].match.tags == {"stream": "*"}


@pytest.mark.parametrize("pool", [DEFAULT_POOL, SHARED_POOL, "marketing", "Pool_2-b", "x" * 64])
def test_pool_names_accepted(pool: str) -> None:
    # Given a rule assigning a dedicated or special pool
    text = f"version: 1\nrules: [{{id: r, match: {{names: ['*']}}, pool: {pool}}}]"

    # When it is parsed
    policy = parse_policy(text)

    # Then the pool is kept
    assert policy.rules[0].pool == pool


def test_exemption_reason_is_stripped() -> None:
    # Given an exemption whose reason has surrounding blanks
    text = """
    version: 1
    exemptions:
      - {configuration_set: legacy-*, reason: "  OPS-42  ", expires: "2027-01-31"}
    """

    # When it is parsed
    policy = parse_policy(text)

    # Then the reason is kept without them
    assert policy.exemptions[0].reason == "OPS-42"


def test_quoted_and_unquoted_yaml_dates_are_the_same() -> None:
    # Given the same expiry written unquoted (a YAML timestamp) and quoted (a string)
    unquoted = "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: 2027-01-31}]"
    quoted = "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: '2027-01-31'}]"

    # When both are parsed
    # Then both give the same calendar date
    assert parse_policy(unquoted) == parse_policy(quoted)
    assert parse_policy(unquoted).exemptions[0].expires == dt.date(2027, 1, 31)


def test_pools_lists_every_pool_named_once() -> None:
    # Given the docs/policy.md example, and a document where two rules share a pool
    example = parse_policy(REFERENCE_EXAMPLE)
    shared = parse_policy(
        ONE_RULE + "  - id: promotions\n    match: {tags: {stream: promo}}\n    pool: marketing\n"
    )

    # When the pools they name are asked for
    # Then the rules' pools and the default's are listed, once each
    assert example.pools() == {"marketing", "transactional", DEFAULT_POOL}
    assert shared.pools() == {"marketing"}


def test_to_json_round_trips_through_parse_policy() -> None:
    # Given a parsed policy
    policy = parse_policy(REFERENCE_EXAMPLE)

    # When it is serialised as stored in SSM and parsed again
    stored = policy.to_json()
    again = parse_policy(stored)

    # Then nothing is lost, absent optional fields stay absent, dates are ISO
    assert again == policy
    data = json.loads(stored)
    assert "mode" not in data["rules"][0]
    assert "tags" not in data["rules"][1]["match"]
    assert "description" not in data["rules"][1]
    assert data["exemptions"][0]["expires"] == "2027-01-31"
    assert again.to_json() == stored


def test_policy_is_immutable() -> None:
    # Given a parsed policy
    policy = parse_policy(ONE_RULE)

    # When code tries to change it
    # Then it refuses: an enforced policy cannot drift in memory
    with pytest.raises(ValueError, match="frozen"):
        policy.mode = Mode.ENFORCE  # type: ignore[misc]


# --- invalid documents ------------------------------------------------------------------

# Each: a document, and the "field.path: message" fragment its rejection must contain.
INVALID: list[tuple[str, str, str]] = [
    # unknown fields, at every level
    ("unknown top-level field", "version: 1\ncolour: red", "colour: unknown field"),
    (
        "unknown rule field",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, priority: 1}]",
        "rules[0].priority: unknown field",
    ),
    (
        "unknown match field",
        "version: 1\nrules: [{id: a, match: {names: [x], colour: red}, pool: p}]",
        "rules[0].match.colour: unknown field",
    ),
    (
        "unknown default field",
        "version: 1\ndefault: {pool: p, colour: red}",
        "default.colour: unknown field",
    ),
    (
        "unknown exemption field",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: 2027-01-31, "
        "ticket: OPS-42}]",
        "exemptions[0].ticket: unknown field",
    ),
    (
        "misspelt field in JSON",
        '{"version": 1, "rule": []}',
        "rule: unknown field",
    ),
    # version
    ("version missing", "mode: enforce", "version: Field required"),
    ("version 2", "version: 2", "version: Input should be 1"),
    ("version as a string", '{"version": "1"}', "version: Input should be 1"),
    ("version as a boolean", "version: true", "version: Input should be 1"),
    # modes
    ("mode enforcing", "version: 1\nmode: enforcing", "mode: Input should be 'enforce' or 'audit'"),
    (
        "rule mode misspelt",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, mode: dry-run}]",
        "rules[0].mode:",
    ),
    ("default mode misspelt", "version: 1\ndefault: {pool: p, mode: Audit}", "default.mode:"),
    # default
    (
        "default without a pool",
        "version: 1\ndefault: {mode: audit}",
        "default.pool: Field required",
    ),
    ("default pool malformed", "version: 1\ndefault: {pool: 'no spaces'}", "default.pool:"),
    ("default not a mapping", "version: 1\ndefault: marketing", "default:"),
    # rules
    ("rules not a list", "version: 1\nrules: {id: a}", "rules: Input should be a valid list"),
    (
        "duplicate rule ids",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p}, "
        "{id: b, match: {names: [y]}, pool: p}, {id: a, match: {names: [z]}, pool: q}]",
        "rules: duplicate rule id 'a' (rules[0].id and rules[2].id)",
    ),
    ("rule id missing", "version: 1\nrules: [{match: {names: [x]}, pool: p}]", "rules[0].id:"),
    (
        "rule id with a space",
        "version: 1\nrules: [{id: 'my rule', match: {names: [x]}, pool: p}]",
        "rules[0].id:",
    ),
    (
        "rule id starting with a dash",
        "version: 1\nrules: [{id: '-a', match: {names: [x]}, pool: p}]",
        "rules[0].id:",
    ),
    (
        "rule description not text",
        "version: 1\nrules: [{id: a, description: 42, match: {names: [x]}, pool: p}]",
        "rules[0].description:",
    ),
    ("rule without match", "version: 1\nrules: [{id: a, pool: p}]", "rules[0].match: Field"),
    (
        "rule without pool",
        "version: 1\nrules: [{id: a, match: {names: [x]}}]",
        "rules[0].pool: Field required",
    ),
    (
        "pool with a space",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: 'my pool'}]",
        "rules[0].pool:",
    ),
    (
        "pool name too long",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: " + "p" * 65 + "}]",
        "rules[0].pool:",
    ),
    (
        "pool name empty",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: ''}]",
        "rules[0].pool:",
    ),
    (
        "error in the second rule",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p}, "
        "{id: b, match: {names: [y]}, pool: 'p/q'}]",
        "rules[1].pool:",
    ),
    # match
    (
        "match with neither names nor tags",
        "version: 1\nrules: [{id: a, match: {}, pool: p}]",
        "rules[0].match: match needs at least one of 'names', 'tags', 'accounts', "
        "'organizational_units', 'regions', 'tenants'",
    ),
    (
        "match with names and tags both null",
        "version: 1\nrules: [{id: a, match: {names: null, tags: null}, pool: p}]",
        "rules[0].match: match needs",
    ),
    (
        "empty names list",
        "version: 1\nrules: [{id: a, match: {names: []}, pool: p}]",
        "rules[0].match.names:",
    ),
    (
        "empty glob",
        "version: 1\nrules: [{id: a, match: {names: ['mkt-*', '']}, pool: p}]",
        "rules[0].match.names[1]:",
    ),
    (
        "names as a single string",
        "version: 1\nrules: [{id: a, match: {names: 'mkt-*'}, pool: p}]",
        "rules[0].match.names:",
    ),
    (
        "empty tags mapping",
        "version: 1\nrules: [{id: a, match: {tags: {}}, pool: p}]",
        "rules[0].match.tags:",
    ),
    (
        "tag value not text",
        "version: 1\nrules: [{id: a, match: {tags: {tier: 1}}, pool: p}]",
        "rules[0].match.tags.tier:",
    ),
    (
        "tags as a list",
        "version: 1\nrules: [{id: a, match: {tags: [stream]}, pool: p}]",
        "rules[0].match.tags:",
    ),
    # exemptions
    (
        "exemptions not a list",
        "version: 1\nexemptions: {configuration_set: a}",
        "exemptions: Input should be a valid list",
    ),
    (
        "exemption without reason",
        "version: 1\nexemptions: [{configuration_set: a, expires: 2027-01-31}]",
        "exemptions[0].reason: Field required",
    ),
    (
        "exemption with empty reason",
        "version: 1\nexemptions: [{configuration_set: a, reason: '', expires: 2027-01-31}]",
        "exemptions[0].reason:",
    ),
    (
        "exemption with blank reason",
        "version: 1\nexemptions: [{configuration_set: a, reason: '   ', expires: 2027-01-31}]",
        "exemptions[0].reason:",
    ),
    (
        "exemption without expiry",
        "version: 1\nexemptions: [{configuration_set: a, reason: r}]",
        "exemptions[0].expires: Field required",
    ),
    (
        "exemption without set",
        "version: 1\nexemptions: [{reason: r, expires: 2027-01-31}]",
        "exemptions[0]: an exemption names exactly one of 'configuration_set' and 'identity' "
        "(or, instead, 'tenant')",
    ),
    (
        "exemption for a set and an identity at once",
        "version: 1\nexemptions: [{configuration_set: a, identity: b, reason: r, "
        "expires: 2027-01-31}]",
        "exemptions[0]: an exemption names exactly one of 'configuration_set' and 'identity' "
        "(or, instead, 'tenant')",
    ),
    (
        "identity rule with no requirement",
        "version: 1\nidentities: [{id: n, match: {identities: [a.example.com]}}]",
        "identities[0]: an identity rule needs exactly one of 'configuration_set' and "
        "'default_configuration_set: required'",
    ),
    (
        "identity rule with both requirements",
        "version: 1\nidentities: [{id: n, match: {identities: [a.example.com]}, "
        "configuration_set: x, default_configuration_set: required}]",
        "identities[0]: an identity rule needs exactly one",
    ),
    # pool health, shared pool delivery mode, tenants
    (
        "pool health of the shared pool",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: ses-shared-pool, "
        "pool_health: {min_ips: 1}}]",
        "rules[0]: pool_health applies to a dedicated pool of the account, not ses-shared-pool",
    ),
    (
        "pool health of the default pool",
        "version: 1\ndefault: {pool: ses-default-dedicated-pool, pool_health: {min_ips: 1}}",
        "default: pool_health applies to a dedicated pool of the account, not "
        "ses-default-dedicated-pool",
    ),
    (
        "empty pool health",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, pool_health: {}}]",
        "rules[0].pool_health: pool_health needs at least one of 'scaling_mode', 'min_ips', "
        "'min_warmup_percent'",
    ),
    (
        "warm-up above 100",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, "
        "pool_health: {min_warmup_percent: 101}}]",
        "rules[0].pool_health.min_warmup_percent: Input should be less than or equal to 100",
    ),
    (
        "no IPs asked for",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, pool_health: {min_ips: 0}}]",
        "rules[0].pool_health.min_ips: Input should be greater than or equal to 1",
    ),
    (
        "scaling mode in lower case",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, "
        "pool_health: {scaling_mode: managed}}]",
        "rules[0].pool_health.scaling_mode: Input should be 'STANDARD' or 'MANAGED'",
    ),
    (
        "shared pool delivery mode for a dedicated pool",
        "version: 1\ndefault: {pool: p, shared_pool_delivery_mode: REGIONAL}",
        "default: shared_pool_delivery_mode needs pool ses-shared-pool (this one sends to p)",
    ),
    (
        "unknown shared pool delivery mode",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: ses-shared-pool, "
        "shared_pool_delivery_mode: LOCAL}]",
        "rules[0].shared_pool_delivery_mode: Input should be 'GLOBAL', 'REGIONAL' or 'ACCOUNT'",
    ),
    (
        "empty tenant list",
        "version: 1\nrules: [{id: a, match: {tenants: []}, pool: p}]",
        "rules[0].match.tenants: List should have at least 1 item",
    ),
    (
        "exemption for a set and a tenant at once",
        "version: 1\nexemptions: [{configuration_set: a, tenant: b, reason: r, "
        "expires: 2027-01-31}]",
        "exemptions[0]: an exemption names exactly one of",
    ),
    (
        "disabled tenants neither report nor enforce",
        "version: 1\nrules: [{id: a, match: {names: [x]}, pool: p, disabled_tenants: skip}]",
        "rules[0].disabled_tenants: Input should be 'report' or 'enforce'",
    ),
    (
        "identity rule that matches nothing",
        "version: 1\nidentities: [{id: n, match: {}, configuration_set: x}]",
        "identities[0].match: match needs at least one of 'identities', 'tags', "
        "'accounts', 'organizational_units', 'regions', 'tenants'",
    ),
    (
        "identity requirement other than required",
        "version: 1\nidentities: [{id: n, match: {tags: {a: b}}, "
        "default_configuration_set: optional}]",
        "identities[0].default_configuration_set: Input should be 'required'",
    ),
    (
        "rule id used by a set rule and an identity rule",
        "version: 1\nrules: [{id: n, match: {names: [x]}, pool: p}]\n"
        "identities: [{id: n, match: {tags: {a: b}}, configuration_set: x}]",
        "identities: duplicate rule id 'n' (rules[0].id and identities[0].id)",
    ),
    (
        "exemption with empty set glob",
        "version: 1\nexemptions: [{configuration_set: '', reason: r, expires: 2027-01-31}]",
        "exemptions[0].configuration_set:",
    ),
    (
        "expiry on 30 February (YAML)",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: 2027-02-30}]",
        "exemptions[0].expires:",
    ),
    (
        "expiry on 30 February (JSON)",
        '{"version": 1, "exemptions": [{"configuration_set": "a", "reason": "r", '
        '"expires": "2027-02-30"}]}',
        "exemptions[0].expires:",
    ),
    (
        "expiry tomorrow",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: tomorrow}]",
        "exemptions[0].expires:",
    ),
    (
        "expiry as a number",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: 20270131}]",
        "exemptions[0].expires: expected a date written YYYY-MM-DD",
    ),
    (
        "expiry as a digit string",
        '{"version": 1, "exemptions": [{"configuration_set": "a", "reason": "r", '
        '"expires": "20270131"}]}',
        "exemptions[0].expires: expected a date written YYYY-MM-DD",
    ),
    (
        "expiry as a timestamp (YAML)",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, "
        "expires: 2027-01-31T00:00:00Z}]",
        "exemptions[0].expires: expected a date written YYYY-MM-DD",
    ),
    (
        "expiry as a timestamp (JSON)",
        '{"version": 1, "exemptions": [{"configuration_set": "a", "reason": "r", '
        '"expires": "2027-01-31T00:00:00Z"}]}',
        "exemptions[0].expires: expected a date written YYYY-MM-DD",
    ),
    (
        "expiry in day/month/year order",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: 31/01/2027}]",
        "exemptions[0].expires:",
    ),
    (
        "error in the second exemption",
        "version: 1\nexemptions: [{configuration_set: a, reason: r, expires: 2027-01-31}, "
        "{configuration_set: b, reason: r, expires: 2027-13-01}]",
        "exemptions[1].expires:",
    ),
]


def test_the_invalid_table_is_large_enough() -> None:
    # Given the table below; the issue asks for at least 20 invalid documents
    # Then it holds them, each under its own name
    assert len(INVALID) >= 25
    assert len({name for name, _, _ in INVALID}) == len(INVALID)


@pytest.mark.parametrize(
    ("text", "expected"), [(text, expected) for _, text, expected in INVALID],
    ids=[name for name, _, _ in INVALID],
)  # fmt: skip
def test_invalid_document_is_rejected_naming_the_field(text: str, expected: str) -> None:
    # Given an invalid policy document
    # When it is parsed
    error = _errors_of(text)

    # Then it is rejected, and both the message and one error line name the field
    assert expected in str(error)
    assert any(line.startswith(expected.split(":")[0] + ":") for line in error.errors)
    assert any(expected in line for line in error.errors)


def test_every_problem_is_reported_at_once() -> None:
    # Given a document with three independent mistakes
    text = """
    version: 1
    mode: enforcing
    rules:
      - {id: a, match: {names: [x]}, pool: 'bad pool'}
    exemptions:
      - {configuration_set: a, reason: '', expires: 2027-01-31}
    """

    # When it is parsed
    error = _errors_of(text)

    # Then each mistake has its own line, naming its field
    assert [line.split(":")[0] for line in error.errors] == [
        "mode",
        "rules[0].pool",
        "exemptions[0].reason",
    ]
    assert str(error).startswith("invalid policy: ")


def test_policy_error_is_a_value_error() -> None:
    # Given callers that catch ValueError
    # When an invalid document is parsed
    # Then they catch PolicyError too
    with pytest.raises(ValueError, match="invalid policy"):
        parse_policy("version: 2")


@pytest.mark.parametrize(
    "text",
    ["", "   \n", "null", "[1, 2]", "- version: 1", "42", '"version: 1"', "just some words"],
    ids=["empty", "blank", "null", "json list", "yaml list", "number", "json string", "words"],
)
def test_document_that_is_not_a_mapping(text: str) -> None:
    # Given a document that parses but is no mapping
    # When it is parsed
    error = _errors_of(text)

    # Then it is rejected as such
    assert "policy must be a mapping" in str(error)
    assert error.errors == [str(error)]


@pytest.mark.parametrize(
    "text",
    [
        "version: [1",
        "version: 1\n  rules: - a\n: :",
        '{"version": 1,',
        "version: 1\nmode: !!int abc",
        "\tversion: 1",
        b"version: \xc3\x28",
    ],
    ids=["unclosed flow", "bad indentation", "truncated json", "bad yaml tag", "tab", "not utf-8"],
)
def test_text_that_is_neither_json_nor_yaml(text: str | bytes) -> None:
    # Given text that no YAML parser accepts
    # When it is parsed
    error = _errors_of(text)

    # Then it is rejected with a PolicyError, never a parser's own exception
    assert str(error).startswith("policy is neither JSON nor YAML")


def test_python_objects_are_not_constructed_from_yaml() -> None:
    # Given YAML asking for a Python object
    text = "version: 1\nmode: !!python/object/apply:os.system ['true']"

    # When it is parsed
    # Then the tag is refused as unreadable YAML
    assert str(_errors_of(text)).startswith("policy is neither JSON nor YAML")


# --- properties -------------------------------------------------------------------------

_GLOBS = st.sampled_from(["*", "mkt-*", "tx-?", "newsletter", "[ab]*", "legacy-*"])
_POOLS = st.sampled_from(["marketing", "transactional", DEFAULT_POOL, SHARED_POOL])
_MODES = st.none() | st.sampled_from(["enforce", "audit"])
_TAGS = st.dictionaries(
    st.sampled_from(["stream", "team", "env"]),
    st.sampled_from(["*", "marketing", "bulk", "prod"]),
    min_size=1,
)


@st.composite
def _target_extras(draw: st.DrawFn, pool: str) -> dict[str, Any]:
    """The fields a rule or the default may ask of its pool, where that pool allows them."""
    extras: dict[str, Any] = {}
    if pool not in (DEFAULT_POOL, SHARED_POOL) and draw(st.booleans()):
        health = {
            "scaling_mode": draw(st.sampled_from(["STANDARD", "MANAGED"])),
            "min_ips": draw(st.integers(1, 8)),
            "min_warmup_percent": draw(st.integers(0, 100)),
        }
        keys = draw(st.sets(st.sampled_from(sorted(health)), min_size=1))
        extras["pool_health"] = {key: health[key] for key in keys}
    if pool == SHARED_POOL and draw(st.booleans()):
        extras["shared_pool_delivery_mode"] = draw(st.sampled_from(["GLOBAL", "REGIONAL"]))
    if draw(st.booleans()):
        extras["disabled_tenants"] = draw(st.sampled_from(["report", "enforce"]))
    return extras


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    rules = []
    for index in range(draw(st.integers(0, 4))):
        match: dict[str, Any] = {}
        if draw(st.booleans()):
            match["names"] = draw(st.lists(_GLOBS, min_size=1, max_size=3))
        if not match or draw(st.booleans()):
            match["tags"] = draw(_TAGS)
        if draw(st.booleans()):
            match["tenants"] = draw(st.lists(_GLOBS, min_size=1, max_size=2))
        rule: dict[str, Any] = {"id": f"rule-{index}", "match": match, "pool": draw(_POOLS)}
        if (mode := draw(_MODES)) is not None:
            rule["mode"] = mode
        rule.update(draw(_target_extras(rule["pool"])))
        rules.append(rule)
    document: dict[str, Any] = {"version": 1, "rules": rules}
    if (mode := draw(_MODES)) is not None:
        document["mode"] = mode
    if draw(st.booleans()):
        pool = draw(_POOLS)
        document["default"] = {"pool": pool, **draw(_target_extras(pool))}
    document["exemptions"] = [
        {target: glob, "reason": "OPS-1", "expires": day.isoformat()}
        for target, glob, day in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["configuration_set", "tenant"]),
                    _GLOBS,
                    st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)),
                )
            )
        )
    ]
    return document


@given(policy_documents())
def test_any_valid_document_round_trips(document: dict[str, Any]) -> None:
    # Given any valid document, written as JSON
    policy = parse_policy(json.dumps(document))

    # When it is stored as canonical JSON and read back
    again = parse_policy(policy.to_json())

    # Then it is the same policy, and its pools are those its rules and default name
    assert again == policy
    assert isinstance(again, Policy)
    expected = {rule["pool"] for rule in document["rules"]}
    if "default" in document:
        expected.add(document["default"]["pool"])
    assert policy.pools() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nmode: enforce\nmode: audit\n", "duplicate key 'mode' on line 3"),
        ('{"version": 1, "mode": "enforce", "mode": "audit"}', "duplicate key 'mode'"),
        (
            "version: 1\nrules:\n  - id: a\n    match: {names: [x], names: [y]}\n    pool: p\n",
            "duplicate key 'names' on line 4",
        ),
    ],
    ids=["yaml", "json", "nested-flow-mapping"],
)
def test_a_key_written_twice_is_refused_not_resolved_to_the_last(text: str, message: str) -> None:
    # Given a document that says the same thing twice, differently
    # When it is parsed
    with pytest.raises(PolicyError) as raised:
        parse_policy(text)

    # Then it is refused, naming the key, rather than silently keeping the last value
    assert message in str(raised.value)


def test_the_example_in_docs_policy_md_is_the_one_tested_here() -> None:
    # Given the YAML example of the reference, docs/policy.md
    text = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]

    # Then it is a valid document, the same as the one these tests read
    assert parse_policy(example) == parse_policy(REFERENCE_EXAMPLE)
