"""Erasure in the facts: take an erased child's pseudonym out of ``hub.facts`` (pure, no
Kafka).

When the router erases a child it writes an erasure marker (see
:func:`hub.analytics.facts.erasure_marker`) to ``hub.facts``, after every fact of the child
it wrote before. The facts written before the marker belong to the erased history; facts of
the same pseudonym written after it belong to a new history (a new consent) and stay as
they are. :func:`erasure_records` gives the records the analytics agent writes to carry
the marker out: every fact of the erased history again, with a random token instead of the
pseudonym and a new id (so a new key), then a tombstone for its old key; and last a
tombstone for the marker, the only record that links the token to the pseudonym. A record
of the erased history that holds the pseudonym but is no fact the aggregator counts (it
fails :func:`~hub.analytics.facts.decode_fact`) gets a tombstone only: no cell counts it.

The token stands for the child in every rewritten fact, so the distinct children counted in
every cell stay the same and no published cell changes. The new ids are ``uuid5`` of the
token and the old id: the same marker gives the same records, so a run that stopped halfway
and a second run write nothing different.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import replace

from hub.analytics.facts import (
    ErasureMarker,
    EventFact,
    HandoverFact,
    decode_fact,
    encode_fact,
    fact_key,
)

__all__ = ["ErasureError", "erasure_records", "parse_marker", "redact"]

TOKEN = re.compile(r"[0-9a-f]{32}")

Record = tuple[int, bytes | None, bytes | None]
"""A record of ``hub.facts``: (offset, key, value); value None is a tombstone."""


class ErasureError(ValueError):
    """A marker that cannot be carried out. The message never holds the pseudonym."""


def parse_marker(value: bytes | None) -> ErasureMarker:
    """The erasure marker in ``value``, checked; :class:`ErasureError` when it is none."""
    marker = decode_fact(value)
    if not isinstance(marker, ErasureMarker):
        raise ErasureError("not an erasure marker")
    if not marker.id:
        raise ErasureError("erasure marker without an id")
    if not marker.subject:
        raise ErasureError(f"erasure marker {marker.id}: no pseudonym")
    if not TOKEN.fullmatch(marker.token) or marker.token == marker.subject:
        raise ErasureError(f"erasure marker {marker.id}: the token is not 32 hex digits")
    return marker


def erasure_records(marker_offset: int, marker_value: bytes,
                    records: Iterable[Record]) -> list[tuple[bytes, bytes | None]]:
    """The records (key, value) to write to ``hub.facts`` to carry out the marker at
    ``marker_offset``, given the topic's records in offset order (the marker among them or
    not).

    A key is rewritten when its latest record before the marker is a fact of the marker's
    pseudonym (``subject``) and it has no record after the marker (one there is a new
    history, or this erasure already done for the key). A fact that comes before an earlier
    marker of the same pseudonym belongs to that erasure, not to this one. For every such
    key, in topic order: the fact with ``subject`` = token and ``id`` =
    ``uuid5(UUID(token), old id)`` under ``<kind>|<new id>``, then a tombstone for the old
    key (only the tombstone when the record holds the pseudonym but is no fact); last a
    tombstone for the marker.

    Only values that contain the pseudonym's bytes are decoded."""
    marker = parse_marker(marker_value)
    needle = marker.subject.encode()
    # key -> (offset, fact of the child; None: no fact but holds the pseudonym), latest
    held: dict[bytes, tuple[int, EventFact | HandoverFact | None]] = {}
    for offset, key, value in records:
        key = key or b""
        if offset > marker_offset:
            held.pop(key, None)  # written after the marker: not this erasure's
            continue
        if offset == marker_offset:
            continue
        if value is not None and needle in value:
            fact = decode_fact(value)
            if fact is None:
                held[key] = (offset, None)
                continue
            if fact.subject == marker.subject:
                if isinstance(fact, ErasureMarker):
                    held.clear()  # an earlier erasure of the pseudonym: all before is its
                    continue
                held[key] = (offset, fact)
                continue
        held.pop(key, None)  # a tombstone, or another child's fact, replaced it
    out: list[tuple[bytes, bytes | None]] = []
    for key, (_, fact) in sorted(held.items(), key=lambda item: item[1][0]):
        if fact is not None:
            new_id = str(uuid.uuid5(uuid.UUID(marker.token), fact.id))
            rewritten = replace(fact, id=new_id, subject=marker.token)
            value = encode_fact(rewritten)
            if needle in value:
                raise ErasureError(f"erasure marker {marker.id}: a fact of kind "
                                   f"{fact.kind!r} holds the pseudonym in another field "
                                   "than its subject")
            out.append((fact_key(rewritten), value))
        out.append((key, None))
    out.append((marker.key, None))
    return out


def redact(text: str, marker_value: bytes | None) -> str:
    """``text`` (an error message, for the log) without the marker's pseudonym. The
    marker is read as plain JSON, not decoded as a marker: one broken in another field
    still names the pseudonym."""
    try:
        subject = json.loads(marker_value).get("subject")
    except (ValueError, TypeError, AttributeError):
        subject = None
    if isinstance(subject, str) and subject:
        text = text.replace(subject, "<pseudonym>")
    return text
