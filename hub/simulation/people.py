"""Invented families for the simulated district: names and birth dates that belong to nobody.

Given names are common ones; family names are put together from syllables, so that no
combination is a real person's on purpose. Everything comes from the ``random.Random``
passed in, so a seed gives the same families every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

GIVEN_NAMES = (
    "Mia", "Emma", "Hannah", "Sofia", "Lina", "Ella", "Lea", "Clara", "Marie", "Emilia",
    "Elif", "Zeynep", "Amira", "Lena", "Ida", "Frieda", "Mila", "Nora", "Leonie", "Anna",
    "Noah", "Leon", "Paul", "Ben", "Finn", "Elias", "Emil", "Luca", "Felix", "Jonas",
    "Yusuf", "Mehmet", "Ali", "Adam", "Mats", "Theo", "Milan", "Karim", "Jan", "Tom",
)
_FRONT = ("Ber", "Kal", "Hol", "Wen", "Dör", "Lin", "Ost", "Rad", "Sel", "Tann", "Ul",
          "Vos", "Wal", "Brin", "Fal", "Gers", "Hein", "Kor", "Mar", "Nie")
_BACK = ("mann", "ecke", "kamp", "hoff", "beck", "rath", "meier", "sen", "ke", "er",
         "wald", "dorf", "brink", "haus", "ling", "feld", "berg", "stein", "ski", "oğlu")


@dataclass(frozen=True)
class Child:
    given: str
    family: str
    birth: date
    town: str  # municipality value, e.g. "kamen"

    @property
    def german_birth(self) -> str:
        return self.birth.strftime("%d.%m.%Y")

    def age_on(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day)
                                             < (self.birth.month, self.birth.day))


# How the children the chain meets are spread over the ages (years): most are small.
AGE_WEIGHTS = {0: 9, 1: 7, 2: 6, 3: 5, 4: 5, 5: 7, 6: 4, 7: 3, 8: 2, 9: 2, 10: 2, 11: 2,
               12: 2, 13: 2, 14: 2, 15: 3, 16: 4, 17: 4, 18: 3, 19: 2, 20: 2}


def invent_child(rng: random.Random, town: str, on: date) -> Child:
    """A child living in ``town`` whose age on ``on`` follows :data:`AGE_WEIGHTS`."""
    age = rng.choices(list(AGE_WEIGHTS), weights=list(AGE_WEIGHTS.values()))[0]
    birth = on - timedelta(days=age * 365 + rng.randrange(365))
    family = rng.choice(_FRONT) + rng.choice(_BACK)
    return Child(rng.choice(GIVEN_NAMES), family, birth, town)
