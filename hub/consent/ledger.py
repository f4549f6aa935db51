"""Consent states and the consent rule (pure, no Kafka).

An event of subject S with purpose P may reach recipient R iff a consent of S covers P and
R, the event's time lies inside the consent's validity, and the consent was not revoked
before the hub processes the event (a revocation takes effect for everything the hub
processes after it learns of it). Each consent id keeps only its newest state: the newest
``recorded_at`` wins, whatever the arrival order; on a tie a withdrawal wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from hub.contract.models import ConsentRevoked, Envelope
from hub.contract.vocabulary import EventType
from hub.core.reasons import ReasonKind, ReasonParams

ALLOWED, REFUSED, UNKNOWN = "allowed", "refused", "unknown"


@dataclass(frozen=True)
class ConsentState:
    consent_id: str
    purpose: str
    recipients: tuple[str, ...]
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    revoked_at: datetime | None = None  # when the withdrawal took effect

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> ConsentState:
        if envelope.type not in (EventType.CONSENT_GRANTED, EventType.CONSENT_REVOKED):
            raise ValueError(f"{envelope.type} is not a consent event")
        p = envelope.payload
        revoked = p.effective_at if isinstance(p, ConsentRevoked) else None
        return cls(p.consent_id, envelope.purpose.value, tuple(p.recipients), p.valid_from,
                   p.valid_to, p.recorded_at, revoked)

    def to_json(self) -> dict:
        return {"consent_id": self.consent_id, "purpose": self.purpose,
                "recipients": list(self.recipients), "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat() if self.valid_to else None,
                "recorded_at": self.recorded_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}

    @classmethod
    def from_json(cls, data: Mapping) -> ConsentState:
        return cls(data["consent_id"], data["purpose"], tuple(data["recipients"]),
                   date.fromisoformat(data["valid_from"]),
                   date.fromisoformat(data["valid_to"]) if data["valid_to"] else None,
                   datetime.fromisoformat(data["recorded_at"]),
                   datetime.fromisoformat(data["revoked_at"]) if data["revoked_at"] else None)

    def active_at(self, now: datetime) -> bool:
        """Valid on ``now``'s date and not withdrawn by ``now``."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        today = now.date()
        return self.valid_from <= today and (self.valid_to is None or today <= self.valid_to)

    def newer_than(self, other: ConsentState) -> bool:
        if self.recorded_at != other.recorded_at:
            return self.recorded_at > other.recorded_at
        return self.revoked_at is not None and other.revoked_at is None

    def revoked_by(self, now: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= now

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def ledger_key(subject: str, consent_id: str) -> bytes:
    """The key of a consent in the consent ledger topic: consent ids are the agencies' own
    and two children may share one, so the child's pseudonym comes first."""
    return f"{subject}|{consent_id}".encode()


def merge(states: Mapping[str, ConsentState], new: ConsentState) -> dict[str, ConsentState]:
    """The ledger of one subject after ``new`` arrived (newest state per consent id)."""
    merged = dict(states)
    current = merged.get(new.consent_id)
    if current is None or new.newer_than(current):
        merged[new.consent_id] = new
    return merged


@dataclass(frozen=True)
class Verdict:
    status: str  # allowed | refused | unknown (no consent of the subject names P and R)
    consent_id: str | None = None
    reason: str = ""
    kind: ReasonKind | None = None  # of ``reason`` (None when allowed)
    params: ReasonParams = field(default_factory=dict)  # what ``reason`` names


def check(states: Iterable[ConsentState], purpose: str, recipient: str, event_time: datetime,
          now: datetime) -> Verdict:
    """May an event (``purpose``, ``event_time``) reach ``recipient``, processed at ``now``?"""
    matching = [s for s in states if s.purpose == purpose and recipient in s.recipients]
    if not matching:
        return Verdict(UNKNOWN, reason=f"no consent covers purpose {purpose} for {recipient}",
                       kind=ReasonKind.NO_CONSENT,
                       params={"purpose": purpose, "recipient": recipient})
    day = event_time.date()
    for state in matching:
        if not state.revoked_by(now) and state.valid_on(day):
            return Verdict(ALLOWED, state.consent_id)
    state = sorted(matching, key=lambda s: s.recorded_at)[-1]
    if state.revoked_by(now):
        kind = ReasonKind.CONSENT_REVOKED
        reason = f"consent {state.consent_id} was revoked on {state.revoked_at.date()}"
        params = {"consent_id": state.consent_id,
                  "revoked_on": state.revoked_at.date().isoformat()}
    elif day < state.valid_from:
        kind = ReasonKind.OUTSIDE_VALIDITY
        reason = (f"event on {day} is before consent {state.consent_id} is valid "
                  f"(from {state.valid_from})")
        params = {"event_on": day.isoformat(), "consent_id": state.consent_id,
                  "valid_from": state.valid_from.isoformat()}
    else:
        kind = ReasonKind.OUTSIDE_VALIDITY
        reason = f"event on {day} is after consent {state.consent_id} ended ({state.valid_to})"
        params = {"event_on": day.isoformat(), "consent_id": state.consent_id,
                  "valid_to": str(state.valid_to)}
    return Verdict(REFUSED, state.consent_id, reason, kind, params)


def chain_partners(states: Iterable[ConsentState], purpose: str, sender: str) -> list[str]:
    """The recipients named in the subject's consents for ``purpose``, minus the sender."""
    partners: dict[str, None] = {}
    for state in states:
        if state.purpose == purpose:
            partners.update((r, None) for r in state.recipients if r != sender)
    return list(partners)
