"""A simulated district: what the agencies of Kreis Unna would export, day by day (pure).

Families live in the nine towns (in proportion to their population). Each family meets the
prevention chain in *episodes*, a few months apart, whose course depends on the child's
age: early help from the town's youth office and the health office's family midwives;
the day-care -> school transition with the school-entry examination; the school -> work
transition between the Jobcenter and the youth office; and, for school children, support
counted for statistics only. Along the way consents are collected (sometimes late, never,
or withdrawn later), offers are accepted or declined, and handovers are answered in time,
late, never, or declined and then sent to another agency (a bounce), and young people are
handed back and forth between the Jobcenter and the youth office (ping-pong).

What reaches the hub is the agencies' daily exports, in their own formats and German
words, with the noise of real exports: a day's export that comes days late, rows exported
again, and a few broken rows that are corrected in the next day's export.

Everything follows from the seed: each family draws from a generator of its own, and the
noise of each day from one of that day's, so the rows of a day never depend on how long
the simulation runs or where a run was resumed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from connectors.consent import COLUMNS as CONSENT_COLUMNS
from connectors.formats import FORMATS
from connectors.vocabulary import TOWN_WORDS
from hub.agencies import AgencyDirectory
from hub.simulation.people import Child, invent_child

# Inhabitants (thousands) of the district's towns: where the families live.
TOWN_WEIGHTS = {"luenen": 86, "unna": 59, "bergkamen": 49, "kamen": 43, "werne": 30,
                "selm": 26, "froendenberg": 21, "boenen": 18, "holzwickede": 17}
EPISODE_GAP_DAYS = 70  # on average, a family meets the chain again after ten weeks

EARLY_HELP_OFFERS = ("Familienhebamme", "Willkommensbesuch", "Elterncafé", "Babylotsen")
SCHOOL_AGE_OFFERS = ("Hausaufgabenhilfe", "Erziehungsberatung", "Lernförderung")
WORK_OFFERS = ("Ausbildungsberatung", "Bewerbungstraining", "Einstiegsqualifizierung")
SCREENING_RESULTS = ("ohne Befund",) * 6 + (
    "Förderbedarf Sprache", "Förderbedarf Sprache", "Förderbedarf Motorik",
    "Förderbedarf sozial-emotional", "Förderbedarf Wahrnehmung", "Förderbedarf mehrfach")

FH, KS, SB, ST = "Frühe Hilfen", "Übergang Kita-Schule", "Übergang Schule-Beruf", "Statistik"
COLUMNS = {name: fmt.columns for name, fmt in FORMATS.items()}
COLUMNS["school"] = (*COLUMNS["school"], "Klasse", "Zielstelle")
COLUMNS["health"] = (*COLUMNS["health"], "Zielstelle")
COLUMNS["consent"] = CONSENT_COLUMNS


@dataclass(frozen=True)
class Row:
    """One export row: on ``day`` (days since the start), ``agency`` recorded it."""

    day: int
    agency: str
    format: str  # youth_office | school | health | jobcenter | consent
    values: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class Export:
    """One file an agency exports at the end of a day."""

    agency: str
    format: str
    rows: tuple[dict[str, str], ...]
    late_by: int = 0  # days after the rows' own day
    resent: int = 0  # rows exported again from earlier days
    broken: int = 0  # rows that the connector will reject

    @property
    def file_name(self) -> str:
        if self.format == "consent":
            return f"einwilligungen_{self.agency}.csv"
        return f"{self.agency}_export.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS[self.format]

    def csv_text(self) -> str:
        lines = [";".join(self.columns)]
        lines += [";".join(row.get(c, "") for c in self.columns) for row in self.rows]
        return "\n".join(lines) + "\n"


@dataclass
class _Family:
    index: int
    child: Child
    consent_habit: str  # prompt | late | never
    rng: random.Random
    next_start: float = 0.0  # the day its next episode starts
    consents: dict[str, str] = field(default_factory=dict)  # purpose word -> consent id
    rows: int = 0


class _Episode:
    """Writes the rows of one episode of one family, in the agencies' own formats."""

    def __init__(self, sim: DistrictSimulation, family: _Family, rng: random.Random,
                 start: int):
        self.sim, self.family, self.rng, self.start = sim, family, rng, start
        self.rows: list[Row] = []

    # ------------------------------------------------------------------ helpers
    def _record(self, prefix: str) -> str:
        self.family.rows += 1
        return f"{prefix}-{self.sim.tag}-{self.family.index:04d}-{self.family.rows:02d}"

    def _person(self) -> dict[str, str]:
        c = self.family.child
        return {"Vorname": c.given, "Nachname": c.family, "Geburtsdatum": c.german_birth}

    def _date(self, day: int) -> str:
        return self.sim.date_of(day).strftime("%d.%m.%Y")

    def event(self, day: int, agency: str, word: str, purpose: str, *, offer: str = "",
              to: str = "", handover: str = "") -> None:
        """An event row in the format of ``agency``'s kind."""
        kind = self.sim.agencies.get(agency).kind
        town = TOWN_WORDS[self.family.child.town]
        values = {**self._person(), "Datum": self._date(day), "Zweck": purpose}
        if kind == "youth_office":
            fmt = "youth_office"
            values |= {"Vorgangsnummer": self._record("JA"), "Ereignis": word,
                       "Wohnort": town, "Angebot": offer, "Zielstelle": to,
                       "Uebergabe-ID": handover}
        elif kind == "jobcenter":
            fmt = "jobcenter"
            values |= {"BG-Nummer": f"36104BG{self.sim.tag}{self.family.index:04d}",
                       "Ereignis": word, "Wohnort": town, "Maßnahme": offer,
                       "Zielstelle": to, "Uebergabe-ID": handover}
        elif kind == "health":
            fmt = "health"
            values |= {"Untersuchungs-Nr": self._record("GA"), "Art": word,
                       "Gemeinde": town, "Ergebnis": offer, "Bezug": handover,
                       "Zielstelle": to}
        else:  # school, daycare
            fmt = "school"
            values |= {"Schüler-ID": self._record("S"), "Klasse": "", "Ereignis": word,
                       "Wohnort": town, "Bezug": handover or offer, "Zielstelle": to}
        self.rows.append(Row(day, agency, fmt, tuple(values.items())))

    def screening(self, day: int, agency: str, result: str) -> None:
        values = {**self._person(), "Untersuchungs-Nr": self._record("GA"),
                  "Art": "Schuleingangsuntersuchung", "Datum": self._date(day),
                  "Gemeinde": TOWN_WORDS[self.family.child.town], "Ergebnis": result,
                  "Bezug": "", "Zweck": KS}
        self.rows.append(Row(day, agency, "health", tuple(values.items())))

    def consent(self, day: int, agency: str, purpose: str, recipients: list[str]) -> None:
        """The family signs a consent form at ``agency`` (or, depending on the family, a
        few days later, or never); a few withdraw it later."""
        habit = self.family.consent_habit
        if habit == "never" or purpose in self.family.consents:
            return
        if habit == "late":
            day += self.rng.randint(2, 6)
        consent_id = f"EW-{self.sim.tag}-{self.family.index:04d}-{len(self.family.consents)}"
        self.family.consents[purpose] = consent_id
        c = self.family.child
        granted = {"Einwilligungs-ID": consent_id, **self._person(),
                   "Wohnort": TOWN_WORDS[c.town], "Zweck": purpose,
                   "Empfaenger": ",".join(dict.fromkeys(recipients)),
                   "Gueltig_ab": self._date(day), "Gueltig_bis": self._date(day + 730),
                   "Status": "erteilt", "Erfasst_am": self._date(day)}
        self.rows.append(Row(day, agency, "consent", tuple(granted.items())))
        if self.rng.random() < 0.03:
            withdrawn = day + self.rng.randint(10, 60)
            values = granted | {"Status": "widerrufen", "Erfasst_am": self._date(withdrawn)}
            self.rows.append(Row(withdrawn, agency, "consent", tuple(values.items())))

    def handover(self, day: int, sender: str, recipient: str, purpose: str,
                 accept: float, then=None) -> int | None:
        """``sender`` asks ``recipient`` to take the family over; the answer comes in time,
        late, never, or is a decline. Returns the day it was accepted (None otherwise)."""
        rng = self.rng
        hid = f"UE-{self.sim.tag}-{self.family.index:04d}-{self.family.rows:02d}"
        self.event(day, sender, "Übergabe angefragt", purpose, to=recipient, handover=hid)
        roll = rng.random()
        if roll < accept:  # in time
            answered = day + rng.randint(1, 12)
        elif roll < accept + 0.08:  # past the deadline of 14 days
            answered = day + rng.randint(16, 26)
        elif roll < accept + 0.14:  # never: the hub reports it stalled
            return None
        else:
            declined = day + rng.randint(2, 9)
            self.event(declined, recipient, "Übergabe abgelehnt", purpose, handover=hid)
            if then:  # the sender tries another agency: a bounce
                then(declined + rng.randint(1, 5))
            return None
        self.event(answered, recipient, "Übergabe angenommen", purpose, handover=hid)
        if rng.random() < 0.8:
            self.event(answered + rng.randint(20, 80), recipient, "Übergabe abgeschlossen",
                       purpose, handover=hid)
        return answered

    def offer(self, day: int, agency: str, purpose: str, name: str, accept: float = 0.75,
              complete_after: tuple[int, int] = (25, 70)) -> bool:
        self.event(day, agency, "Angebot unterbreitet", purpose, offer=name)
        taken = self.rng.random() < accept
        answer = day + self.rng.randint(1, 6)
        self.event(answer, agency, "Angebot angenommen" if taken else "Angebot abgelehnt",
                   purpose, offer=name)
        if taken and self.rng.random() < 0.7:
            self.event(answer + self.rng.randint(*complete_after), agency, "Angebot beendet",
                       purpose, offer=name)
        return taken

    # ---------------------------------------------------------------- episodes
    def run(self) -> list[Row]:
        age = self.family.child.age_on(self.sim.date_of(self.start))
        if age < 3:
            self.early_help()
        elif age < 6:
            self.day_care_to_school() if age >= 5 else self.early_help()
        elif age < 16:
            self.school_age()
        else:
            self.school_to_work()
        return self.rows

    def early_help(self) -> None:
        sim, s, rng = self.sim, self.start, self.rng
        youth, health, jobcenter = sim.youth_office(self), sim.health, sim.jobcenter
        self.consent(s, youth, FH, [youth, health])
        name = rng.choice(EARLY_HELP_OFFERS)
        if self.offer(s, youth, FH, name) and (name == "Familienhebamme"
                                               or rng.random() < 0.5):
            def bounce(day: int) -> None:
                self.handover(day, youth, jobcenter, FH, accept=0.7)
            accepted = self.handover(s + rng.randint(2, 6), youth, health, FH, accept=0.7,
                                     then=bounce)
            if accepted:
                self.offer(accepted + rng.randint(1, 3), health, FH, "Familienhebamme",
                           accept=0.9)

    def day_care_to_school(self) -> None:
        sim, s, rng = self.sim, self.start, self.rng
        town = self.family.child.town
        youth, health = sim.youth_office(self), sim.health
        kita, school = sim.of_kind("daycare", town), sim.of_kind("school", town)
        sender = kita or youth
        receiver = school or youth
        self.consent(s, sender, KS, [sender, receiver, youth, health])
        result = rng.choice(SCREENING_RESULTS)
        self.screening(s + rng.randint(0, 10), health, result)
        if result != "ohne Befund":
            self.offer(s + rng.randint(10, 20), sender, KS, "Sprachförderung"
                       if "Sprache" in result else "Frühförderung")
        if receiver != sender:
            def bounce(day: int) -> None:
                self.handover(day, sender, youth, KS, accept=0.8)
            accepted = self.handover(s + rng.randint(5, 20), sender, receiver, KS,
                                     accept=0.78, then=bounce if youth != receiver else None)
            if accepted and school:
                self.offer(accepted + rng.randint(5, 15), school, KS, "Sprachförderung",
                           accept=0.8)

    def school_age(self) -> None:
        # counted for statistics only: no consent needed, nothing reaches an inbox
        self.offer(self.start, self.sim.youth_office(self), ST,
                   self.rng.choice(SCHOOL_AGE_OFFERS), accept=0.7)

    def school_to_work(self) -> None:
        sim, s, rng = self.sim, self.start, self.rng
        youth, jobcenter = sim.youth_office(self), sim.jobcenter
        self.consent(s, jobcenter, SB, [jobcenter, youth])
        self.offer(s, jobcenter, SB, rng.choice(WORK_OFFERS), accept=0.7)
        accepted = self.handover(s + rng.randint(1, 7), jobcenter, youth, SB, accept=0.65)
        if accepted and rng.random() < 0.25:  # handed back, and over again: ping-pong
            back = accepted + rng.randint(3, 10)
            self.handover(back, youth, jobcenter, SB, accept=0.9)
            self.handover(back + rng.randint(3, 10), jobcenter, youth, SB, accept=0.7)


