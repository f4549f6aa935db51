"""Linkage decisions: variants linked or sent for review, look-alikes never linked."""

import random
from datetime import date

import pytest

from bench.linkage_data import cases, population
from connectors.encodings import encode
from hub.linkage.decide import Outcome, decide
from hub.linkage.index import LinkageIndex

KEY = b"k" * 32
BIRTH = date(2011, 5, 7)


def index_of(*people) -> LinkageIndex:
    index = LinkageIndex()
    for i, (given, family, birth) in enumerate(people):
        index.add(f"p{i}", encode(KEY, given, family, birth))
    return index


def decision(index, given, family, birth=BIRTH):
    enc = encode(KEY, given, family, birth)
    return decide(enc, index.candidates(enc))


@pytest.mark.parametrize(("given", "family", "birth"), [
    ("Mia", "Meier", BIRTH),  # phonetic variant of the family name
    ("Mia", "Schröder-Kaya", BIRTH),  # a part of a double family name more
    ("Meyer", "Mia", BIRTH),  # swapped names
    ("Mia", "Meyer", date(2011, 7, 5)),  # day and month swapped
    ("Mia", "Meyer", date(2011, 5, 8)),  # one wrong digit in the day
])
def test_variants_are_linked(given, family, birth):
    index = index_of(("Mia", "Meyer", BIRTH), ("Mia", "Schröder", BIRTH),
                     ("Tom", "Meyer", date(2011, 5, 17)))
    d = decision(index, given, family, birth)
    assert d.outcome is Outcome.SAME
    assert d.candidate.child == ("p1" if "Schröder" in family else "p0")


def test_cyrillic_and_latin_spelling_are_linked():
    index = index_of(("Олена", "Бондаренко", BIRTH))
    d = decision(index, "Olena", "Bondarenko")
    assert d.outcome is Outcome.SAME and "given" in d.candidate.comparison.agreeing()


@pytest.mark.parametrize("given", ["Lina", "Lene", "Lena-Marie", "Lean"])
def test_a_given_name_difference_alone_is_for_the_trust_office(given):
    d = decision(index_of(("Lena", "Meyer", BIRTH)), given, "Meyer")
    assert d.outcome is Outcome.POSSIBLE and d.why == "only the given name differs"


@pytest.mark.parametrize(("given", "family", "birth"), [
    ("Paul", "Meyer", BIRTH),  # a twin with another given name
    ("Lena", "Meyer", date(2012, 5, 7)),  # a namesake born a year later
    ("Jonas", "Krause", BIRTH),  # a stranger born the same day
    ("Lena", "Krause", BIRTH),  # same given name, another family
])
def test_look_alikes_are_new_children(given, family, birth):
    assert decision(index_of(("Lena", "Meyer", BIRTH)), given, family, birth).outcome \
        is Outcome.NEW


def test_names_that_differ_in_their_own_script_are_never_linked():
    index = index_of(("伟", "王", BIRTH))
    assert decision(index, "伟", "汪").outcome is Outcome.NEW
    assert decision(index, "伟", "王").outcome is Outcome.SAME  # another agency, same child


def test_two_known_children_alike_make_a_possible_match():
    index = index_of(("Mia", "Meyer", date(2011, 5, 7)), ("Mia", "Meyer", date(2011, 5, 17)))
    d = decision(index, "Mia", "Meyer", date(2011, 5, 27))  # one digit from either
    assert d.outcome is Outcome.POSSIBLE and "twins" in d.why
    assert decision(index, "Mia", "Meier", date(2011, 5, 7)).candidate.child == "p0"


def test_a_rejected_pair_is_not_proposed_again():
    index = index_of(("Mia", "Meyer", BIRTH))
    enc = encode(KEY, "Mia", "Meier", BIRTH)
    assert decide(enc, index.candidates(enc)).outcome is Outcome.SAME
    assert decide(enc, index.candidates(enc), rejected={"p0"}).outcome is Outcome.NEW


def test_linked_pseudonyms_count_as_one_child():
    index = index_of(("Mia", "Meyer", BIRTH), ("Mia", "Meyer", date(2011, 7, 5)))
    index.link("p1", "p0")
    d = decision(index, "Mia", "Meier")
    assert d.outcome is Outcome.SAME and d.candidate.child == "p0"


def test_an_index_forgets_a_removed_pseudonym():
    index = index_of(("Mia", "Meyer", BIRTH))
    index.remove("p0")
    assert "p0" not in index and not index.blocks
    assert decision(index, "Mia", "Meier").outcome is Outcome.NEW


def test_labelled_cases_no_false_link_and_twins_never_linked():
    """The bench's data, small: every look-alike a new child or a possible match."""
    rng = random.Random(5)
    people = population(3000, rng)
    index = LinkageIndex()
    for i, p in enumerate(people):
        index.add(f"c{i}", encode(KEY, p.given, p.family, p.birth))
    linked = variants = 0
    for case in cases(people, rng, 20):
        enc = encode(KEY, case.person.given, case.person.family, case.person.birth)
        d = decide(enc, index.candidates(enc))
        if case.truth is None:
            assert d.outcome is not Outcome.SAME, case
            continue
        variants += 1
        if d.outcome is Outcome.SAME:
            linked += 1
            assert people[int(d.candidate.child[1:])] == people[case.truth], case
    assert linked >= 0.6 * variants
