"""Labelled, synthetic data for the linkage bench (and its tests): a population of known
children, spelling variants of some of them (true matches) and look-alikes (different
children that resemble a known one). Every name is invented or a common first or family
name; nobody real is described.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

GIVEN = (
    "Mia Emma Sophia Hannah Emilia Lina Mila Ella Clara Lea Marie Leni Luisa Anna Lena Ida "
    "Frieda Mathilda Greta Paula Noah Leon Paul Ben Finn Elias Felix Henry Luis Jonas Emil "
    "Anton Theo Lukas Maximilian Jakob Moritz David Niklas Tim Jan Tom Max Julian Alexander "
    "Samuel Johannes Fabian Sebastian Mohammed Ahmad Omar Yusuf Ali Hamza Ibrahim Mustafa "
    "Zeynep Elif Ayse Fatma Emir Kerem Leyla Amira Yasmin Sara Nour Malak Aylin Defne Mehmet "
    "Can Deniz Baran Kaan Jana Julia Laura Lara Nina Vanessa Sophie Charlotte Amelie Johanna "
    "Katharina Victoria Helena Isabella Stella Carla Maja Milan Oskar Karl Leo Mats Ole "
    "Piotr Kacper Zofia Wiktoria Jakub Szymon Natalia Agnieszka Oliwia Dominik Kevin Dennis "
    "Marcel Justin Jasmin Celina Michelle Chantal Nele Merle Pia Romy Liv Tilda Smilla"
).split()
FAMILY = (
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
    "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann "
    "Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler "
    "Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn "
    "Schubert Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann "
    "Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt "
    "Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte "
    "Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold "
    "Wolff Pfeiffer Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir "
    "Arslan Doğan Kılıç Aslan Çetin Kara Koç Kurt Özkan Şimşek Haddad Nasser Khalil Mansour "
    "Saleh Hassan Ibrahim Rahimi Ahmadi Hosseini Nowak Kowalski Wiśniewski Wójcik Kamiński "
    "Lewandowski Zieliński Szymański Woźniak Dąbrowski Kozłowski Mazur Krawczyk Petrović "
    "Jovanović Nikolić Marković Hodžić Begić Popescu Ionescu Nguyen Tran Le Pham Rossi "
    "Russo Ferrari Esposito Bianchi Romano Colombo Ricci García Fernández González Silva"
).split()
DOUBLE_GIVEN = ("Anna-Lena", "Lea-Sophie", "Marie-Luise", "Jan-Ole", "Ann-Kathrin", "Lisa-Marie",
                "Mia-Sophie", "Leon-Luca", "Paul-Henry", "Emma-Louisa")
DOUBLE_FAMILY = ("Müller-Kaya", "Schmidt-Nowak", "Weber-Yılmaz", "Becker-Haddad",
                 "Schulze-Wehninck", "Meyer-Öztürk", "Hoffmann-Petrović", "Krause-Demir")

# Names in another script, with the way a German office may write them in Latin letters
CYRILLIC = {
    "Олександр": "Alexander", "Олена": "Olena", "Юлія": "Julija", "Дмитро": "Dmytro",
    "Сергій": "Serhij", "Андрій": "Andrij", "Ірина": "Iryna", "Наталія": "Natalija",
    "Марія": "Marija", "Анастасія": "Anastasija", "Максим": "Maksym", "Іван": "Iwan",
    "Софія": "Sofija", "Богдан": "Bohdan", "Тетяна": "Tetjana", "Вікторія": "Viktorija",
}
CYRILLIC_FAMILY = {
    "Шевченко": "Schewtschenko", "Коваленко": "Kowalenko", "Бондаренко": "Bondarenko",
    "Ткаченко": "Tkatschenko", "Кравчук": "Krawtschuk", "Мельник": "Melnyk",
    "Петренко": "Petrenko", "Шевчук": "Schewtschuk", "Бойко": "Boiko",
    "Ковальчук": "Kowaltschuk", "Олійник": "Olijnyk", "Лисенко": "Lyssenko",
}
OTHER_SCRIPTS = {  # script: (given names, family names)
    "arabic": (("محمد", "يوسف", "فاطمة", "ليلى", "عمر", "زينب", "هدى", "حدى", "مريم", "خالد"),
               ("حداد", "منصور", "خليل", "الحسن", "صالح", "ناصر", "عباس", "يوسف")),
    "greek": (("Γιώργος", "Ελένη", "Νίκος", "Μαρία", "Δημήτρης", "Σοφία", "Κώστας", "Άννα"),
              ("Παπαδόπουλος", "Νικολάου", "Γεωργίου", "Κωνσταντίνου", "Ιωάννου")),
    "hebrew": (("שרה", "סרה", "אברהם", "יעל", "דוד", "נועה", "משה", "רחל"),
               ("כהן", "לוי", "מזרחי", "פרץ", "ביטון")),
    "armenian": (("Արամ", "Անի", "Նարեկ", "Լուսինե", "Դավիթ", "Մարիամ"),
                 ("Պետրոսյան", "Հակոբյան", "Սարգսյան", "Գրիգորյան")),
    "chinese": (("伟", "薇", "維", "巍", "娜", "秀英", "浩然", "静", "敏", "磊"),
                ("王", "汪", "李", "张", "刘", "陈", "杨", "黄")),
}
# Names that transliterate alike but are different names in their own script
COLLISIONS = (("伟", "薇", "維", "巍"), ("王", "汪"), ("هدى", "حدى"), ("שרה", "סרה"))
# Pairs that differ in one letter: twins with these names look like a typing error
ONE_LETTER_APART = (("Lena", "Lina"), ("Mia", "Max"), ("Ida", "Ina"), ("Tim", "Tom"),
                    ("Lara", "Laura"), ("Jana", "Jan"), ("Nele", "Nela"), ("Leon", "Leo"),
                    ("Emil", "Emily"), ("Sara", "Sarah"), ("Marie", "Maria"), ("Ben", "Len"))
PHONETIC_RULES = (("ei", "ai"), ("ai", "ei"), ("ey", "ei"), ("ay", "ai"), ("dt", "tt"),
                  ("tt", "dt"), ("ph", "f"), ("ff", "f"), ("mm", "m"), ("nn", "n"),
                  ("th", "t"), ("ck", "k"), ("tz", "z"), ("ie", "i"), ("dd", "d"), ("ss", "s"),
                  ("y", "j"), ("v", "w"), ("c", "k"), ("z", "s"), ("mm", "m"), ("hm", "m"))
PHONETIC_GIVEN = (("Sophie", "Sofie"), ("Mohammed", "Mohamed"), ("Yusuf", "Jusuf"),
                  ("Sophia", "Sofia"), ("Matthias", "Mathias"), ("Philipp", "Filip"),
                  ("Jasmin", "Yasmin"), ("Katharina", "Catharina"), ("Ahmad", "Ahmed"),
                  ("Niklas", "Nicklas"), ("Christoph", "Kristof"), ("Lukas", "Lucas"))


@dataclass(frozen=True)
class Person:
    given: str
    family: str
    birth: date


@dataclass(frozen=True)
class Case:
    """A new pseudonym to decide: ``truth`` is the index of the known child it is a variant
    of, or None for a look-alike (a child nobody knows)."""

    kind: str
    person: Person
    truth: int | None


def _birth(rng: random.Random) -> date:
    return date(2001, 1, 1) + timedelta(days=rng.randrange(25 * 365))


def population(n: int, rng: random.Random) -> list[Person]:
    """``n`` known children: mostly common German and immigrant names in Latin letters,
    about 5 % with double names, 6 % in Cyrillic, 4 % in another script."""
    people = []
    for _ in range(n):
        r = rng.random()
        if r < 0.06:
            given, family = rng.choice(list(CYRILLIC)), rng.choice(list(CYRILLIC_FAMILY))
        elif r < 0.10:
            names = OTHER_SCRIPTS[rng.choice(list(OTHER_SCRIPTS))]
            given, family = rng.choice(names[0]), rng.choice(names[1])
        elif r < 0.13:
            given, family = rng.choice(DOUBLE_GIVEN), rng.choice(FAMILY)
        elif r < 0.15:
            given, family = rng.choice(GIVEN), rng.choice(DOUBLE_FAMILY)
        else:
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        people.append(Person(given, family, _birth(rng)))
    return people


def typo(name: str, rng: random.Random) -> str:
    """One typing error, not in the first letter: a letter left out, doubled, swapped with
    its neighbour or replaced by its neighbour on the keyboard."""
    keys = "qwertzuiopasdfghjklyxcvbnm"
    i = rng.randrange(1, max(2, len(name) - 1))
    op = rng.choice(("drop", "double", "swap", "replace"))
    if op == "drop" and len(name) > 3:
        return name[:i] + name[i + 1:]
    if op == "double":
        return name[:i] + name[i] + name[i:]
    if op == "swap" and i + 1 < len(name) and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    lower = name[i].lower()
    pos = keys.find(lower)
    other = keys[pos + 1] if 0 <= pos < len(keys) - 1 else "e"
    return name[:i] + other + name[i + 1:]


def phonetic(name: str) -> str | None:
    for a, b in PHONETIC_GIVEN:
        if name == a:
            return b
    lower = name.lower()
    for a, b in PHONETIC_RULES:
        if a in lower[1:]:
            i = lower.index(a, 1)
            return name[:i] + b + name[i + len(a):]
    return None


def _latin(p: Person) -> bool:
    return p.given in GIVEN or p.given in DOUBLE_GIVEN


def _variants(people: list[Person], rng: random.Random, per_kind: int) -> list[Case]:
    def pick(accept) -> tuple[int, Person]:
        for _ in range(10_000):
            i = rng.randrange(len(people))
            if accept(people[i]):
                return i, people[i]
        raise LookupError("no known child fits")

    def replace_date(p: Person, d: date) -> Person:
        return Person(p.given, p.family, d)

    cases = []
    for _ in range(per_kind):
        i, p = pick(lambda p: _latin(p) and phonetic(p.family))
        cases.append(Case("phonetic family name", Person(p.given, phonetic(p.family), p.birth), i))
        i, p = pick(lambda p: p.given in dict(PHONETIC_GIVEN) or (_latin(p) and phonetic(p.given)))
        cases.append(Case("phonetic given name", Person(phonetic(p.given), p.family, p.birth), i))
        i, p = pick(_latin)
        cases.append(Case("typo in family name", Person(p.given, typo(p.family, rng), p.birth), i))
        i, p = pick(_latin)
        cases.append(Case("typo in given name", Person(typo(p.given, rng), p.family, p.birth), i))
        i, p = pick(lambda p: "-" in p.given or "-" in p.family)
        given, family = (p.given.split("-")[rng.randrange(2)] if "-" in p.given else p.given,
                         p.family.split("-")[0] if "-" in p.family else p.family)
        cases.append(Case("part of a double name left out", Person(given, family, p.birth), i))
        i, p = pick(_latin)
        cases.append(Case("given and family name swapped", Person(p.family, p.given, p.birth), i))
        i, p = pick(lambda p: p.birth.day <= 12 and p.birth.day != p.birth.month)
        cases.append(Case("birth day and month swapped",
                          replace_date(p, date(p.birth.year, p.birth.day, p.birth.month)), i))
        i, p = pick(lambda p: p.birth.day not in (10, 20, 30))
        day = p.birth.day + (1 if p.birth.day % 10 < 9 and p.birth.day < 28 else -1)
        cases.append(Case("one wrong digit in the birth day",
                          replace_date(p, p.birth.replace(day=day)), i))
        i, p = pick(lambda p: p.given in CYRILLIC and p.family in CYRILLIC_FAMILY)
        cases.append(Case("another transliteration",
                          Person(CYRILLIC[p.given], CYRILLIC_FAMILY[p.family], p.birth), i))
    return cases


def _look_alikes(people: list[Person], rng: random.Random, per_kind: int) -> list[Case]:
    # a look-alike never has the full name of a known child born in the same year: such a
    # namesake with a birth day one digit away is a typing error's twin (docs/linkage.md)
    known = {(p.given, p.family, p.birth.year) for p in people}

    def new(p: Person) -> bool:
        return (p.given, p.family, p.birth.year) not in known

    def pick(accept):
        for _ in range(10_000):
            p = people[rng.randrange(len(people))]
            if accept(p):
                return p
        raise LookupError("no known child fits")

    cases: list[Case] = []

    def add(kind: str, make, accept=_latin):
        for _ in range(1000):
            candidate = make(pick(accept))
            if candidate and new(candidate):
                cases.append(Case(kind, candidate, None))
                return
    one_letter = dict(ONE_LETTER_APART) | {b: a for a, b in ONE_LETTER_APART}
    script_of = {name: script for script, (g, _f) in OTHER_SCRIPTS.items() for name in g}
    collision = {name: group for group in COLLISIONS for name in group}
    for _ in range(per_kind):
        add("twin with another given name",
            lambda p: Person(rng.choice([g for g in GIVEN if g[0] != p.given[0]]), p.family,
                             p.birth))
        add("twin one letter apart",
            lambda p: Person(one_letter[p.given], p.family, p.birth),
            lambda p: p.given in one_letter)
        add("namesake born in another year",
            lambda p: None if (p.birth.month, p.birth.day) == (2, 29) else Person(
                p.given, p.family, p.birth.replace(year=p.birth.year + rng.choice((-2, -1, 1, 2)))))
        add("a stranger", lambda p: Person(rng.choice(GIVEN), rng.choice(FAMILY), p.birth))
        add("another name in the same script, same birth date",
            lambda p: Person(rng.choice(OTHER_SCRIPTS[script_of[p.given]][0]),
                             rng.choice(OTHER_SCRIPTS[script_of[p.given]][1]), p.birth),
            lambda p: p.given in script_of)
        add("transliterated alike, another name",
            lambda p: Person(rng.choice([n for n in collision.get(p.given, (p.given,))
                                         if n != p.given] or [p.given]),
                             rng.choice([n for n in collision.get(p.family, (p.family,))
                                         if n != p.family] or [p.family]), p.birth),
            lambda p: p.given in collision or p.family in collision)
    return cases


def cases(people: list[Person], rng: random.Random, per_kind: int) -> list[Case]:
    """Spelling variants of known children and look-alikes, ``per_kind`` of each kind."""
    return _variants(people, rng, per_kind) + _look_alikes(people, rng, per_kind)
