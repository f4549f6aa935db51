"""Erasure requests: how ``hub erase`` asks the router to forget a child (pure, no Kafka).

A request is one JSON record on ``hub.requests``, keyed by the child's pseudonym: the key
decides the partition, so the request reaches the router on the partition that holds the
child's state, after every event of the child that came before it. Fields: ``request``
(``"erase"``), ``id`` (a UUID, also the erasure's audit id), ``subject``, ``reference``
(the trust office's case number), ``requested_at`` and ``requested_by`` (the operator's
login name, for the audit).

The request holds the pseudonym; ``hub.requests`` keeps it only until its retention
(``deploy/topics.yaml``), like the outboxes keep the child's events.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from hub.contract.models import Identifier, Pseudonym, Reference, UtcTimestamp
from hub.core.topics import REQUESTS_TOPIC

__all__ = ["REQUESTS_TOPIC", "ErasureRequest", "decode_request", "erasure_params",
           "erasure_summary", "held_erased"]



class ErasureRequest(BaseModel):
    """``hub erase --subject --reference``, as the router receives it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: Literal["erase"] = "erase"
    id: str
    subject: Pseudonym
    reference: Reference
    requested_at: UtcTimestamp
    requested_by: Identifier | None = None

    @classmethod
    def new(cls, subject: str, reference: str, now: datetime,
            requested_by: str | None = None) -> ErasureRequest:
        """A new request; ``ValueError`` with a readable reason for a bad pseudonym or
        reference."""
        try:
            return cls(id=str(uuid.uuid4()), subject=subject, reference=reference,
                       requested_at=now, requested_by=requested_by)
        except ValidationError as exc:
            raise ValueError(_problems(exc)) from None

    def key(self) -> bytes:
        return self.subject.encode()

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


def decode_request(data: bytes | None) -> ErasureRequest:
    """The request in ``data``; ``ValueError`` with a readable reason for anything else."""
    try:
        raw = json.loads(data or b"")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a JSON request") from None
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    try:
        return ErasureRequest.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_problems(exc)) from None


RULES = {
    "subject": "a pseudonym is lowercase hex digits (what `hub pseudonym` prints), at "
               "most 128",
    "reference": "a case number is letters, digits, space and . / _ - (starting with a "
                 "letter or digit), at most 64 characters",
}


def _problems(exc: ValidationError) -> str:
    problems = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"]) or "request"
        given = e.get("input")
        problems.append(f"{field} {given!r}: {RULES.get(field, e['msg'])}"
                        if field in RULES and isinstance(given, str)
                        else f"{field}: {e['msg']}")
    return "; ".join(problems)


def held_erased(reference: str) -> str:
    """The audit reason of a held event an erasure dropped."""
    return f"held, never delivered: erased on request {reference}"


def erasure_summary(reference: str, consents: int, held: int, handovers: int,
                    notified: list[str]) -> str:
    """The audit reason of an erasure (``hub erase`` prints it)."""
    told = ", ".join(notified) if notified else "no agency (none had received an event)"
    return (f"erased on request {reference}: {consents} consent(s), {held} held event(s), "
            f"{handovers} handover(s) forgotten; erasure notice to {told}")


def erasure_params(reference: str, consents: int, held: int, handovers: int,
                   notified: list[str]) -> dict:
    """The audit reason of an erasure, typed (``reason_params``; the text:
    :func:`erasure_summary`)."""
    return {"reference": reference, "consents": consents, "held": held,
            "handovers": handovers, "notified": list(notified)}
