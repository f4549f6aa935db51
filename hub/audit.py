"""Audit records: every routing decision, so that a family can be shown who received what.

Records are JSON on ``hub.audit`` (append-only, kept ``HUB_AUDIT_RETENTION_DAYS``), keyed
by the subject pseudonym. Fields: ``audit_id`` (deterministic: the same decision twice
has the same id), ``event_id``, ``type``, ``subject``, ``sender``, ``recipient``,
``decision`` (an :class:`~hub.core.reasons.AuditDecision`: delivered, refused, held,
duplicate, not_routed; anomaly for a handover step that does not fit its handover; erased
for an erasure and the held events it dropped, :mod:`hub.routing.erasure`; linkage for
which child a pseudonym stands for, :func:`linkage_audit_record`), ``reason``
(the human text, English; may be reworded), ``consent_id``, ``event_time``,
``event_time_precision`` (the event's ``time_precision``: ``date`` when only the day of
``event_time`` is known; absent in records written before it existed) and ``time`` (when
the hub decided, by the hub's clock); an erasure's record and a trust office linkage
decision's also ``requested_by`` (the operator's login).

Since audit format 2 (``audit_version``, see "Audit records" in ``schemas/README.md``) the
reason is typed as well: ``reason_kind`` (a :class:`~hub.core.reasons.ReasonKind` for
refused and held, a :class:`~hub.core.reasons.NoteKind` for any other decision with a
reason, null for a plain delivery) and ``reason_params`` (what the text names, by name,
e.g. ``{"consent_id": "EW-1", "revoked_on": "2026-10-01"}``). Readers use those and keep
``reason`` for people; a record without ``audit_version`` is format 1 (the text alone).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

import orjson

from hub.contract.models import Envelope
from hub.core.decisions import Decision
from hub.core.reasons import AuditDecision, NoteKind, ReasonKind, ReasonParams
from hub.core.topics import AUDIT_TOPIC as AUDIT_TOPIC  # named in hub.core.topics

AUDIT_VERSION = 2
"""The audit record format the hub writes (``audit_version``; absent: 1)."""
AUDIT_NAMESPACE = uuid.UUID("0b5f1c8e-9a44-5d7e-8c1a-61756469742e")
_NAMESPACE_BYTES = AUDIT_NAMESPACE.bytes
DELIVERED, REFUSED, HELD, DUPLICATE, NOT_ROUTED, ANOMALY, ERASED, LINKAGE = (
    AuditDecision.DELIVERED, AuditDecision.REFUSED, AuditDecision.HELD,
    AuditDecision.DUPLICATE, AuditDecision.NOT_ROUTED, AuditDecision.ANOMALY,
    AuditDecision.ERASED, AuditDecision.LINKAGE)
LINKAGE_TYPE = "linkage.decision"
"""The ``type`` of a linkage decision's audit record (it decides no event)."""
HUB_SENDER = "hub"
ALREADY_DELIVERED = "already delivered to this recipient"


def audit_record(envelope: Envelope, decision: AuditDecision, now: datetime,
                 recipient: str | None = None, reason: str = "",
                 consent_id: str | None = None, kind: ReasonKind | NoteKind | None = None,
                 params: ReasonParams | None = None) -> dict:
    """The record of ``decision`` about ``envelope``; ``reason``: the text, ``kind`` and
    ``params``: the same typed."""
    return {
        "audit_id": audit_id(f"{envelope.id}|{recipient}|{decision}|{reason}"),
        "audit_version": AUDIT_VERSION,
        "event_id": envelope.id,
        "type": envelope.type.value,
        "subject": envelope.subject,
        "sender": envelope.source,
        "recipient": recipient,
        "decision": AuditDecision(decision).value,
        "reason": reason,
        "reason_kind": None if kind is None else kind.value,
        "reason_params": dict(params or {}),
        "consent_id": consent_id,
        "event_time": envelope.time.isoformat(),
        "event_time_precision": envelope.time_precision.value,
        "time": now.isoformat(),
    }


def audit_id(name: str) -> str:
    """``str(uuid.uuid5(AUDIT_NAMESPACE, name))``, without the UUID objects (one per audit
    record on the router's hot path)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def linkage_audit_record(pseudonym: str, action: str, at: datetime, now: datetime,
                         kind: NoteKind, reason: str, params: ReasonParams,
                         by: str | None = None) -> dict:
    """The record of a linkage decision about ``pseudonym`` (no envelope: it decides no
    event): ``action`` what was decided (an outcome of the stage, or the trust office's
    action), ``at`` when it was decided or requested (``event_time``; with ``pseudonym``
    and ``action`` it makes the deterministic ``event_id``), ``now`` when the hub carried
    it out, ``by`` the operator of a trust office decision (``requested_by``)."""
    event_id = str(uuid.uuid5(AUDIT_NAMESPACE, f"{pseudonym}|{action}|{at.isoformat()}"))
    record = {
        "audit_id": str(uuid.uuid5(AUDIT_NAMESPACE, f"{event_id}|None|{LINKAGE}|{reason}")),
        "audit_version": AUDIT_VERSION,
        "event_id": event_id,
        "type": LINKAGE_TYPE,
        "subject": pseudonym,
        "sender": HUB_SENDER,
        "recipient": None,
        "decision": LINKAGE.value,
        "reason": reason,
        "reason_kind": kind.value,
        "reason_params": dict(params),
        "consent_id": None,
        "event_time": at.isoformat(),
        "event_time_precision": "instant",
        "time": now.isoformat(),
    }
    if by is not None:
        record["requested_by"] = by
    return record


def audit_records(envelope: Envelope, decision: Decision, now: datetime) -> list[dict]:
    """One record per recipient decided (or one for the event as a whole)."""
    records = [audit_record(envelope, DELIVERED, now, d.recipient, consent_id=d.consent_id)
               for d in decision.deliveries]
    records += [audit_record(envelope, REFUSED, now, r.recipient, r.reason, r.consent_id,
                             r.kind, r.params)
                for r in decision.refusals]
    records += [audit_record(envelope, DUPLICATE, now, recipient, ALREADY_DELIVERED,
                             kind=NoteKind.ALREADY_DELIVERED)
                for recipient in decision.duplicates]
    if decision.hold:
        records.append(audit_record(envelope, HELD, now, reason=decision.hold,
                                    kind=decision.hold_kind, params=decision.hold_params))
    if decision.not_routed:
        records.append(audit_record(envelope, NOT_ROUTED, now, reason=decision.not_routed,
                                    kind=decision.not_routed_kind,
                                    params=decision.not_routed_params))
    return records


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""The standard library's encoder of what orjson refuses (an integer beyond 64 bits, a key
that is no string), writing the same bytes as orjson."""


def encode_audit(record: dict) -> bytes:
    """The record as compact UTF-8 JSON with sorted keys (orjson: about five times faster
    than the standard library, one record per routed event)."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return _ENCODER.encode(record).encode("utf-8")
