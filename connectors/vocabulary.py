"""The German vocabularies of agency exports, mapped to the hub's contract."""

from __future__ import annotations

from connectors.pseudonym import normalise_name

EVENTS = {
    "angebot unterbreitet": "offer.made",
    "angebot angenommen": "offer.accepted",
    "angebot abgelehnt": "offer.declined",
    "angebot beendet": "offer.completed",
    "übergabe angefragt": "handover.requested",
    "übergabe angenommen": "handover.accepted",
    "übergabe abgelehnt": "handover.declined",
    "übergabe abgeschlossen": "handover.completed",
}

PURPOSES = {
    "frühe hilfen": "fruehe_hilfen",
    "übergang kita-schule": "uebergang_kita_schule",
    "übergang schule-beruf": "uebergang_schule_beruf",
    "statistik": "statistik",
}

TOWNS = {
    "bergkamen": "bergkamen",
    "boenen": "boenen",
    "froendenberg": "froendenberg",
    "froendenbergruhr": "froendenberg",
    "holzwickede": "holzwickede",
    "kamen": "kamen",
    "luenen": "luenen",
    "selm": "selm",
    "unna": "unna",
    "werne": "werne",
}


def _folded(table: dict[str, str]) -> dict[str, str]:
    """Keys compared ignoring case, spacing, hyphens and umlaut spelling."""
    return {normalise_name(k): v for k, v in table.items()}


_EVENTS, _PURPOSES, _TOWNS = _folded(EVENTS), _folded(PURPOSES), _folded(TOWNS)


def event_type(text: str) -> str | None:
    """``Ereignis`` -> event type, or None when the word is unknown."""
    return _EVENTS.get(normalise_name(text))


def purpose(text: str) -> str | None:
    """``Zweck`` -> purpose, or None when unknown."""
    return _PURPOSES.get(normalise_name(text))


def municipality(text: str) -> str | None:
    """``Wohnort``/``Gemeinde`` in any common spelling -> municipality id, or None."""
    return _TOWNS.get(normalise_name(text))
