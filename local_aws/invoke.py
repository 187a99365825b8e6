"""Invoke a function's handler once, in this process, on an event read from stdin, and
print its answer: a Lambda process of its own for tests that must kill it mid-work.

Usage: ``python -m local_aws.invoke on_event [REMAINING_MS] < event.json``, with the
function's environment (and ``AWS_ENDPOINT_URL`` naming the local AWS server) set by the
caller; ``REMAINING_MS`` is the time the context says is left (60 s unless given: a sweep
step keeps a minute's margin, so it needs more).
"""

from __future__ import annotations

import importlib
import json
import sys

from local_aws.replay import LambdaContext


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        raise SystemExit("usage: python -m local_aws.invoke FUNCTION [REMAINING_MS] < event.json")
    remaining_ms = int(args[1]) if len(args) == 2 else 60_000
    app = importlib.import_module(f"functions.{args[0]}.app")
    event = json.load(sys.stdin)
    result = app.handler(event, LambdaContext(remaining_ms=remaining_ms))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
