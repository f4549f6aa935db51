"""The events the hub writes itself (pure): a handover's ``handover.stalled``, a consent's
``consent.revoked`` notice to the agencies that received events under it, and a child's
``subject.erased`` notice. Their ids are deterministic: the same notice twice is one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from hub.agencies import AgencyDirectory
from hub.consent.ledger import ConsentState
from hub.contract.models import ConsentRevoked, Envelope, HandoverStalled, SubjectErased
from hub.contract.vocabulary import EventType, LifePhase, Municipality
from hub.handover.machine import Handover, Stall
from hub.routing.deciding import HUB_SOURCE
from hub.routing.erasure import ErasureRequest

STALL_NAMESPACE = uuid.UUID("5d0c7a52-3f0e-5b8e-9a43-7374616c6c21")
NOTICE_NAMESPACE = uuid.UUID("9e1b6f0c-2d4a-5c7e-8f3b-6e6f74696365")
REVOCATION_NOTICE = "revocation notice: the consent was withdrawn"
ERASURE_NOTICE = "erasure notice: the child's data was erased on request"
LIFE_PHASE_OF_PURPOSE = {"fruehe_hilfen": LifePhase.RUND_UM_GEBURT,
                         "uebergang_kita_schule": LifePhase.KITA,
                         "uebergang_schule_beruf": LifePhase.UEBERGANG_BERUF}
"""An erasure notice's life phase when no event of the child is left to take it from."""


def stall_notice(stall: Stall) -> Envelope:
    """``handover.stalled``: the handover missed the deadline of its next step."""
    h = stall.handover
    return Envelope(
        id=str(uuid.uuid5(STALL_NAMESPACE, f"{h.handover_id}|{stall.waiting_for}")),
        type=EventType.HANDOVER_STALLED, source=HUB_SOURCE, time=stall.deadline,
        subject=h.subject, key_id=h.key_id or "unknown", municipality=h.municipality,
        life_phase=h.life_phase or "kita", purpose=h.purpose, recipient=h.recipient,
        correlation_id=h.handover_id,
        payload=HandoverStalled(handover_id=h.handover_id, requested_by=h.requester,
                                waiting_for=stall.waiting_for, deadline=stall.deadline))


def revocation_notice(revocation: Envelope, state: ConsentState, recipient: str) -> Envelope:
    """``consent.revoked`` to ``recipient``: pseudonym, consent id, purpose and when the
    withdrawal (``revocation``, whose newest state is ``state``) took effect."""
    return Envelope(
        id=str(uuid.uuid5(NOTICE_NAMESPACE, f"{revocation.subject}|"
                          f"{state.consent_id}|{recipient}|revoked")),
        type=EventType.CONSENT_REVOKED, source=HUB_SOURCE, time=state.revoked_at,
        # the withdrawal's day as the agency gave it: a date, not a time of day
        time_precision=revocation.time_precision
        if state.revoked_at == revocation.time else "instant",
        subject=revocation.subject, key_id=revocation.key_id,
        municipality=revocation.municipality, life_phase=revocation.life_phase,
        purpose=revocation.purpose, recipient=recipient,
        payload=ConsentRevoked(consent_id=state.consent_id, recipients=[recipient],
                               valid_from=state.valid_from, valid_to=state.valid_to,
                               recorded_at=state.recorded_at,
                               effective_at=state.revoked_at))


def erasure_notice(request: ErasureRequest, recipient: str | None, last: Envelope | None,
                   known: Sequence[Envelope], handovers: Sequence[Handover],
                   consents: Sequence[ConsentState], agencies: AgencyDirectory,
                   now) -> Envelope:
    """A ``subject.erased`` envelope: to ``recipient`` (a notice), or for the audit
    (None). It carries the pseudonym and the reference; the other fields, which the
    contract requires, are those of the last event the agency received of the child
    (else of any event, handover or consent of the child left)."""
    template = last or (known[-1] if known else None)
    if template is not None:
        fields = dict(key_id=template.key_id, municipality=template.municipality,
                      life_phase=template.life_phase, purpose=template.purpose)
    elif handovers:
        h = handovers[-1]
        fields = dict(key_id=h.key_id or "unknown", municipality=h.municipality,
                      life_phase=h.life_phase or LifePhase.KITA, purpose=h.purpose)
    else:
        purpose = consents[-1].purpose if consents else "fruehe_hilfen"
        agency = agencies.get(recipient) if recipient else None
        town = getattr(agency, "municipality", None)
        town = town if town in {m.value for m in Municipality} else "unna"
        fields = dict(key_id="unknown", municipality=town,
                      life_phase=LIFE_PHASE_OF_PURPOSE.get(purpose, LifePhase.KITA),
                      purpose=purpose)
    name = recipient or "all"
    return Envelope(
        id=str(uuid.uuid5(NOTICE_NAMESPACE, f"{request.subject}|{request.id}|{name}|"
                                            "erased")),
        type=EventType.SUBJECT_ERASED, source=HUB_SOURCE, time=now,
        subject=request.subject, recipient=recipient,
        payload=SubjectErased(reference=request.reference), **fields)
