"""Dead letters: invalid input, kept with its reason on ``hub.dlq`` for replay after a fix.

A dead letter never carries identifying data: rows rejected by a connector are described by
agency, file and row number only; messages rejected by a worker keep their (pseudonymised)
bytes so they can be replayed.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

DLQ_TOPIC = "hub.dlq"


def connector_dead_letter(
    agency: str, file: str, row: int, reasons: list[str], at: datetime | None = None
) -> bytes:
    return _encode({
        "stage": "connector",
        "agency": agency,
        "file": file,
        "row": row,
        "reasons": reasons,
        "at": (at or datetime.now(UTC)).isoformat(),
    })


def worker_dead_letter(
    stage: str, topic: str, partition: int, offset: int, value: bytes | None,
    reasons: list[str], at: datetime | None = None, key: bytes | None = None,
) -> bytes:
    return _encode({
        "key_base64": base64.b64encode(key).decode("ascii") if key else None,
        "stage": stage,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "reasons": reasons,
        "at": (at or datetime.now(UTC)).isoformat(),
        "value_base64": base64.b64encode(value or b"").decode("ascii"),
    })


def _encode(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")


def decode_dead_letter(data: bytes) -> dict:
    return json.loads(data.decode("utf-8"))