class DistrictSimulation:
    """The district's exports, day by day, from ``seed``."""

    def __init__(self, agencies: AgencyDirectory, seed: int, families: int, start: date):
        self.agencies = agencies
        self.seed = seed
        self.start = start
        self.tag = f"{seed % 1000:03d}"
        self.health = self._single("health")
        self.jobcenter = self._single("jobcenter")
        rng = random.Random(f"district/{seed}")
        towns, weights = list(TOWN_WEIGHTS), list(TOWN_WEIGHTS.values())
        self.families = []
        for index in range(families):
            town = rng.choices(towns, weights=weights)[0]
            habit = rng.choices(("prompt", "late", "never"), weights=(78, 10, 12))[0]
            family = _Family(index, invent_child(rng, town, start), habit,
                             random.Random(f"family/{seed}/{index}"))
            family.next_start = family.rng.uniform(0, EPISODE_GAP_DAYS)
            self.families.append(family)
        self._rows: dict[int, list[Row]] = defaultdict(list)

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    # ------------------------------------------------------------------ the days
    def exports(self, day: int) -> list[Export]:
        """What the agencies export at the end of ``day`` (consent files first): the rows
        of the day (a few files come days late), some rows of the last week again, a few
        rows broken, and yesterday's broken rows corrected."""
        due = self._due(day)
        fixed = {key: [r for r in rows if self._is_broken(r)]
                 for key, rows in (self._due(day - 1) if day > 0 else {}).items()}
        rng = random.Random(f"resend/{self.seed}/{day}")
        files = []
        for key in sorted(set(due) | {k for k, v in fixed.items() if v},
                          key=lambda k: (k[1] != "consent", k)):
            agency, fmt = key
            rows = [_break(r) if self._is_broken(r) else r.as_dict()
                    for r in due.get(key, [])]
            broken = sum(map(self._is_broken, due.get(key, [])))
            rows += [r.as_dict() for r in fixed.get(key, [])]
            resent = 0
            if fmt != "consent" and rng.random() < 0.06:  # rows of last week, again
                earlier = [r for d in range(max(0, day - 7), day)
                           for r in self._rows_of(d) if (r.agency, r.format) == key]
                again = rng.sample(earlier, min(len(earlier), rng.randint(1, 3)))
                rows += [r.as_dict() for r in again]
                resent = len(again)
            late = max((day - r.day for r in due.get(key, [])), default=0)
            files.append(Export(agency, fmt, tuple(rows), late, resent, broken))
        return files

    def _due(self, day: int) -> dict[tuple[str, str], list[Row]]:
        """The rows exported at the end of ``day``, by (agency, format): the day's own,
        unless that export comes late, and those of earlier days that come late today."""
        due: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for source_day in range(max(0, day - 10), day + 1):
            for row in self._rows_of(source_day):
                key = (row.agency, row.format)
                if source_day + self._delay(source_day, key) == day:
                    due[key].append(row)
        return due

    def _delay(self, day: int, key: tuple[str, str]) -> int:
        """Days by which the export of ``key`` of ``day`` comes late (mostly 0)."""
        rng = random.Random(f"late/{self.seed}/{day}/{key[0]}/{key[1]}")
        return rng.randint(3, 10) if rng.random() < 0.02 else 0

    def _is_broken(self, row: Row) -> bool:
        """About one event row in a hundred leaves the agency broken (and is corrected in
        the next day's export)."""
        return row.format != "consent" and random.Random(
            f"broken/{self.seed}/{row.day}/{row.agency}/{row.values}").random() < 0.01

    def _rows_of(self, day: int) -> list[Row]:
        """The rows recorded on ``day``: every episode that starts on or before it is run
        (each family draws from its own generator, episode after episode)."""
        for family in self.families:
            while int(family.next_start) <= day:
                episode = _Episode(self, family, family.rng, int(family.next_start))
                for row in episode.run():
                    self._rows[row.day].append(row)
                family.next_start += family.rng.expovariate(1 / EPISODE_GAP_DAYS)
        return self._rows.get(day, [])

    # ------------------------------------------------------------------ agencies
    def _single(self, kind: str) -> str:
        return next(a.id for a in self.agencies if a.kind == kind)

    def of_kind(self, kind: str, town: str) -> str | None:
        return next((a.id for a in self.agencies if a.kind == kind
                     and a.municipality == town), None)

    def youth_office(self, episode: _Episode) -> str:
        town = episode.family.child.town
        return next(a.id for a in self.agencies if a.kind == "youth_office"
                    and town in a.covers)


BROKEN = ("date", "town", "word", "no date")


def _break(original: Row) -> dict[str, str]:
    """A row as broken exports have them: a date that does not exist, a town outside the
    district, a word of no vocabulary, or no date at all."""
    row = original.as_dict()
    how = random.Random(str(original.values)).choice(BROKEN)
    if how == "date":
        row["Datum"] = "31.02." + row["Datum"][-4:]
    elif how == "town":
        row["Wohnort" if "Wohnort" in row else "Gemeinde"] = "Dortmund"
    elif how == "word" and ("Ereignis" in row or "Art" in row):
        row["Ereignis" if "Ereignis" in row else "Art"] = "Übergabe vielleicht"
    else:
        row["Datum"] = ""
    return row
