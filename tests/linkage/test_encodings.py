"""The connectors' linkage encodings: keyed, salted by birth year, free of names, stable."""

from datetime import date

import pytest

from connectors.encodings import encode, linkage_key
from connectors.phonetics import cologne
from hub.contract.linkage import EncodingError, Encodings
from hub.linkage.compare import dice
from hub.settings import PseudonymKey

KEY = b"k" * 32
BIRTH = date(2012, 3, 4)


@pytest.mark.parametrize(("name", "code"), [
    ("wikipedia", "3412"), ("muellerluedenscheidt", "65752682"), ("meyer", "67"),
    ("meier", "67"), ("maier", "67"), ("schmidt", "862"), ("schmitt", "862"),
    ("shevchenko", "83464"), ("schewtschenko", "83864"), ("christoph", "47823"),
    ("kristof", "47823"), ("oleksandr", "0548627"), ("alexander", "0548627"), ("", ""),
])
def test_koelner_phonetik(name, code):
    assert cologne(name) == code


def test_encodings_travel_as_bytes_and_hold_no_name():
    enc = encode(KEY, "Anna-Lena", "Müller-Kaya", BIRTH)
    raw = enc.to_bytes()
    assert Encodings.from_bytes(raw) == enc
    text = raw.decode().lower()
    for secret in ("anna", "lena", "mueller", "muller", "kaya", "2012", "03-04", "0548"):
        assert secret not in text
    assert len(enc.given.parts) == 2 and len(enc.family.parts) == 2


def test_same_person_same_encodings_other_key_other_values(tmp_path):
    a = encode(KEY, "Mia", "Schröder", BIRTH)
    assert encode(KEY, "MIA", "Schroeder", BIRTH) == a
    other = encode(b"o" * 32, "Mia", "Schröder", BIRTH)
    assert other.given.exact != a.given.exact and other.birth.date != a.birth.date
    key_file = tmp_path / "key"
    key_file.write_text("x" * 40)
    key = PseudonymKey.from_file(key_file)
    assert encode(key, "Mia", "Schröder", BIRTH) == encode(linkage_key(key), "Mia",
                                                          "Schröder", BIRTH)
    assert linkage_key(key) != key.secret.get_secret_value()


def test_names_are_salted_with_the_birth_year():
    a = encode(KEY, "Oleksandr", "Schmidt", BIRTH)
    b = encode(KEY, "Oleksandr", "Schmidt", BIRTH.replace(year=2013))
    assert a.given.exact != b.given.exact and a.given.phonetic != b.given.phonetic
    assert dice(a.given.bloom, b.given.bloom) < 0.3
    assert dice(a.given.bloom, encode(KEY, "Aleksandr", "Schmidt", BIRTH).given.bloom) > 0.7


def test_birth_date_tokens():
    enc = encode(KEY, "Mia", "Schröder", date(2012, 3, 4))
    swapped = encode(KEY, "Mia", "Schröder", date(2012, 4, 3))
    assert enc.birth.swapped == swapped.birth.date
    typo = encode(KEY, "Mia", "Schröder", date(2012, 3, 14))
    assert typo.birth.date in enc.birth.day_typos
    assert encode(KEY, "Mia", "Schröder", date(2012, 3, 3)).birth.swapped is None
    assert encode(KEY, "Mia", "Schröder", date(2012, 3, 25)).birth.swapped is None


def test_script_token_only_for_names_in_another_script():
    assert encode(KEY, "Olena", "Bondarenko", BIRTH).script is None
    cyrillic = encode(KEY, "Олена", "Бондаренко", BIRTH)
    assert cyrillic.script is not None
    assert cyrillic.given.exact == encode(KEY, "Olena", "Bondarenko", BIRTH).given.exact
    assert encode(KEY, "伟", "王", BIRTH).script != encode(KEY, "伟", "汪", BIRTH).script


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"v": 2}', b"[1]", b"\xff",
                                 b'{"v":1,"g":{},"f":{},"b":{},"s":null}'])
def test_bad_bytes_are_an_encoding_error(raw):
    with pytest.raises(EncodingError):
        Encodings.from_bytes(raw)


def test_every_value_on_the_wire_is_hex():
    """Text of 0-9 and a-f only: no name can appear in it by chance (base64 could spell
    "Mia" now and then, and the PII scan of every topic would rightly complain)."""
    import json
    import string

    def values(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from values(value)
        elif isinstance(node, list):
            for value in node:
                yield from values(value)
        else:
            yield node

    data = json.loads(encode(KEY, "Олена-Marie", "Müller-Kaya", BIRTH).to_bytes())
    for value in values(data):
        assert value is None or isinstance(value, int) or \
            set(value) <= set(string.hexdigits.lower()), value


def test_encodings_stay_small():
    """Far below any producer's or topic's limit (Kafka's default is 1 MiB)."""
    long = encode(KEY, "Anna-Lena-Marie-Sophie", "Müller-Lüdenscheidt-Kaya-Nowak", BIRTH)
    assert len(long.to_bytes()) < 2048
