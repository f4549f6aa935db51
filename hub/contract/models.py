"""Pydantic models of the event contract: one model per Avro record in ``schemas/``.

The models and the Avro schemas must agree field by field; ``tests/contract`` proves it with
:func:`hub.contract.conformance.compare_models_to_schema`. Conventions:

* All models are frozen and reject unknown fields.
* Dates are :class:`datetime.date` (Avro ``date``).
* Timestamps are timezone-aware :class:`datetime.datetime` (Avro ``timestamp-millis``). A naive
  datetime is **rejected**, because agency exports are in local time and guessing UTC would shift
  events by one or two hours. Aware values are converted to UTC and cut to whole milliseconds,
  so an envelope survives an Avro round trip unchanged.
* An envelope whose ``time_precision`` is ``date`` knows only the day of the event: its
  ``time`` must be midnight UTC of that day (:func:`is_date_only`, :func:`event_day`).
* Validation reports every problem at once (pydantic's ``ValidationError``), including the
  problems inside the payload.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from hub.contract.vocabulary import (
    EventType,
    LifePhase,
    Municipality,
    Purpose,
    StallStep,
    TimePrecision,
)

SCHEMA_VERSION = 3
"""The envelope contract version producers write (field ``schema_version``)."""


def _require_utc_millis(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware (naive datetimes are rejected)")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""The text ``str(uuid.UUID(...))`` writes: any text it matches reads as a UUID and is
written back the same."""


def _require_canonical_uuid(value: str) -> str:
    if _CANONICAL_UUID.fullmatch(value):  # the usual case, without building the UUID
        return value
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID in text form") from None
    if canonical != value:
        raise ValueError(f"must be the canonical lowercase UUID text {canonical!r}")
    return value


MIDNIGHT = datetime.min.time()
"""00:00:00, the time of day of a date-only event's ``time`` (in UTC)."""

UtcTimestamp = Annotated[datetime, AfterValidator(_require_utc_millis)]
"""Timezone-aware point in time, normalised to UTC with millisecond precision."""

EventId = Annotated[str, AfterValidator(_require_canonical_uuid)]
"""Deterministic event id: canonical UUID text (lowercase, with hyphens)."""

AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
"""Id of an agency as configured in the hub, e.g. ``jugendamt-kamen``."""

Pseudonym = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]+$", max_length=128)]
"""A child's pseudonym: lowercase hex, so one child never appears under two spellings."""

Identifier = Annotated[str, StringConstraints(pattern=r"^\S+$", max_length=128)]
"""A non-empty reference id without whitespace (consent id, handover id, key id)."""

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""A lowercase code such as ``schuleingangsuntersuchung`` or ``foerderbedarf_sprache``."""

Reference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./_-]*$", max_length=64)
]
"""A case number such as ``VS-2026/0042`` (letters, digits, space, ``. / _ -``)."""

Label = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]+$", max_length=64)]
"""A short, single-line category name such as ``Familienhebamme`` (never free text)."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _ConsentState(_Record):
    consent_id: Identifier
    recipients: Annotated[tuple[AgencyId, ...], Field(min_length=1)]
    valid_from: date
    valid_to: date | None = None
    recorded_at: UtcTimestamp

    @model_validator(mode="after")
    def _validity_period_is_ordered(self) -> Self:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self


class ConsentGranted(_ConsentState):
    """The guardians granted consent to share the child's events with the recipients."""


class ConsentRevoked(_ConsentState):
    """The guardians withdrew a consent; events must no longer reach the recipients."""

    effective_at: UtcTimestamp


class _OfferEvent(_Record):
    offer_category: Label


class OfferMade(_OfferEvent):
    """An agency offered support to the family."""


class OfferAccepted(_OfferEvent):
    """The family accepted an offer."""


class OfferDeclined(_OfferEvent):
    """The family declined an offer."""


class OfferCompleted(_OfferEvent):
    """An accepted offer has been completed."""


class _HandoverEvent(_Record):
    handover_id: Identifier


class HandoverRequested(_HandoverEvent):
    """An agency asked another agency to take over the child's support."""


class HandoverAccepted(_HandoverEvent):
    """The receiving agency accepted the handover."""


class HandoverDeclined(_HandoverEvent):
    """The receiving agency declined the handover."""


