"""Generate the JSON Schema of the policy document from the pydantic model.

    python scripts/generate_schema.py            # print it
    python scripts/generate_schema.py --write    # rewrite schema/policy.schema.json
    python scripts/generate_schema.py --check    # exit 1 if the committed file is stale

``make schema`` runs it with ``--write``; tests/unit/test_schema.py fails when the
committed file differs from what the model generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ses_pool_enforcer.policy import policy_json_schema

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "policy.schema.json"


def render() -> str:
    """The schema exactly as it is committed: sorted keys, two-space indent, final newline."""
    return json.dumps(policy_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite schema/policy.schema.json")
    action.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--path", type=Path, default=SCHEMA_PATH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    text = render()
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}", file=sys.stderr)
        return 0
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else None
        if current != text:
            print(f"{args.path} is stale: run `make schema`", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
