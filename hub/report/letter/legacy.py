"""Audit records of format 1 (written before the hub typed its reasons, no
``audit_version``): their English ``reason`` text read back into a reason kind and its
parameters, so that the letter shows them in the same German sentences
(:mod:`hub.report.letter.sentences`) as the typed records of format 2.

This is the only place that matches the hub's English text, and it is used only for
records without the typed fields. The texts are those the hub wrote until format 2; a text
that none of them matches is shown verbatim."""

from __future__ import annotations

import re
from collections.abc import Callable

from hub.core.reasons import AuditDecision, NoteKind, ReasonKind
from hub.report.letter.sentences import Reason, explain_kind

_Rule = tuple[re.Pattern, str, AuditDecision | None]
"""(the text's pattern, the reason kind, the decision the text implies, if it tells)."""


def _rule(pattern: str, kind: str, decision: AuditDecision | None = None) -> _Rule:
    return re.compile(pattern), kind, decision


R, N = ReasonKind, NoteKind
RULES: list[_Rule] = [
    # the named groups are the parameters of the reason kind
    _rule(r"consent (?P<consent_id>.+) was revoked on (?P<revoked_on>\S+)", R.CONSENT_REVOKED),
    _rule(r"event on (?P<event_on>\S+) is before consent (?P<consent_id>.+) is valid "
          r"\(from (?P<valid_from>\S+)\)", R.OUTSIDE_VALIDITY),
    _rule(r"event on (?P<event_on>\S+) is after consent (?P<consent_id>.+) ended "
          r"\((?P<valid_to>\S+)\)", R.OUTSIDE_VALIDITY),
    _rule(r"no consent covers purpose (?P<purpose>\S+) for (?P<recipient>\S+)", R.NO_CONSENT),
    _rule(r"no consent of the family covers purpose (?P<purpose>\S+)", R.NO_CONSENT),
    _rule(r"unknown recipient '(?P<recipient>.*)'", R.UNKNOWN_RECIPIENT),
    _rule(r"(?P<recipient>\S+) has no inbox \(kind (?P<agency_kind>\S+)\)", R.NO_INBOX),
    _rule(r"(?P<type>\S+) names no recipient", R.OTHER),
    _rule(r"handover (?P<handover_id>.+) was never requested", R.HANDOVER_UNKNOWN,
          AuditDecision.REFUSED),
    _rule(r"handover (?P<handover_id>.+) not requested yet", R.HANDOVER_UNKNOWN,
          AuditDecision.HELD),
    _rule(r"already delivered to this recipient", N.ALREADY_DELIVERED),
    _rule(r"revocation notice: the consent was withdrawn", N.REVOCATION_NOTICE),
    _rule(r"erasure notice: the child's data was erased on request \(reference "
          r"(?P<reference>.+)\)", N.ERASURE_NOTICE),
    _rule(r"held, never delivered: erased on request (?P<reference>.+)", N.HELD_ERASED),
    _rule(r"erased on request (?P<reference>.+?): .*", N.ERASURE),
    _rule(r"consent: recorded in the consent ledger", N.CONSENT_RECORDED),
    _rule(r"purpose (?P<purpose>\S+): analytics only", N.PURPOSE_NOT_ROUTED),
    _rule(r"(?P<type>[a-z_]+\.[a-z_]+): analytics only", N.TYPE_NOT_ROUTED),
    # handover anomalies ("handover <id>: <what did not fit>")
    _rule(r"handover (?P<handover_id>.+?): (?P<step>\S+) before the handover was requested",
          N.STEP_BEFORE_REQUEST),
    _rule(r"handover (?P<handover_id>.+?): requested again by (?P<by>\S+)", N.REQUESTED_AGAIN),
    _rule(r"handover (?P<handover_id>.+?): request arrived after the (?P<step>\S+) step",
          N.REQUEST_AFTER_STEP),
    _rule(r"handover (?P<handover_id>.+?): (?P<step>\S+) by (?P<by>\S+), but (?P<asked>\S+) "
          r"was asked", N.WRONG_AGENCY),
    _rule(r"handover (?P<handover_id>.+?): (?P<step>\S+) after it was already (?P<answer>\S+)",
          N.ANSWERED_TWICE),
    _rule(r"handover (?P<handover_id>.+?): completed twice", N.COMPLETED_TWICE),
    _rule(r"handover (?P<handover_id>.+?): completed after it was declined",
          N.COMPLETED_AFTER_DECLINE),
    _rule(r"handover (?P<handover_id>.+?): completed without being accepted",
          N.COMPLETED_UNACCEPTED),
]


def read_reason(text: str) -> tuple[str, dict[str, str], AuditDecision | None] | None:
    """(reason kind, parameters, the decision the text implies or None) of a format 1
    ``reason``; None when no known text matches."""
    for pattern, kind, decision in RULES:
        match = pattern.fullmatch(text)
        if match:
            return kind, match.groupdict(), decision
    return None


def explain(reason: str | None, agency: Callable[[str], str] = str,
            decision: str = "") -> Reason:
    """The German sentence for the ``reason`` text of a format 1 record (of ``decision``);
    an unknown reason verbatim."""
    reason = (reason or "").strip()
    if not reason:
        return Reason("")
    known = read_reason(reason)
    if known is None:
        return Reason(reason, verbatim=True)
    kind, params, implied = known
    return explain_kind(implied or decision, kind, params, reason, agency)
