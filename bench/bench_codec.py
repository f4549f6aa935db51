"""Benchmark the event codec against plain JSON, measured in the same run.

Encodes and decodes N envelopes (a mix of all event types) with the hub's Avro codec, which
includes building and validating the pydantic models, and compares it with a baseline of
``json.dumps``/``json.loads`` of the same events as ``envelope_to_json`` dicts (no validation).

    python bench/bench_codec.py [--n N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.contract.codec import envelope_to_json, get_codec  # noqa: E402
from hub.contract.models import Envelope  # noqa: E402
from hub.contract.vocabulary import EventType  # noqa: E402


def make_payload(event_type: EventType) -> dict[str, object]:
    """A typical payload for ``event_type``."""
    family = event_type.value.split(".")[0]
    if family == "consent":
        payload: dict[str, object] = {
            "consent_id": "EV-2025-0042",
            "recipients": ["gesundheitsamt-unna"],
            "valid_from": date(2025, 3, 1),
            "recorded_at": datetime(2025, 3, 3, 8, 0, tzinfo=UTC),
        }
        if event_type is EventType.CONSENT_REVOKED:
            payload["effective_at"] = datetime(2025, 3, 4, tzinfo=UTC)
        return payload
    if family == "offer":
        return {"offer_category": "Familienhebamme"}
    if event_type is EventType.HANDOVER_STALLED:
        return {
            "handover_id": "UE-7781",
            "requested_by": "jugendamt-kamen",
            "waiting_for": "answer",
            "deadline": datetime(2025, 3, 17, tzinfo=UTC),
        }
    if family == "handover":
        return {"handover_id": "UE-7781"}
    return {"screening_kind": "schuleingangsuntersuchung", "support_category": "ohne_befund"}


def make_envelopes(count: int) -> list[Envelope]:
    """``count`` valid envelopes cycling through all event types."""
    event_types = list(EventType)
    return [
        Envelope(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{index}")),
            type=event_types[index % len(event_types)],
            source="jugendamt-kamen",
            time=datetime(2025, 3, 3, tzinfo=UTC) + timedelta(seconds=index),
            subject=f"{index:064x}",
            key_id="pseudo-2025-01",
            municipality="kamen",
            life_phase="kita",
            purpose="fruehe_hilfen",
            correlation_id="UE-7781",
            payload=make_payload(event_types[index % len(event_types)]),
        )
        for index in range(count)
    ]


def ops_per_second(round_trip: Callable[[object], object], items: list) -> float:
    """Round trips per second of ``round_trip`` over ``items``."""
    start = time.perf_counter()
    for item in items:
        round_trip(item)
    return len(items) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="envelopes per measurement")
    count = parser.parse_args(argv).n

    codec = get_codec()
    envelopes = make_envelopes(count)
    json_dicts = [envelope_to_json(envelope) for envelope in envelopes]
    avro_bytes = sum(len(codec.encode(envelope)) for envelope in envelopes) / count
    json_bytes = sum(len(json.dumps(event).encode()) for event in json_dicts) / count

    avro_rate = ops_per_second(lambda envelope: codec.decode(codec.encode(envelope)), envelopes)
    json_rate = ops_per_second(lambda event: json.loads(json.dumps(event)), json_dicts)

    print(f"{count} envelopes, encode + decode per operation")
    print(f"avro codec (with validation): {avro_rate:>10,.0f} ops/s  {avro_bytes:6.0f} bytes/event")
    print(f"json baseline (dicts only):   {json_rate:>10,.0f} ops/s  {json_bytes:6.0f} bytes/event")
    print(f"ratio avro/json: {avro_rate / json_rate:.2f}")


if __name__ == "__main__":
    main()
