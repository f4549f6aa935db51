"""Dead letters: invalid input, kept with its reason on ``hub.dlq`` for replay after a fix.

A dead letter never carries identifying data: rows rejected by a connector are described by
agency, file and row number only; messages rejected by a worker keep their (pseudonymised)
bytes so they can be replayed.

Only the hub writes ``hub.dlq``. An agency's own processes (``hub ingest``, ``hub deliver``)
send their dead letters to the agency's outbox, marked by the header ``hub-dead-letter``;
the router moves them to ``hub.dlq`` and records which outbox they came from. An agency
therefore needs no right on ``hub.dlq``, and cannot put a dead letter there that claims
another agency's topic (``hub dlq replay`` sends a dead letter's bytes back to the topic it
names).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from hub.core.headers import header_texts
from hub.core.topics import DLQ_TOPIC as DLQ_TOPIC  # named in hub.core.topics


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


DEAD_LETTER_HEADER = "hub-dead-letter"
"""Header of a dead letter on an agency's outbox; its value is the stage that wrote it."""


def outbox_headers(stage: str) -> list[tuple[str, bytes]]:
    """The headers of a dead letter an agency's process sends to its outbox."""
    return [(DEAD_LETTER_HEADER, stage.encode())]


def relayed_stage(headers) -> str | None:
    """The stage of a dead letter found on an outbox (None: the message is an event)."""
    texts = header_texts(headers)
    if DEAD_LETTER_HEADER not in texts:
        return None
    return texts[DEAD_LETTER_HEADER] or "unknown"


def relayed_dead_letter(value: bytes | None, outbox: str, agency: str) -> bytes:
    """A dead letter from ``outbox``, as the router writes it to ``hub.dlq``: what its
    sender said, and the agency and outbox it really came from (``agency`` and ``topic``
    claims in it are kept as ``claimed_*`` when they differ)."""
    try:
        record = decode_dead_letter(value or b"")
        if not isinstance(record, dict):
            raise ValueError
    except ValueError:
        record = {"stage": "unknown", "reasons": ["a dead letter the router cannot read"],
                  "value_base64": base64.b64encode(value or b"").decode("ascii")}
    for field, truth in (("agency", agency), ("relayed_from", outbox)):
        if record.get(field) not in (None, truth):
            record[f"claimed_{field}"] = record[field]
        record[field] = truth
    if record.get("stage") == "router":  # only the hub's own dead letters can be replayed
        record["claimed_stage"], record["stage"] = "router", "unknown"
    return _encode(record)
