"""Pseudonyms: one keyed hash over normalised given name, family name and birth date.

Normalisation folds the ways one child's name is written in different agencies' software:
case, outer and inner white space, hyphens and spaces in double names, umlauts and ß
(ä->ae, ö->oe, ü->ue, ß->ss), the Turkish dotless ı and dotted İ, and other diacritics
(é->e). So "Schröder" and "Schroeder", "Yılmaz" and "Yilmaz" give the same pseudonym.

Letters of other scripts (Cyrillic, Greek, Arabic, Hebrew, Armenian, Chinese, ...) are
transliterated to Latin letters first, with anyascii (pinned in pyproject.toml): "Олена" ->
"olena", "Γιώργος" -> "giorgos". Only letters that the folding above would drop are
transliterated, so the pseudonym of every Latin-script name is what it was before
(tests/connectors/vectors/latin_names.json). Transliteration can give two different names
one spelling (王伟 and 汪伟 are both "wangwei"), so a name with letters of another script
adds its letters in that script to the hash: such children never share a pseudonym, and
the same name written once in Cyrillic and once in Latin letters gives two pseudonyms
(a missed link rather than a wrong one).

A name with no letter or digit left after all this (only punctuation, emoji, ...) has no
pseudonym: :class:`UnusableName`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date
from functools import lru_cache

from anyascii import anyascii

from hub.errors import HubError
from hub.settings import PseudonymKey

_FOLD = str.maketrans({
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss",
    "ı": "i", "İ": "i", "æ": "ae", "ø": "o", "đ": "d", "ł": "l",
})


_NOT_ALNUM = re.compile(r"[^a-z0-9]")

# Vowel points of Arabic and Hebrew are optional in writing: a name with and one without
# them are the same name, so they are dropped rather than transliterated.
_OPTIONAL_MARK_SCRIPTS = ("ARABIC", "HEBREW")


class UnusableName(HubError):
    """A name of which nothing comparable is left (no letter or digit in any script)."""


def _fold_latin(text: str) -> str:
    """The folding of Latin letters: lower case ASCII letters and digits only."""
    text = text.lower().translate(_FOLD)
    # after lower(), "İ" may have become "i̇" (i + combining dot): dropped with the marks below
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALNUM.sub("", ascii_only)


@lru_cache(maxsize=4096)
def _other_script(char: str) -> str | None:
    """The transliteration of ``char`` when it is a letter or mark of a script other than
    Latin that the folding would drop; None for every other character (kept as it is)."""
    if char.isascii() or unicodedata.category(char)[0] not in "LM":
        return None
    name = unicodedata.name(char, "")
    if "LATIN" in name or name.startswith("MODIFIER LETTER") or _fold_latin(char):
        return None  # Latin, or shared with Latin-script names (ʼ, ʻ): as before
    if unicodedata.category(char) == "Mn" and name.startswith(_OPTIONAL_MARK_SCRIPTS):
        return ""
    if anyascii(char) == "" and unicodedata.category(char)[0] == "M":
        return None  # a mark without sound of its own (e.g. a combining accent): as before
    return anyascii(char)


def normalise_name(name: str) -> str:
    """The comparable form of a name: lower case ASCII letters and digits only."""
    text = unicodedata.normalize("NFC", name)
    parts = []
    for char in text:
        other = _other_script(char)
        parts.append(char if other is None else other)
    return _fold_latin("".join(parts))


def script_letters(name: str) -> str:
    """The letters of ``name`` outside the Latin script, in their own script (case-folded,
    marks dropped); empty for a Latin-script name."""
    text = unicodedata.normalize("NFC", name).casefold()
    return "".join(char for char in unicodedata.normalize("NFD", text)
                   if unicodedata.category(char)[0] == "L" and _other_script(char) is not None)


def pseudonym(key: PseudonymKey, given_name: str, family_name: str, birth_date: date) -> str:
    """The subject pseudonym (hex HMAC-SHA256); the inputs never leave this function.

    Raises :class:`UnusableName` when a name has nothing comparable left."""
    given, family = normalise_name(given_name), normalise_name(family_name)
    for what, value in (("given name", given), ("family name", family)):
        if not value:
            raise UnusableName(f"the {what} has no letter or digit left to compare")
    fields = [given, family, birth_date.isoformat()]
    scripts = [script_letters(given_name), script_letters(family_name)]
    if any(scripts):
        # only names with letters of another script: Latin-script pseudonyms stay as they were
        fields += ["script", *scripts]
    message = "|".join(fields).encode()
    return hmac.new(key.secret.get_secret_value(), message, hashlib.sha256).hexdigest()


def legacy_pseudonym(key: PseudonymKey, given_name: str, family_name: str,
                     birth_date: date) -> str:
    """The pseudonym as releases before transliteration computed it: letters outside the
    Latin script were dropped, so children with such names born on one day could share one.
    Used only to find what was published under those pseudonyms (``hub ingest
    --changed-pseudonyms``)."""
    message = "|".join(
        (_fold_latin(unicodedata.normalize("NFC", given_name)),
         _fold_latin(unicodedata.normalize("NFC", family_name)), birth_date.isoformat())
    ).encode()
    return hmac.new(key.secret.get_secret_value(), message, hashlib.sha256).hexdigest()
