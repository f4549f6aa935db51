"""Pseudonyms: one keyed hash over normalised given name, family name and birth date.

Normalisation folds the ways one child's name is written in different agencies' software:
case, outer and inner white space, hyphens and spaces in double names, umlauts and ß
(ä->ae, ö->oe, ü->ue, ß->ss), the Turkish dotless ı and dotted İ, and other diacritics
(é->e). So "Schröder" and "Schroeder", "Yılmaz" and "Yilmaz" give the same pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

from hub.settings import PseudonymKey

_FOLD = str.maketrans({
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss",
    "ı": "i", "İ": "i", "æ": "ae", "ø": "o", "đ": "d", "ł": "l",
})


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def normalise_name(name: str) -> str:
    """The comparable form of a name: lower case ASCII letters only."""
    text = unicodedata.normalize("NFC", name).lower().translate(_FOLD)
    # after lower(), "İ" may have become "i̇" (i + combining dot): dropped with the marks below
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALNUM.sub("", ascii_only)


def pseudonym(key: PseudonymKey, given_name: str, family_name: str, birth_date: date) -> str:
    """The subject pseudonym (hex HMAC-SHA256); the inputs never leave this function."""
    message = "|".join(
        (normalise_name(given_name), normalise_name(family_name), birth_date.isoformat())
    ).encode()
    return hmac.new(key.secret.get_secret_value(), message, hashlib.sha256).hexdigest()
