"""Every spelling of one child gives one pseudonym; different children never share one."""

from datetime import date

import pytest

from connectors.pseudonym import normalise_name, pseudonym
from hub.settings import PseudonymKey

BIRTH = date(2020, 9, 2)

SAME_CHILD = [
    # (given, family) spellings that agencies use for the same child
    (("Mia", "Schröder"), ("Mia", "Schroeder")),
    (("Mia", "Schröder"), ("MIA", "SCHRÖDER")),
    (("Mia", "Schröder"), ("  mia ", " schröder  ")),
    (("Leon", "Yılmaz"), ("Leon", "Yilmaz")),
    (("Leon", "YILMAZ"), ("leon", "yılmaz")),
    (("İbrahim", "Kaya"), ("Ibrahim", "Kaya")),
    (("Sofia", "Al-Hassan"), ("Sofia", "Al Hassan")),
    (("Sofia", "Al-Hassan"), ("Sofia", "AlHassan")),
    (("Anna-Lena", "Groß"), ("Anna Lena", "Gross")),
    (("Noah", "Krüger"), ("Noah", "Krueger")),
    (("Chloé", "Müller"), ("Chloe", "Mueller")),
    (("Zoë", "Weiß"), ("Zoe", "Weiss")),
]

DIFFERENT_CHILDREN = [
    (("Mia", "Schröder"), ("Mia", "Schröer")),
    (("Leon", "Yilmaz"), ("Leo", "Yilmaz")),
    (("Emma", "Nowak"), ("Nowak", "Emma")),  # given and family name swapped
]


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> PseudonymKey:
    path = tmp_path_factory.mktemp("k") / "key"
    path.write_text("k" * 40)
    return PseudonymKey.from_file(path)


@pytest.mark.parametrize(("a", "b"), SAME_CHILD)
def test_spellings_of_one_child_match(key, a, b):
    assert pseudonym(key, *a, BIRTH) == pseudonym(key, *b, BIRTH)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_CHILDREN)
def test_different_children_do_not_match(key, a, b):
    assert pseudonym(key, *a, BIRTH) != pseudonym(key, *b, BIRTH)


def test_birth_date_and_key_change_the_pseudonym(key, tmp_path):
    other_path = tmp_path / "other"
    other_path.write_text("x" * 40)
    other = PseudonymKey.from_file(other_path)
    base = pseudonym(key, "Mia", "Schröder", BIRTH)
    assert base != pseudonym(key, "Mia", "Schröder", date(2020, 9, 3))
    assert base != pseudonym(other, "Mia", "Schröder", BIRTH)
    assert other.key_id != key.key_id


def test_pseudonym_reveals_no_input(key):
    value = pseudonym(key, "Mia", "Schröder", BIRTH)
    assert len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    assert "mia" not in value and "2020" not in value


def test_normalised_form():
    assert normalise_name(" Anna-Lena  Groß ") == "annalenagross"
    assert normalise_name("Yılmaz") == normalise_name("YILMAZ") == "yilmaz"
