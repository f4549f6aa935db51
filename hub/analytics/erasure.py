"""Erasure in the facts: take an erased child's pseudonym out of ``hub.facts`` (pure, no
Kafka).

When the router erases a child it writes an erasure marker (see
:func:`hub.analytics.facts.erasure_marker`) to ``hub.facts``, after every fact of the child
it wrote before. The facts written before the marker belong to the erased history; facts of
the same pseudonym written after it belong to a new history (a new consent) and stay as
they are. :func:`erasure_records` gives the records the analytics agent writes to carry
the marker out: every fact of the erased history again, with a random token instead of the
pseudonym and a new id (so a new key), then a tombstone for its old key; and last a
tombstone for the marker, the only record that links the token to the pseudonym.

The token stands for the child in every rewritten fact, so the distinct children counted in
every cell stay the same and no published cell changes. The new ids are ``uuid5`` of the
token and the old id: the same marker gives the same records, so a run that stopped halfway
and a second run write nothing different.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from hub.analytics.facts import ERASURE, decode_fact, encode_fact, fact_key

__all__ = ["ErasureError", "Marker", "erasure_records", "parse_marker", "redact"]

TOKEN = re.compile(r"[0-9a-f]{32}")

Record = tuple[int, bytes | None, bytes | None]
"""A record of ``hub.facts``: (offset, key, value); value None is a tombstone."""


class ErasureError(ValueError):
    """A marker that cannot be carried out. The message never holds the pseudonym."""


@dataclass(frozen=True)
class Marker:
    id: str
    subject: str
    token: str

    @property
    def key(self) -> bytes:
        return f"{ERASURE}|{self.id}".encode()

    def __repr__(self) -> str:  # never the pseudonym, nor the token that replaces it
        return f"Marker(id={self.id!r})"


def parse_marker(value: bytes | None) -> Marker:
    """The erasure marker in ``value``; :class:`ErasureError` when it is none."""
    marker = decode_fact(value)
    if marker is None or marker.get("kind") != ERASURE:
        raise ErasureError("not an erasure marker")
    erasure_id, subject, token = marker.get("id"), marker.get("subject"), marker.get("token")
    if not isinstance(erasure_id, str) or not erasure_id:
        raise ErasureError("erasure marker without an id")
    if not isinstance(subject, str) or not subject:
        raise ErasureError(f"erasure marker {erasure_id}: no pseudonym")
    if not isinstance(token, str) or not TOKEN.fullmatch(token) or token == subject:
        raise ErasureError(f"erasure marker {erasure_id}: the token is not 32 hex digits")
    return Marker(erasure_id, subject, token)


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
    key; last a tombstone for the marker.

    Only values that contain the pseudonym's bytes are decoded."""
    marker = parse_marker(marker_value)
    needle = marker.subject.encode()
    held: dict[bytes, tuple[int, dict]] = {}  # key -> (offset, fact of the child), latest
    for offset, key, value in records:
        key = key or b""
        if offset > marker_offset:
            held.pop(key, None)  # written after the marker: not this erasure's
            continue
        if offset == marker_offset:
            continue
        if value is not None and needle in value:
            fact = decode_fact(value)
            if fact is not None and fact.get("subject") == marker.subject:
                if fact.get("kind") == ERASURE:
                    held.clear()  # an earlier erasure of the pseudonym: all before is its
                    continue
                held[key] = (offset, fact)
                continue
        held.pop(key, None)  # a tombstone, or another child's fact, replaced it
    out: list[tuple[bytes, bytes | None]] = []
    for key, (_, fact) in sorted(held.items(), key=lambda item: item[1][0]):
        key_kind, _, key_id = key.decode(errors="replace").partition("|")
        kind = fact.get("kind") if isinstance(fact.get("kind"), str) else key_kind
        old_id = fact.get("id") if isinstance(fact.get("id"), str) else key_id
        new_id = str(uuid.uuid5(uuid.UUID(marker.token), old_id))
        rewritten = {**fact, "kind": kind, "id": new_id, "subject": marker.token}
        value = encode_fact(rewritten)
        if needle in value:
            raise ErasureError(f"erasure marker {marker.id}: a fact of kind {kind!r} holds "
                               "the pseudonym in another field than its subject")
        out.append((fact_key(rewritten), value))
        out.append((key, None))
    out.append((marker.key, None))
    return out


def redact(text: str, marker_value: bytes | None) -> str:
    """``text`` (an error message, for the log) without the marker's pseudonym."""
    fact = decode_fact(marker_value)
    subject = fact.get("subject") if fact is not None else None
    if isinstance(subject, str) and subject:
        text = text.replace(subject, "<pseudonym>")
    return text
