"""Why the router did not deliver an event to a recipient, and what else it audits: the
bounded kinds (pure, no imports).

Every refusal (and every hold) carries one :class:`ReasonKind` next to its human text. The
text is for people (the audit's ``reason``, the access letter) and may be reworded; the
kind is for machines: the ``reason`` label of ``hub_refusals_total`` (dashboards and alerts
use its values) and the analytics outcome ``refused_no_consent``.

The audit record (:mod:`hub.audit`) carries the kinds typed: its ``decision`` is an
:class:`AuditDecision`, its ``reason_kind`` a :class:`ReasonKind` (refused, held) or a
:class:`NoteKind` (any other decision with a reason), and ``reason_params`` the values its
text names. The access letter turns them into German sentences.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonKind(StrEnum):
    CONSENT_REVOKED = "consent_revoked"
    """The consent that covered the recipient was withdrawn (``consent_id``, ``revoked_on``)."""
    OUTSIDE_VALIDITY = "outside_validity"
    """The event (``event_on``) happened before the consent (``consent_id``) was valid
    (``valid_from``) or after it ended (``valid_to``)."""
    NO_CONSENT = "no_consent"
    """No consent of the family covers the purpose (``purpose``), or none covers it for the
    ``recipient``."""
    UNKNOWN_RECIPIENT = "unknown_recipient"
    """The recipient (``recipient``) is no agency of the directory."""
    NO_INBOX = "no_inbox"
    """The recipient (``recipient``) is an agency that exchanges no events (``agency_kind``)."""
    HANDOVER_UNKNOWN = "handover_unknown"
    """The handover the event answers (``handover_id``) was never requested (refused), or not
    yet (held)."""
    LINKAGE_UNDECIDED = "linkage_undecided"
    """The event waited as a possible match of a known child, and the trust office did not
    decide within the review window (``review_days``); no consent of its own covered it."""
    OTHER = "other"
    """Anything else (e.g. an event of ``type`` that names no recipient)."""


class AuditDecision(StrEnum):
    """Every decision the hub writes to ``hub.audit`` (the record's ``decision``)."""

    DELIVERED = "delivered"
    """The event went to the recipient's inbox (also the hub's own notices)."""
    REFUSED = "refused"
    """The event was not delivered to the recipient: :class:`ReasonKind` says why."""
    HELD = "held"
    """The event waits for what its decision depends on: :class:`ReasonKind` says what."""
    DUPLICATE = "duplicate"
    """The recipient has the event already."""
    NOT_ROUTED = "not_routed"
    """The event goes to no inbox (consents, statistics, types routed to none)."""
    ANOMALY = "anomaly"
    """A handover step that does not fit its handover."""
    ERASED = "erased"
    """An erasure on request, and each held event it dropped."""
    LINKAGE = "linkage"
    """Which child a pseudonym stands for: the linkage stage's own decision (a link, a
    possible match) or the trust office's (``hub linkage confirm | reject | unlink``)."""


class NoteKind(StrEnum):
    """Why the hub wrote a decision that is no refusal and no hold: the ``reason_kind`` of
    an audit record whose decision is delivered (a notice), duplicate, not_routed, anomaly,
    erased or linkage. Its parameters are in the record's ``reason_params`` (named below)."""

    REVOCATION_NOTICE = "revocation_notice"
    """delivered: the hub told the agency that the consent was withdrawn."""
    ERASURE_NOTICE = "erasure_notice"
    """delivered: the hub told the agency of an erasure (``reference``)."""
    ALREADY_DELIVERED = "already_delivered"
    """duplicate: the recipient has the event already."""
    CONSENT_RECORDED = "consent_recorded"
    """not_routed: a consent, recorded in the consent ledger."""
    PURPOSE_NOT_ROUTED = "purpose_not_routed"
    """not_routed: the purpose (``purpose``) is for analytics only."""
    TYPE_NOT_ROUTED = "type_not_routed"
    """not_routed: the event type (``type``) goes to no inbox."""
    ERASURE = "erasure"
    """erased: the erasure itself (``reference``, how many ``consents``, ``held`` events
    and ``handovers`` were forgotten, the agencies ``notified``)."""
    HELD_ERASED = "held_erased"
    """erased: a held event the erasure (``reference``) dropped."""
    STEP_BEFORE_REQUEST = "step_before_request"
    """anomaly: a ``step`` of handover ``handover_id`` before it was requested."""
    REQUESTED_AGAIN = "requested_again"
    """anomaly: the handover requested again (``by``)."""
    REQUEST_AFTER_STEP = "request_after_step"
    """anomaly: the request arrived after the handover's ``step``."""
    WRONG_AGENCY = "wrong_agency"
    """anomaly: a ``step`` sent ``by`` another agency than the one ``asked``."""
    ANSWERED_TWICE = "answered_twice"
    """anomaly: a ``step`` (an answer) after the handover was already ``answer``."""
    COMPLETED_TWICE = "completed_twice"
    """anomaly: completed twice."""
    COMPLETED_AFTER_DECLINE = "completed_after_decline"
    """anomaly: completed after it was declined."""
    COMPLETED_UNACCEPTED = "completed_unaccepted"
    """anomaly: completed without being accepted."""
    LINKED_AUTOMATICALLY = "linked_automatically"
    """linkage: the stage found the pseudonym to be a known child (``candidate``, ``score``,
    the agreeing ``fields``)."""
    POSSIBLE_MATCH = "possible_match"
    """linkage: the pseudonym may be a known child (``candidate``, ``score``, ``fields``);
    its events wait for the trust office."""
    LINK_CONFIRMED = "link_confirmed"
    """linkage: the trust office (``by``) confirmed that the pseudonym is the child
    ``candidate``."""
    LINK_REJECTED = "link_rejected"
    """linkage: the trust office (``by``) decided that the pseudonym is not the child
    ``candidate``; the pair is never proposed again."""
    LINK_UNDONE = "link_undone"
    """linkage: the trust office (``by``) undid the pseudonym's link to the child
    ``candidate``, from then on."""


ReasonParams = dict[str, str | int | list[str]]
"""A reason's parameters: what its text names (ids, dates as ISO text, counts)."""
