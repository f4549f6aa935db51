"""Why the router did not deliver an event to a recipient: the bounded kinds (pure, no
imports).

Every refusal (and every hold) carries one :class:`ReasonKind` next to its human text. The
text is for people (the audit's ``reason``, the access letter) and may be reworded; the
kind is for machines: the ``reason`` label of ``hub_refusals_total`` (dashboards and alerts
use its values) and the analytics outcome ``refused_no_consent``.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonKind(StrEnum):
    CONSENT_REVOKED = "consent_revoked"
    """The consent that covered the recipient was withdrawn."""
    OUTSIDE_VALIDITY = "outside_validity"
    """The event happened before the consent was valid or after it ended."""
    NO_CONSENT = "no_consent"
    """No consent of the family covers the purpose (and the recipient)."""
    UNKNOWN_RECIPIENT = "unknown_recipient"
    """The recipient is no agency of the directory."""
    NO_INBOX = "no_inbox"
    """The recipient is an agency that exchanges no events."""
    HANDOVER_UNKNOWN = "handover_unknown"
    """The handover the event answers was never requested."""
    OTHER = "other"
    """Anything else (e.g. an event that names no recipient)."""
