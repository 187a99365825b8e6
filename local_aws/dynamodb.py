"""DynamoDB transactions at the cost AWS charges: moto's ``TransactWriteItems`` deep-copies
every table it touches before it starts (to roll back a cancelled transaction), so each
transaction costs time in proportion to the table's size: seconds a call once an
inventory holds tens of thousands of sets, where DynamoDB's cost does not grow. What
:func:`install` changes: the backup is the items the transaction names, taken before it
runs and put back if it is cancelled (requests are served one at a time, by
``local_aws.faults``, so nothing else writes meanwhile). Outcomes are moto's own.

This module is for tests, benchmarks and the local demo endpoint only.
"""

from __future__ import annotations

import copy
import threading
import types
from typing import Any

_lock = threading.Lock()
_installed = False


def _key_of(table: Any, op: dict[str, Any]) -> dict[str, Any] | None:
    if "Key" in op:
        return dict(op["Key"])
    item = op.get("Item") or {}
    names = [table.hash_key_attr, table.range_key_attr]
    if any(name is not None and name not in item for name in names):
        return None  # moto's own validation answers it
    return {name: item[name] for name in names if name is not None}


def install() -> None:
    """Patch moto's DynamoDB backend in this process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.dynamodb import models
        from moto.dynamodb.models.table import Table

        transact = models.DynamoDBBackend.transact_write_items

        def deepcopy(value: Any, memo: Any = None) -> Any:
            # A table is kept as it is: the items the transaction names are its backup.
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

        models.copy = types.SimpleNamespace(**{**vars(copy), "deepcopy": deepcopy})  # type: ignore[assignment,attr-defined]

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            for entry in transact_items[:100]:
                op = next(iter(entry.values()), None) or {}
                table = self.tables.get(op.get("TableName"))
                key = _key_of(table, op) if table is not None else None
                if key is None:
                    continue
                try:
                    current = self.get_item(op["TableName"], key)
                except Exception:  # noqa: S112 - a bad key: moto's own call answers it
                    continue
                attributes = current.to_json()["Attributes"] if current is not None else None
                saved.append((op["TableName"], key, copy.deepcopy(attributes)))
            try:
                transact(self, transact_items)
            except Exception:
                for table_name, key, attributes in reversed(saved):
                    if attributes is None:
                        self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise

        models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _installed = True
