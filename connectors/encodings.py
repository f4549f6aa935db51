"""A child's linkage encodings, computed by the connector beside the exact pseudonym.

The linkage key is derived from the pseudonymisation key (an HMAC of a fixed label under
it), so that every agency derives the same one and the hub never holds it. Each value is an
HMAC under that key; names are salted with the birth year, so that the same name in two
years gives unrelated values (against graph and pattern-mining attacks on the filters,
docs/privacy.md "Linkage encodings"):

- per name: a 512-bit Bloom filter of the letter pairs of the transliterated, folded name
  (eight positions a pair), tokens of the whole name, of its Kölner Phonetik code and of
  each part of a double name (Anna-Lena: anna, lena);
- the birth date: tokens of the date, of the date with day and month swapped, of year and
  month, of the year, and of the dates whose day differs in one digit;
- a token of the names' letters in their own script, for names in another script.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from datetime import date

from connectors.phonetics import cologne
from connectors.pseudonym import normalise_name, script_letters
from hub.contract.linkage import FILTER_BITS, TOKEN_CHARS, BirthEncoding, Encodings, NameEncoding
from hub.settings import PseudonymKey

_LABEL = b"unna-hub linkage key v1"
_POSITIONS = 8
_PART_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_/]+")


class RecentChildren:
    """The children whose encodings a connector sent lately: the latest ``size`` of them,
    so that memory stays flat; a child forgotten here gets its encodings sent again, which
    is harmless (the stage files known encodings, and the topic keeps the newest)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def seen(self, subject: str) -> bool:
        """Whether ``subject``'s encodings went lately (it counts as the latest then)."""
        if subject in self._seen:
            self._seen.move_to_end(subject)
            return True
        return False

    def note(self, subject: str) -> None:
        self._seen[subject] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)


def linkage_key(key: PseudonymKey) -> bytes:
    """The key of the encodings, derived from the pseudonymisation key."""
    return hmac.new(key.secret.get_secret_value(), _LABEL, hashlib.sha256).digest()


def _token(key: bytes, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return hmac.digest(key, message, "sha256").hex()[:TOKEN_CHARS]


def _bloom(key: bytes, salt: str, name: str) -> int:
    padded = f"_{name}_"
    bits = 0
    for pair in {padded[i:i + 2] for i in range(len(padded) - 1)}:
        digest = hmac.digest(key, f"bf\x1f{salt}\x1f{pair}".encode(), "sha256")
        for j in range(_POSITIONS):
            bits |= 1 << (int.from_bytes(digest[2 * j:2 * j + 2], "big") % FILTER_BITS)
    return bits


def encode_name(key: bytes, name: str, year: int) -> NameEncoding:
    salt = str(year)
    folded = normalise_name(name)
    parts = {normalise_name(part) for part in _PART_SEPARATORS.split(name)}
    parts.discard("")
    return NameEncoding(
        bloom=_bloom(key, salt, folded),
        exact=_token(key, "name", salt, folded),
        phonetic=_token(key, "phonetic", salt, cologne(folded)),
        parts=frozenset(_token(key, "name", salt, part) for part in parts),
    )


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _day_typos(birth: date) -> set[date]:
    text = f"{birth.day:02d}"
    days = set()
    for i in range(2):
        for digit in "0123456789":
            other = text[:i] + digit + text[i + 1:]
            if other != text and (day := _valid(birth.year, birth.month, int(other))):
                days.add(day)
    return days


def encode_birth(key: bytes, birth: date) -> BirthEncoding:
    def token(day: date) -> str:
        return _token(key, "date", day.isoformat())

    swapped = _valid(birth.year, birth.day, birth.month) if birth.day != birth.month else None
    return BirthEncoding(
        date=token(birth),
        swapped=token(swapped) if swapped else None,
        year_month=_token(key, "year-month", f"{birth.year:04d}-{birth.month:02d}"),
        year=_token(key, "year", f"{birth.year:04d}"),
        day_typos=frozenset(token(day) for day in _day_typos(birth)),
    )


def encode(key: PseudonymKey | bytes, given_name: str, family_name: str,
           birth_date: date) -> Encodings:
    """The linkage encodings of a person (names as the export has them)."""
    k = key if isinstance(key, bytes) else linkage_key(key)
    scripts = (script_letters(given_name), script_letters(family_name))
    return Encodings(
        given=encode_name(k, given_name, birth_date.year),
        family=encode_name(k, family_name, birth_date.year),
        birth=encode_birth(k, birth_date),
        script=_token(k, "script", *scripts) if any(scripts) else None,
    )
