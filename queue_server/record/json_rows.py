"""A batch written as one JSON document of rows, each unpacked by PostgreSQL (``FROM
jsonb_array_elements($1::jsonb) AS e``, a row's columns ``e->>0``, ``e->>1``...): an array parameter a
column (``unnest``) cost the writing process 3-4 µs a row to encode, one document dumped by orjson
0.5, and PostgreSQL took less too. For the batches written all day (the record, the audit log, the
evaluation's served tickets and prompts)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

ROWS = "jsonb_array_elements($1::jsonb) AS e"


def rows(batch: Iterable[Sequence[Any]]) -> str:
    """The batch as the JSON document; what orjson does not know (asyncpg's UUID) as its text, bytes
    (a sealed phone) as hex for ``decode(e->>i, 'hex')``."""
    return orjson.dumps(list(batch), default=_text).decode()


def _text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def at(i: int) -> str:
    """Column ``i``, epoch milliseconds however written (or null, or ""), as a timestamptz: exact,
    to_timestamp rounding to the microsecond."""
    return f"to_timestamp(NULLIF(e->>{i}, '')::float8 / 1000)"
