"""Linkage encodings: what a connector sends beside a child's exact pseudonym, so that the
hub's linkage stage can tell that two pseudonyms are spellings of one child.

Every value is keyed with the linkage key, which the connectors derive from their
pseudonymisation key (:func:`connectors.encodings.linkage_key`): the hub compares the values
without being able to compute or reverse any of them. Names are salted with the birth
year: the same name in two years gives unrelated values. See docs/privacy.md, "Linkage
encodings", for what a curious operator could learn from them and the hardening used.

The record is JSON (one object, keys below); ``v`` is the encoding version. A change of the
encoding (key derivation, filter size, hashing) is a new version: encodings of different
versions are never compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ENCODING_VERSION = 1
FILTER_BITS = 512
"""The size of a name's Bloom filter."""


class EncodingError(ValueError):
    """Bytes that are not linkage encodings of a version this hub reads."""


@dataclass(frozen=True)
class NameEncoding:
    """One name (given or family): a Bloom filter of its letter pairs, keyed tokens of the
    whole name, of its Kölner Phonetik code and of each part of a double name."""

    bloom: int  # FILTER_BITS bits
    exact: str
    phonetic: str
    parts: frozenset[str]

    def to_json(self) -> dict:
        # hex, like the tokens: text of 0-9 and a-f spells no name (base64 could, by chance)
        return {"bf": self.bloom.to_bytes(FILTER_BITS // 8, "big").hex(),
                "x": self.exact, "ph": self.phonetic, "pt": sorted(self.parts)}

    @classmethod
    def from_json(cls, data: dict) -> NameEncoding:
        raw = bytes.fromhex(data["bf"])
        if len(raw) != FILTER_BITS // 8:
            raise EncodingError(f"a name filter has {len(raw) * 8} bits, not {FILTER_BITS}")
        return cls(int.from_bytes(raw, "big"), _token(data["x"]), _token(data["ph"]),
                   frozenset(_token(t) for t in data["pt"]))


@dataclass(frozen=True)
class BirthEncoding:
    """Keyed tokens of the birth date, of the date with day and month swapped (None when that
    is no date), of year and month, of the year, and of each date of the same month whose
    day differs from it in one digit."""

    date: str
    swapped: str | None
    year_month: str
    year: str
    day_typos: frozenset[str]

    def to_json(self) -> dict:
        return {"d": self.date, "sw": self.swapped, "ym": self.year_month, "y": self.year,
                "dt": sorted(self.day_typos)}

    @classmethod
    def from_json(cls, data: dict) -> BirthEncoding:
        swapped = data.get("sw")
        return cls(_token(data["d"]), None if swapped is None else _token(swapped),
                   _token(data["ym"]), _token(data["y"]),
                   frozenset(_token(t) for t in data["dt"]))


@dataclass(frozen=True)
class Encodings:
    """A child's linkage encodings. ``script``: a keyed token of the names' letters in their
    own script, None for names in Latin script only."""

    given: NameEncoding
    family: NameEncoding
    birth: BirthEncoding
    script: str | None
    version: int = ENCODING_VERSION

    def to_bytes(self) -> bytes:
        return json.dumps({"v": self.version, "g": self.given.to_json(),
                           "f": self.family.to_json(), "b": self.birth.to_json(),
                           "s": self.script}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Encodings:
        try:
            data = json.loads(raw)
            if data.get("v") != ENCODING_VERSION:
                raise EncodingError(f"encoding version {data.get('v')!r}, this hub reads "
                                    f"{ENCODING_VERSION}")
            script = data.get("s")
            return cls(NameEncoding.from_json(data["g"]), NameEncoding.from_json(data["f"]),
                       BirthEncoding.from_json(data["b"]),
                       None if script is None else _token(script))
        except EncodingError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EncodingError(f"not linkage encodings: {type(exc).__name__}") from None


TOKEN_CHARS = 24
"""A keyed token: the first 96 bits of an HMAC-SHA256, as hex."""


def _token(value) -> str:
    if not isinstance(value, str) or len(value) != TOKEN_CHARS or \
            value.strip("0123456789abcdef"):
        raise EncodingError("a token is 24 lower-case hex digits")
    return value
