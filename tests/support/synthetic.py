"""Synthetic agency exports of any size (every person invented), for tests and benchmarks
(bench/ imports it from here; it is not part of the installed package)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

GIVEN = ("Mila", "Ben", "Lina", "Paul", "Ela", "Finn", "Nele", "Emil", "Aylin", "Jonas",
         "Zeynep", "Luca", "Ida", "Milan", "Hanna", "Can")
FAMILY = ("Becker", "Öztürk", "Schulte", "Kowalski", "Hoffmann", "Demir", "Wagner", "Krause",
          "Yıldız", "Brandt", "Lehmann", "Şimşek", "Vogel", "Nowak", "Jansen", "Groß")
TOWNS = ("Bergkamen", "Bönen", "Fröndenberg/Ruhr", "Holzwickede", "Kamen", "Lünen", "Selm",
         "Unna", "Werne")
YOUTH_OFFICE_HEADER = ("Vorgangsnummer;Ereignis;Datum;Vorname;Nachname;Geburtsdatum;Wohnort;"
                       "Angebot;Zielstelle;Zweck;Uebergabe-ID")
OFFERS = ("Familienhebamme", "Elterncafé", "Sprachförderung", "Erziehungsberatung")


def youth_office_rows(n: int, seed: int = 1):
    """``n`` rows of a youth-office export (offers and handover requests)."""
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    for i in range(n):
        birth = start - timedelta(days=rng.randrange(60, 365 * 17))
        on = start + timedelta(days=rng.randrange(0, 300))
        name = f"{rng.choice(GIVEN)};{rng.choice(FAMILY)}"
        if rng.random() < 0.7:
            word = rng.choice(("Angebot unterbreitet", "Angebot angenommen"))
            detail = f"{rng.choice(OFFERS)};;Frühe Hilfen;"
        else:
            word = "Übergabe angefragt"
            detail = f";gesundheitsamt-kreis-unna;Frühe Hilfen;UE-{i:07d}"
        yield (f"JA-{i:08d};{word};{on:%d.%m.%Y};{name};{birth:%d.%m.%Y};"
               f"{rng.choice(TOWNS)};{detail}")


def write_youth_office_export(path: Path, n: int, seed: int = 1) -> Path:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(YOUTH_OFFICE_HEADER + "\n")
        for row in youth_office_rows(n, seed):
            fh.write(row + "\n")
    return path
