"""German display names and number formats for the report (pure)."""

from __future__ import annotations

MUNICIPALITIES = {
    "bergkamen": "Bergkamen", "boenen": "Bönen", "froendenberg": "Fröndenberg/Ruhr",
    "holzwickede": "Holzwickede", "kamen": "Kamen", "luenen": "Lünen", "selm": "Selm",
    "unna": "Unna", "werne": "Werne",
}
LIFE_PHASES = {
    "rund_um_geburt": "Rund um die Geburt", "kleinkind": "Kleinkind (0–3 Jahre)",
    "kita": "Kita-Alter", "grundschule": "Grundschule", "sek1": "Sekundarstufe I",
    "uebergang_beruf": "Übergang Schule–Beruf",
}
AGENCY_KINDS = {
    "youth_office": "Jugendamt", "health": "Gesundheitsamt", "jobcenter": "Jobcenter",
    "school": "Schule", "daycare": "Kita", "statistics": "Statistik", "unknown": "unbekannt",
}
EVENT_TYPES = {
    "consent.granted": "Einwilligung erteilt", "consent.revoked": "Einwilligung widerrufen",
    "offer.made": "Angebot gemacht", "offer.accepted": "Angebot angenommen",
    "offer.declined": "Angebot abgelehnt", "offer.completed": "Angebot abgeschlossen",
    "handover.requested": "Übergabe angefragt", "handover.accepted": "Übergabe angenommen",
    "handover.declined": "Übergabe abgelehnt", "handover.completed": "Übergabe abgeschlossen",
    "handover.stalled": "Übergabe stockt", "screening.completed": "Untersuchung abgeschlossen",
    "subject.erased": "Daten gelöscht", "linkage.decision": "Zuordnung",
}
MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
          "Oktober", "November", "Dezember")
SUPPRESSED = {
    "primary": "unterdrückt (weniger als k Kinder)",
    "complementary": "unterdrückt (schützt eine andere Zelle)",
}
SUPPRESSED_SHORT = {"primary": "< k", "complementary": "geschützt"}


def municipality(value: str) -> str:
    return MUNICIPALITIES.get(value, value)


def life_phase(value: str) -> str:
    return LIFE_PHASES.get(value, value)


def agency_kind(value: str) -> str:
    return AGENCY_KINDS.get(value, value)


def event_type(value: str) -> str:
    return EVENT_TYPES.get(value, value)


def month(value: str) -> str:
    """``2026-11`` -> ``November 2026``."""
    year, number = value.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def week(value: str) -> str:
    """``2026-W48`` -> ``KW 48/2026``."""
    year, number = value.split("-W")
    return f"KW {int(number)}/{year}"


def number(value: float | int, decimals: int = 0) -> str:
    """German number format: ``1.234``, ``5,5``."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def percent(share: float) -> str:
    return f"{number(share * 100, 1)} %"


def day(value) -> str:
    return value.strftime("%d.%m.%Y")
