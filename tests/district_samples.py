"""What the example exports of connectors/examples must give when ingested together
(the routing table of the consent rules), shared by the pure and the broker tests."""

from __future__ import annotations

import json
from datetime import date

from connectors.pseudonym import pseudonym
from hub.paths import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "connectors" / "examples"
CONSENT_FILES = sorted(EXAMPLES.glob("einwilligungen_*.csv"))
EVENT_FILES = sorted(EXAMPLES.glob("*_export.csv"))

CHILDREN = {  # invented people of the examples
    "Mia": ("Mia", "Schröder", date(2025, 2, 14)),
    "Leon": ("Leon", "Yılmaz", date(2020, 9, 2)),
    "Sofia": ("Sofia", "Al-Hassan", date(2024, 1, 30)),
    "Noah": ("Noah", "Krüger", date(2019, 11, 11)),
    "Emma": ("Emma", "Nowak", date(2009, 6, 23)),
}

# inbox -> sorted (child, event type, sender)
EXPECTED_INBOXES = {
    "agency.gesundheitsamt-kreis-unna.inbox": [
        ("Mia", "handover.requested", "jugendamt-kamen"),
        ("Mia", "offer.accepted", "jugendamt-kamen")],
    "agency.grundschule-kamen-mitte.inbox": [
        ("Leon", "handover.requested", "jugendamt-kamen")],
    "agency.jugendamt-kamen.inbox": [
        ("Leon", "handover.accepted", "grundschule-kamen-mitte"),
        ("Leon", "offer.accepted", "grundschule-kamen-mitte"),
        ("Mia", "handover.accepted", "gesundheitsamt-kreis-unna"),
        ("Mia", "offer.accepted", "gesundheitsamt-kreis-unna")],
    "agency.kita-kamen-regenbogen.inbox": [
        ("Leon", "offer.accepted", "grundschule-kamen-mitte")],
    # The Jobcenter's request for Emma was never answered: its 14-day deadline has passed,
    # so the hub notifies both agencies.
    "agency.jugendamt-luenen.inbox": [
        ("Emma", "handover.requested", "jobcenter-kreis-unna"),
        ("Emma", "handover.stalled", "hub")],
    "agency.jobcenter-kreis-unna.inbox": [
        ("Emma", "handover.stalled", "hub")],
}

# (child, event type) -> words the refusal reason must contain
EXPECTED_REFUSALS = {
    ("Sofia", "offer.accepted"): "revoked",
    ("Leon", "screening.completed"): "before consent",
    ("Noah", "screening.completed"): "no consent",
}


def names_by_subject(key) -> dict[str, str]:
    return {pseudonym(key, *person): child for child, person in CHILDREN.items()}


def inbox_view(events_by_inbox: dict[str, list[dict]], key) -> dict[str, list[tuple]]:
    """inbox -> sorted (child, type, sender) for the examples' children only."""
    names = names_by_subject(key)
    view = {}
    for inbox, events in events_by_inbox.items():
        rows = sorted((names[e["subject"]], e["type"], e["source"]) for e in events
                      if e["subject"] in names)
        if rows:
            view[inbox] = rows
    return view


def refusal_view(audit: list[dict], key) -> dict[tuple[str, str], list[str]]:
    names = names_by_subject(key)
    view: dict[tuple[str, str], list[str]] = {}
    for record in audit:
        if record["decision"] == "refused" and record["subject"] in names:
            view.setdefault((names[record["subject"]], record["type"]), []).append(
                record["reason"])
    return view


def decode_json(value: bytes) -> dict:
    return json.loads(value.decode("utf-8"))
