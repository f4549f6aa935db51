"""Field-by-field comparison of two children's linkage encodings, with Fellegi–Sunter weights.

Each field agrees at one level; a level's weight is log2(m/u): m is the chance of that level
when both encodings are of the same child, u when they are of two different children.

Where the figures come from (docs/linkage.md, "Weights"):

- m: the error rates of Mainzelliste's defaults, from a German cancer registry's evaluation
  (given name differs in 1 % of true pairs, family name 0.8 %, birth day 0.5 %, month
  0.2 %, year 0.4 %), split over the kinds of difference seen in the agencies' exports.
- u: the chance that two different children agree so by accident: about 1 in 100 for a
  given name within a birth year, 1 in 500 for a family name, 1 in 9,000 for a birth date
  among the 25 years the chain covers.

A swapped pair of names is scored as if in place, less ``SWAP_PENALTY``.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import NamedTuple

from hub.contract.linkage import Encodings, NameEncoding


class NameLevel(StrEnum):
    EXACT = "exact"
    PART = "part"  # one part of a double name agrees (Anna-Lena / Anna)
    SIMILAR = "similar"  # letter pairs largely agree (a typing error)
    PHONETIC = "phonetic"  # same Kölner Phonetik code, letter pairs less alike
    WEAK = "weak"  # letter pairs agree in part (two typing errors, another transliteration)
    DIFFERENT = "different"


class DateLevel(StrEnum):
    EXACT = "exact"
    SWAPPED = "swapped"  # day and month swapped
    DAY_TYPO = "day_typo"  # the day differs in one digit
    YEAR_MONTH = "year_month"
    YEAR = "year"
    DIFFERENT = "different"


SIMILAR_DICE = 0.70
"""Dice of the letter-pair filters from which two names count as similar (a typing error:
Schmidt/Schmdit 0.71, Meyer/Meier 0.72; different names: Meyer/Schmidt 0.08, Mia/Max 0.28)."""
WEAK_DICE = 0.50
"""From this Dice on, two names agree weakly (Kovalchuk/Kowaltschuk, Weber/Webre 0.51)."""


def _w(m: float, u: float) -> float:
    return round(math.log2(m / u), 2)


GIVEN_WEIGHTS = {
    NameLevel.EXACT: _w(0.960, 0.010),
    NameLevel.PART: _w(0.010, 0.003),
    NameLevel.SIMILAR: _w(0.012, 0.002),
    NameLevel.PHONETIC: _w(0.010, 0.008),
    NameLevel.WEAK: _w(0.003, 0.040),
    NameLevel.DIFFERENT: _w(0.005, 0.937),
}
FAMILY_WEIGHTS = {
    NameLevel.EXACT: _w(0.968, 0.002),
    NameLevel.PART: _w(0.008, 0.0005),
    NameLevel.SIMILAR: _w(0.010, 0.0005),
    NameLevel.PHONETIC: _w(0.008, 0.002),
    NameLevel.WEAK: _w(0.003, 0.040),
    NameLevel.DIFFERENT: _w(0.003, 0.955),
}
DATE_WEIGHTS = {
    DateLevel.EXACT: _w(0.989, 1 / 9000),
    DateLevel.SWAPPED: _w(0.002, 1 / 9000),
    DateLevel.DAY_TYPO: _w(0.004, 12 / 9000),
    DateLevel.YEAR_MONTH: _w(0.001, 1 / 300),
    DateLevel.YEAR: _w(0.002, 1 / 25),
    DateLevel.DIFFERENT: _w(0.002, 0.96),
}
SWAP_PENALTY = 3.0
_FAMILY_BEST = max(FAMILY_WEIGHTS.values())
MAX_SCORE = GIVEN_WEIGHTS[NameLevel.EXACT] + FAMILY_WEIGHTS[NameLevel.EXACT] + \
    DATE_WEIGHTS[DateLevel.EXACT]


def dice(a: int, b: int) -> float:
    total = a.bit_count() + b.bit_count()
    return 2 * (a & b).bit_count() / total if total else 0.0


def name_level(a: NameEncoding, b: NameEncoding) -> NameLevel:
    if a.exact == b.exact:
        return NameLevel.EXACT
    if (len(a.parts) > 1 or len(b.parts) > 1) and not a.parts.isdisjoint(b.parts):
        return NameLevel.PART
    x, y = a.bloom, b.bloom
    total = x.bit_count() + y.bit_count()
    similarity = 2 * (x & y).bit_count() / total if total else 0.0  # dice(x, y), inline
    if similarity >= SIMILAR_DICE:
        return NameLevel.SIMILAR
    if a.phonetic == b.phonetic:
        return NameLevel.PHONETIC
    if similarity >= WEAK_DICE:
        return NameLevel.WEAK
    return NameLevel.DIFFERENT


def date_level(a: Encodings, b: Encodings) -> DateLevel:
    x, y = a.birth, b.birth
    if x.date == y.date:
        return DateLevel.EXACT
    if x.swapped is not None and x.swapped == y.date:
        return DateLevel.SWAPPED
    if y.date in x.day_typos:
        return DateLevel.DAY_TYPO
    if x.year_month == y.year_month:
        return DateLevel.YEAR_MONTH
    if x.year == y.year:
        return DateLevel.YEAR
    return DateLevel.DIFFERENT


class Comparison(NamedTuple):
    """How two children's encodings agree: per field, the total weight, and whether the names
    agree only when swapped. ``script_conflict``: both names are in another script, and
    their letters there differ (王伟 / 汪伟). (A named tuple: made for every candidate, it
    is quicker to make than a frozen dataclass.)"""

    given: NameLevel
    family: NameLevel
    date: DateLevel
    swapped_names: bool
    script_conflict: bool
    score: float

    def agreeing(self) -> list[str]:
        """The fields that agree, with their level: for the trust office."""
        fields = []
        for field, level in (("given", self.given), ("family", self.family),
                             ("birth_date", self.date)):
            if level not in (NameLevel.DIFFERENT, DateLevel.DIFFERENT):
                fields.append(field if level == "exact" else f"{field}:{level}")
        return fields + (["names_swapped"] if self.swapped_names else [])


def compare(a: Encodings, b: Encodings) -> Comparison:
    date = date_level(a, b)
    in_place = (name_level(a.given, b.given), name_level(a.family, b.family))
    score_in_place = GIVEN_WEIGHTS[in_place[0]] + FAMILY_WEIGHTS[in_place[1]]
    swapped_given = name_level(a.given, b.family)
    # the crosswise score counts only when higher: skip what cannot make it so
    is_swapped = GIVEN_WEIGHTS[swapped_given] + _FAMILY_BEST - SWAP_PENALTY > score_in_place
    if is_swapped:
        swapped = (swapped_given, name_level(a.family, b.given))
        score_swapped = GIVEN_WEIGHTS[swapped[0]] + FAMILY_WEIGHTS[swapped[1]] - SWAP_PENALTY
        is_swapped = score_swapped > score_in_place
    given, family = swapped if is_swapped else in_place
    names = score_swapped if is_swapped else score_in_place
    conflict = a.script is not None and b.script is not None and a.script != b.script
    return Comparison(given, family, date, is_swapped, conflict,
                      round(names + DATE_WEIGHTS[date], 2))
