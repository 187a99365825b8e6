"""AWS Config: deliver a custom rule's evaluations (``PutEvaluations``, in batches)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.compliance.config_rule import Evaluation, batches


class ConfigEvaluations:
    def __init__(self) -> None:
        self._config = client("config")

    def put(self, result_token: str, evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
        """Send every evaluation for the invocation that issued ``result_token``, at most
        100 a call; returns those Config did not accept."""
        failed: list[dict[str, Any]] = []
        for batch in batches(evaluations):
            answer = self._config.put_evaluations(
                Evaluations=[evaluation.to_api() for evaluation in batch],
                ResultToken=result_token,
            )
            failed.extend(answer.get("FailedEvaluations", []))
        return failed