class HandoverCompleted(_HandoverEvent):
    """The handover is complete: the receiving agency is in contact."""


class HandoverStalled(_HandoverEvent):
    """A step of a handover is overdue."""

    requested_by: AgencyId
    waiting_for: StallStep
    deadline: UtcTimestamp


class ScreeningCompleted(_Record):
    """A health screening was completed (e.g. the school entry examination)."""

    screening_kind: Code
    support_category: Code


class SubjectErased(_Record):
    """The hub erased what it keeps about the child, on the family's request."""

    reference: Reference


Payload = (
    ConsentGranted
    | ConsentRevoked
    | OfferMade
    | OfferAccepted
    | OfferDeclined
    | OfferCompleted
    | HandoverRequested
    | HandoverAccepted
    | HandoverDeclined
    | HandoverCompleted
    | HandoverStalled
    | ScreeningCompleted
    | SubjectErased
)
"""Any payload model; the model class is named like its Avro record."""

PAYLOAD_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.CONSENT_GRANTED: ConsentGranted,
    EventType.CONSENT_REVOKED: ConsentRevoked,
    EventType.OFFER_MADE: OfferMade,
    EventType.OFFER_ACCEPTED: OfferAccepted,
    EventType.OFFER_DECLINED: OfferDeclined,
    EventType.OFFER_COMPLETED: OfferCompleted,
    EventType.HANDOVER_REQUESTED: HandoverRequested,
    EventType.HANDOVER_ACCEPTED: HandoverAccepted,
    EventType.HANDOVER_DECLINED: HandoverDeclined,
    EventType.HANDOVER_COMPLETED: HandoverCompleted,
    EventType.HANDOVER_STALLED: HandoverStalled,
    EventType.SCREENING_COMPLETED: ScreeningCompleted,
    EventType.SUBJECT_ERASED: SubjectErased,
}
"""The payload model each event type carries."""


class Envelope(_Record):
    """One pseudonymised event, as published to Kafka (see ``schemas/envelope.avsc``).

    ``payload`` may be given as a model or as a dict; a dict is validated against the model
    that ``type`` names, so payloads with identical fields (all ``offer.*``) are never confused.
    """

    id: EventId
    type: EventType
    source: AgencyId
    time: UtcTimestamp
    time_precision: TimePrecision = TimePrecision.INSTANT
    subject: Pseudonym
    key_id: Identifier
    municipality: Municipality
    life_phase: LifePhase
    purpose: Purpose
    recipient: AgencyId | None = None
    correlation_id: Identifier | None = None
    schema_version: Annotated[int, Field(ge=1)] = SCHEMA_VERSION
    payload: Payload

    @field_validator("payload", mode="wrap")
    @classmethod
    def _payload_matches_type(
        cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> BaseModel:
        event_type = info.data.get("type")
        if event_type is None:
            # ``type`` itself is invalid and already reported; a payload cannot be judged
            # without it, so only model instances are checked (as any payload model).
            return value if not isinstance(value, BaseModel) else handler(value)
        expected = PAYLOAD_MODELS[event_type]
        if isinstance(value, BaseModel):
            if not isinstance(value, expected):
                raise ValueError(
                    f"payload is {type(value).__name__}, "
                    f"but type {event_type.value} needs {expected.__name__}"
                )
            return value
        return expected.model_validate(value)

    @model_validator(mode="after")
    def _a_date_is_midnight_utc(self) -> Self:
        if self.time_precision is TimePrecision.DATE and self.time.time() != MIDNIGHT:
            raise ValueError(
                f"time_precision date needs time at midnight UTC of the day, got {self.time}"
            )
        return self


def is_date_only(envelope: Envelope, moment: datetime | None = None) -> bool:
    """Does ``envelope`` know only the day of ``moment`` (default: its ``time``)? True for
    an event of precision ``date`` and a moment equal to its ``time`` (the payload's
    timestamps made from the same day, e.g. a consent's ``recorded_at``)."""
    return envelope.time_precision is TimePrecision.DATE and (
        moment is None or moment == envelope.time
    )


def event_day(envelope: Envelope) -> date:
    """The day of a date-only event (the UTC date of its ``time``)."""
    return envelope.time.astimezone(UTC).date()
