"""Invoke a function's handler once, in this process, on an event read from stdin, and
print its answer: a Lambda process of its own for tests that must kill it mid-work.

Usage: ``python -m local_aws.invoke on_event < event.json``, with the function's
environment (and ``AWS_ENDPOINT_URL`` naming the local AWS server) set by the caller.
"""

from __future__ import annotations

import importlib
import json
import sys

from local_aws.replay import LambdaContext


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m local_aws.invoke FUNCTION < event.json")
    app = importlib.import_module(f"functions.{args[0]}.app")
    event = json.load(sys.stdin)
    result = app.handler(event, LambdaContext(remaining_ms=60_000))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
