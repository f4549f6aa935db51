"""`hub dlq` names a dead letter by partition and offset of hub.dlq (it has several
partitions: an offset alone names a letter on each)."""

import argparse

import pytest

from hub.commands.dlq import ambiguous, chosen, letter_number
from hub.operator_views import DeadLetter


def letter(partition, offset):
    return DeadLetter(partition, offset, {"stage": "router", "value_base64": "eA==",
                                          "topic": "agency.jugendamt-kamen.outbox",
                                          "partition": 0, "offset": 5, "reasons": ["why"]})


LETTERS = [letter(0, 0), letter(3, 0), letter(3, 1)]


def test_a_letter_is_listed_with_its_partition_and_offset():
    assert letter(3, 17).describe().startswith("#3@17 ")


@pytest.mark.parametrize("text, numbers", [("3@17", (3, 17)), ("#3@17", (3, 17)),
                                           ("17", (None, 17)), (" 0@0 ", (0, 0))])
def test_numbers_are_read_as_list_prints_them(text, numbers):
    assert letter_number(text) == numbers


@pytest.mark.parametrize("text", ["3@", "x@1", "1@2@3", "-1@0", "0@-4", ""])
def test_a_wrong_number_is_refused_with_the_form_it_needs(text):
    with pytest.raises(argparse.ArgumentTypeError, match="partition"):
        letter_number(text)


def test_partition_and_offset_name_one_letter():
    assert [d.number for d in chosen(LETTERS, [(3, 0)])] == ["3@0"]
    assert ambiguous(LETTERS, [(3, 0)]) == []


def test_a_bare_offset_on_two_partitions_is_named_ambiguous():
    assert [d.number for d in chosen(LETTERS, [(None, 0)])] == ["0@0", "3@0"]
    assert ambiguous(LETTERS, [(None, 0)]) == [
        "offset 0 names 2 dead letters (0@0, 3@0): give the one you mean as "
        "<partition>@<offset>"]
    assert ambiguous(LETTERS, [(None, 1)]) == []
