"""The German of the access letter: each audit decision (:class:`AuditDecision`) and each
reason kind (:class:`ReasonKind`, :class:`NoteKind`) as a sentence, with the parameters
the audit record carries (``reason_params``). No English text is read here: the hub's
``reason`` is shown only where no sentence is known (a kind newer than this letter, or a
parameter missing), marked as untranslated.

``tests/report`` fails when a kind or a decision has no sentence."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hub.core.reasons import AuditDecision, NoteKind, ReasonKind
from hub.report import names
from hub.report.letter.formats import day, purpose

D = AuditDecision
DECISIONS = {
    D.DELIVERED: "übermittelt",
    D.REFUSED: "nicht übermittelt",
    D.HELD: "zurückgehalten",
    D.DUPLICATE: "nicht erneut übermittelt",
    D.NOT_ROUTED: "an keine Stelle weitergegeben",
    D.ANOMALY: "Unstimmigkeit vermerkt",
    D.ERASED: "gelöscht",
    D.LINKAGE: "Zuordnung geprüft",
}
DECISION_SENTENCES = {
    D.DELIVERED: "Die Meldung wurde an die genannte Stelle übermittelt, weil eine Einwilligung "
                 "die Weitergabe für diesen Zweck an diese Stelle erlaubte.",
    D.REFUSED: "Die Meldung wurde der genannten Stelle nicht übermittelt; der Grund steht "
               "daneben.",
    D.HELD: "Die Meldung wurde vorläufig zurückgehalten, zum Beispiel weil die passende "
            "Einwilligung noch nicht eingegangen war. Sie wird entschieden, sobald das "
            "Fehlende eingeht; geht es nicht innerhalb der Wartezeit ein, wird sie nicht "
            "übermittelt.",
    D.DUPLICATE: "Die Stelle hatte diese Meldung bereits erhalten (etwa weil eine Liste "
                 "zweimal eingelesen wurde); sie wurde nicht ein zweites Mal übermittelt.",
    D.NOT_ROUTED: "Die Meldung ist für keine andere Stelle bestimmt und wurde an keine Stelle "
                  "weitergegeben; sie fließt höchstens ohne Pseudonym in die anonyme "
                  "Statistik des Kreises ein.",
    D.ANOMALY: "Ein Schritt einer Übergabe passte nicht zu ihrem bisherigen Verlauf (zum "
               "Beispiel eine Antwort vor der Anfrage). Das wird nur vermerkt.",
    D.ERASED: "Auf einen Antrag auf Löschung hin hat der Hub vergessen, was er zu Ihrem Kind "
              "aufbewahrte; eine noch zurückgehaltene Meldung wurde dabei verworfen.",
    D.LINKAGE: "Stellen schreiben Namen und Geburtsdaten nicht immer gleich. Der Hub prüft "
               "daher, ob Meldungen unter einer abweichenden Schreibweise zu Ihrem Kind "
               "gehören; in Zweifelsfällen entscheidet die Vertrauensstelle. Namen sieht "
               "der Hub dabei nicht, nur verschlüsselte Merkmale.",
}
STEPS = {"requested": "angefragt", "accepted": "angenommen", "declined": "abgelehnt",
         "completed": "abgeschlossen"}


@dataclass(frozen=True)
class Reason:
    text: str
    verbatim: bool = False  # no German sentence is known: the hub's own text


Agency = Callable[[str], str]
Sentence = Callable[[AuditDecision, Mapping, Agency], str]
"""(decision, reason_params, agency's display name) -> the German sentence."""


def _step(name: str) -> str:
    return STEPS.get(name, name)


def _outside_validity(decision: AuditDecision, p: Mapping, agency: Agency) -> str:
    if "valid_from" in p:
        return (f"Das Ereignis vom {day(p['event_on'])} liegt vor dem Beginn der "
                f"Einwilligung {p['consent_id']} (gültig ab {day(p['valid_from'])}).")
    return (f"Das Ereignis vom {day(p['event_on'])} liegt nach dem Ende der "
            f"Einwilligung {p['consent_id']} (gültig bis {day(p['valid_to'])}).")


def _no_consent(decision: AuditDecision, p: Mapping, agency: Agency) -> str:
    if p.get("recipient"):
        return (f"Keine Einwilligung erlaubte die Weitergabe an {agency(p['recipient'])} für "
                f"den Zweck „{purpose(p['purpose'])}“.")
    return (f"Keine Einwilligung der Familie erlaubte eine Weitergabe für den Zweck "
            f"„{purpose(p['purpose'])}“.")


def _handover_unknown(decision: AuditDecision, p: Mapping, agency: Agency) -> str:
    if decision == D.HELD:
        return ("Die Anfrage zu dieser Übergabe war noch nicht eingegangen; die Meldung "
                "wartete auf sie.")
    return "Zu dieser Antwort auf eine Übergabe ist keine Übergabeanfrage eingegangen."


REASON_SENTENCES: dict[ReasonKind, Sentence] = {
    ReasonKind.CONSENT_REVOKED: lambda d, p, agency: (
        f"Die Einwilligung {p['consent_id']} wurde am {day(p['revoked_on'])} widerrufen; "
        "danach wird nichts mehr übermittelt."),
    ReasonKind.OUTSIDE_VALIDITY: _outside_validity,
    ReasonKind.NO_CONSENT: _no_consent,
    ReasonKind.UNKNOWN_RECIPIENT: lambda d, p, agency: (
        f"Die genannte Empfangsstelle „{p['recipient']}“ nimmt an der Präventionskette "
        "nicht teil."),
    ReasonKind.NO_INBOX: lambda d, p, agency: (
        f"{agency(p['recipient'])} erhält keine Meldungen zu einzelnen Kindern, nur "
        "anonyme Statistik."),
    ReasonKind.HANDOVER_UNKNOWN: _handover_unknown,
    ReasonKind.LINKAGE_UNDECIDED: lambda d, p, agency: (
        "Die Meldung konnte einem bekannten Kind möglicherweise zugeordnet werden; die "
        f"Vertrauensstelle hat darüber nicht innerhalb von {p['review_days']} Tagen "
        "entschieden, und keine eigene Einwilligung erlaubte die Weitergabe."),
    ReasonKind.OTHER: lambda d, p, agency: (
        "Die Meldung nannte keine Stelle, an die sie gehen sollte."),
}
NOTE_SENTENCES: dict[NoteKind, Sentence] = {
    NoteKind.REVOCATION_NOTICE: lambda d, p, agency: (
        "Die Stelle wurde benachrichtigt, dass die Einwilligung widerrufen ist, damit sie die "
        "erhaltenen Meldungen nicht weiter verwendet."),
    NoteKind.ERASURE_NOTICE: lambda d, p, agency: (
        f"Die Stelle wurde benachrichtigt, dass die Daten Ihres Kindes auf Ihren Antrag "
        f"(Aktenzeichen {p['reference']}) gelöscht wurden, damit sie sie auch in ihrem "
        "eigenen System löscht."),
    NoteKind.ALREADY_DELIVERED: lambda d, p, agency: (
        "Die Stelle hatte diese Meldung bereits erhalten."),
    NoteKind.CONSENT_RECORDED: lambda d, p, agency: (
        "Im Einwilligungsverzeichnis des Hubs vermerkt."),
    NoteKind.PURPOSE_NOT_ROUTED: lambda d, p, agency: (
        f"Meldungen für den Zweck „{purpose(p['purpose'])}“ gehen an keine Stelle; sie "
        "fließen nur anonym in die Statistik ein."),
    NoteKind.TYPE_NOT_ROUTED: lambda d, p, agency: (
        f"Meldungen der Art „{names.event_type(p['type'])}“ gehen an keine Stelle; sie "
        "fließen nur anonym in die Statistik ein."),
    NoteKind.ERASURE: lambda d, p, agency: (
        f"Der Hub hat auf Ihren Antrag (Aktenzeichen {p['reference']}) alles gelöscht, was "
        "er zu Ihrem Kind aufbewahrte; die Stellen, die Meldungen erhalten hatten, wurden "
        "benachrichtigt."),
    NoteKind.HELD_ERASED: lambda d, p, agency: (
        f"Die zurückgehaltene Meldung wurde mit der Löschung (Aktenzeichen "
        f"{p['reference']}) verworfen und keiner Stelle übermittelt."),
    # handover anomalies: the handover id (the agencies' own) is not shown
    NoteKind.STEP_BEFORE_REQUEST: lambda d, p, agency: (
        f"Die Übergabe wurde als „{_step(p['step'])}“ gemeldet, bevor sie angefragt war."),
    NoteKind.REQUESTED_AGAIN: lambda d, p, agency: (
        f"Die Übergabe wurde von {agency(p['by'])} ein zweites Mal angefragt."),
    NoteKind.REQUEST_AFTER_STEP: lambda d, p, agency: (
        f"Die Anfrage kam erst an, nachdem die Übergabe schon als „{_step(p['step'])}“ "
        "gemeldet war."),
    NoteKind.WRONG_AGENCY: lambda d, p, agency: (
        f"Die Übergabe wurde von {agency(p['by'])} als „{_step(p['step'])}“ gemeldet, "
        f"angefragt war aber {agency(p['asked'])}."),
    NoteKind.ANSWERED_TWICE: lambda d, p, agency: (
        f"Die Übergabe wurde als „{_step(p['step'])}“ gemeldet, obwohl sie schon "
        f"„{_step(p['answer'])}“ war."),
    NoteKind.COMPLETED_TWICE: lambda d, p, agency: (
        "Die Übergabe wurde zweimal als abgeschlossen gemeldet."),
    NoteKind.COMPLETED_AFTER_DECLINE: lambda d, p, agency: (
        "Die Übergabe wurde als abgeschlossen gemeldet, obwohl sie abgelehnt war."),
    NoteKind.COMPLETED_UNACCEPTED: lambda d, p, agency: (
        "Die Übergabe wurde als abgeschlossen gemeldet, ohne angenommen worden zu sein."),
    # linkage: the other pseudonym (the candidate) is never shown, it may be another child
    NoteKind.LINKED_AUTOMATICALLY: lambda d, p, agency: (
        "Meldungen unter einer anderen Schreibweise des Namens oder Geburtsdatums wurden "
        "Ihrem Kind zugeordnet, weil die Merkmale eindeutig übereinstimmten."),
    NoteKind.POSSIBLE_MATCH: lambda d, p, agency: (
        "Die Merkmale ähnelten denen eines bereits bekannten Kindes, ohne eindeutig zu "
        "sein. Die Meldungen wurden zurückgehalten, bis die Vertrauensstelle entscheidet."),
    NoteKind.LINK_CONFIRMED: lambda d, p, agency: (
        "Die Vertrauensstelle hat geprüft und bestätigt, dass die Meldungen unter dieser "
        "Schreibweise zu demselben Kind gehören; sie werden ihm zugeordnet."),
    NoteKind.LINK_REJECTED: lambda d, p, agency: (
        "Die Vertrauensstelle hat geprüft, dass es sich um ein anderes Kind handelt; die "
        "Meldungen werden nicht zusammengeführt, und diese Zuordnung wird nicht erneut "
        "vorgeschlagen."),
    NoteKind.LINK_UNDONE: lambda d, p, agency: (
        "Die Vertrauensstelle hat eine Zuordnung zu einem anderen Kind aufgehoben; von nun "
        "an werden die Meldungen wieder getrennt behandelt."),
}
SENTENCES: dict[str, Sentence] = {**REASON_SENTENCES, **NOTE_SENTENCES}
"""Every reason kind (its value) -> its sentence."""


def explain_kind(decision: str, kind: str | None, params: Mapping | None, text: str,
                 agency: Agency = str) -> Reason:
    """The German sentence for a typed reason: ``kind`` (a :class:`ReasonKind` or
    :class:`NoteKind` value) with its ``params``, in a record of ``decision``. ``text``
    (the hub's English) is shown verbatim when the kind is unknown or a parameter is
    missing; no kind and no text: no reason."""
    sentence = SENTENCES.get(kind or "")
    if sentence is not None:
        try:
            return Reason(sentence(_decision(decision), params or {}, agency))
        except (KeyError, TypeError, ValueError):
            pass
    text = (text or "").strip()
    return Reason(text, verbatim=True) if text else Reason("")


def _decision(value: str) -> AuditDecision | str:
    try:
        return AuditDecision(value)
    except ValueError:
        return value
