"""The linkage index's packed encodings: a comparison with a known pseudonym gives what it
gave with its decoded encodings, and filing and removing keeps the blocking keys right."""

import random
from datetime import date

from bench.linkage_data import population
from connectors.encodings import encode
from hub.linkage.compare import compare
from hub.linkage.index import Known, LinkageIndex, pack

KEY = b"k" * 32


def test_a_packed_known_child_reads_as_its_encodings():
    for given, family in (("Anna-Lena", "Müller-Kaya"), ("Олена", "Бондаренко"),
                          ("Mia", "Meyer")):
        enc = encode(KEY, given, family, date(2012, 3, 4))
        known = Known(pack(enc))
        for mine, theirs in ((known.given, enc.given), (known.family, enc.family)):
            assert (mine.bloom, mine.exact, mine.phonetic, set(mine.parts)) == \
                (theirs.bloom, theirs.exact, theirs.phonetic, theirs.parts)
        assert (known.birth.date, known.birth.year_month, known.birth.year) == \
            (enc.birth.date, enc.birth.year_month, enc.birth.year)
        assert (known.script, known.version) == (enc.script, enc.version)


def test_comparisons_with_packed_and_decoded_encodings_are_equal():
    rng = random.Random(3)
    people = population(600, rng)
    encodings = [encode(KEY, p.given, p.family, p.birth) for p in people]
    for new in encodings[:60]:
        for known in encodings:
            assert compare(new, Known(pack(known))) == compare(new, known)


def test_removing_keeps_the_other_pseudonyms_of_a_blocking_key():
    birth = date(2015, 6, 1)
    index = LinkageIndex()
    for i, (given, family) in enumerate((("Mia", "Meyer"), ("Tom", "Meyer"),
                                         ("Ida", "Krause"))):
        index.add(f"p{i}", encode(KEY, given, family, birth))
    new = encode(KEY, "Mia", "Meier", birth)
    assert {p for _c, p, _k in index.candidates(new)} == {"p0", "p1", "p2"}
    index.remove("p1")
    assert {p for _c, p, _k in index.candidates(new)} == {"p0", "p2"}
    index.remove("p0")
    index.add("p0", encode(KEY, "Mia", "Meyer", birth), child="p2")
    assert [(c, p) for c, p, _k in index.candidates(new, exclude="p2")] == [("p2", "p0")]
    index.remove("p0")
    index.remove("p2")
    assert not index.blocks and len(index) == 0
