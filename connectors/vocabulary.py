"""The German vocabularies of agency exports, mapped to the hub's contract and back.

Words are matched ignoring case, spacing, hyphens and umlaut spelling ("Uebergabe
angefragt" = "Übergabe angefragt"); an unknown word is a row error, never a guess. The
reverse tables (``*_WORDS``) give the German word for a contract value, for files that the
hub writes back to agencies (``hub deliver``).
"""

from __future__ import annotations

from functools import lru_cache

from connectors.pseudonym import normalise_name

# Ereignis (and Art in health exports) -> event type
EVENTS = {
    "Angebot unterbreitet": "offer.made",
    "Angebot angenommen": "offer.accepted",
    "Angebot abgelehnt": "offer.declined",
    "Angebot beendet": "offer.completed",
    "Übergabe angefragt": "handover.requested",
    "Übergabe angenommen": "handover.accepted",
    "Übergabe abgelehnt": "handover.declined",
    "Übergabe abgeschlossen": "handover.completed",
}
# German words for every event type, including those no export row carries
EVENT_WORDS = {
    **{etype: word for word, etype in EVENTS.items()},
    "consent.granted": "Einwilligung erteilt",
    "consent.revoked": "Einwilligung widerrufen",
    "handover.stalled": "Übergabe überfällig",
    "screening.completed": "Untersuchung abgeschlossen",
    "subject.erased": "Daten gelöscht",
}

# Zweck -> purpose
PURPOSES = {
    "Frühe Hilfen": "fruehe_hilfen",
    "Übergang Kita-Schule": "uebergang_kita_schule",
    "Übergang Schule-Beruf": "uebergang_schule_beruf",
    "Statistik": "statistik",
}
PURPOSE_WORDS = {purpose: word for word, purpose in PURPOSES.items()}

# Art of a health-office examination -> screening kind
SCREENINGS = {"Schuleingangsuntersuchung": "schuleingangsuntersuchung"}
SCREENING_WORDS = {kind: word for word, kind in SCREENINGS.items()}

# Ergebnis of an examination -> coarse support category (never a diagnosis)
SUPPORT_CATEGORIES = {
    "ohne Befund": "ohne_befund",
    "Förderbedarf Sprache": "foerderbedarf_sprache",
    "Förderbedarf Motorik": "foerderbedarf_motorik",
    "Förderbedarf Wahrnehmung": "foerderbedarf_wahrnehmung",
    "Förderbedarf sozial-emotional": "foerderbedarf_sozial_emotional",
    "Förderbedarf Kognition": "foerderbedarf_kognition",
    "Förderbedarf mehrfach": "foerderbedarf_mehrfach",
}
SUPPORT_CATEGORY_WORDS = {category: word for word, category in SUPPORT_CATEGORIES.items()}

# Status of a consent row -> event type
CONSENT_STATUSES = {"erteilt": "consent.granted", "widerrufen": "consent.revoked"}

# Wohnort / Gemeinde -> municipality id
TOWNS = {
    "Bergkamen": "bergkamen",
    "Bönen": "boenen",
    "Fröndenberg": "froendenberg",
    "Fröndenberg/Ruhr": "froendenberg",
    "Holzwickede": "holzwickede",
    "Kamen": "kamen",
    "Lünen": "luenen",
    "Selm": "selm",
    "Unna": "unna",
    "Werne": "werne",
}
TOWN_WORDS = {town: word for word, town in TOWNS.items() if "/" not in word}


def _folded(table: dict[str, str]) -> dict[str, str]:
    return {normalise_name(k): v for k, v in table.items()}


_EVENTS, _PURPOSES, _TOWNS = _folded(EVENTS), _folded(PURPOSES), _folded(TOWNS)
_SCREENINGS, _CATEGORIES = _folded(SCREENINGS), _folded(SUPPORT_CATEGORIES)
_CONSENT = _folded(CONSENT_STATUSES)


@lru_cache(maxsize=1024)
def event_type(text: str) -> str | None:
    """``Ereignis`` -> event type, or None when the word is unknown."""
    return _EVENTS.get(normalise_name(text))


@lru_cache(maxsize=1024)
def purpose(text: str) -> str | None:
    """``Zweck`` -> purpose, or None when unknown."""
    return _PURPOSES.get(normalise_name(text))


@lru_cache(maxsize=1024)
def municipality(text: str) -> str | None:
    """``Wohnort``/``Gemeinde`` in any common spelling -> municipality id, or None."""
    return _TOWNS.get(normalise_name(text))


@lru_cache(maxsize=1024)
def screening_kind(text: str) -> str | None:
    """``Art`` of an examination -> screening kind, or None."""
    return _SCREENINGS.get(normalise_name(text))


@lru_cache(maxsize=1024)
def support_category(text: str) -> str | None:
    """``Ergebnis`` of an examination -> support category, or None."""
    return _CATEGORIES.get(normalise_name(text))


@lru_cache(maxsize=1024)
def consent_status(text: str) -> str | None:
    """``Status`` of a consent row -> consent.granted / consent.revoked, or None."""
    return _CONSENT.get(normalise_name(text))
