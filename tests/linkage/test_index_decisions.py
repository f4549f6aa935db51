"""The linkage index decides as it did before its memory was made compact: every decision
on the bench's labelled data (outcome, candidate, score, reason) equals the one recorded in
``decisions.json`` with the index that kept the decoded encodings.

``python -m tests.linkage.test_index_decisions`` writes the fixture anew (only when the
decisions are meant to change)."""

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from bench.linkage_data import cases, population
from connectors.encodings import encode
from hub.clock import FixedClock
from hub.linkage.decide import decide
from hub.linkage.index import LinkageIndex
from hub.linkage.records import LinkDecision, Outcome
from hub.linkage.stage import LinkageStage

FIXTURE = Path(__file__).with_name("decisions.json")
KEY = b"fixture-linkage-key-0123456789abc"


def _row(d) -> list:
    return [d.outcome.value, d.candidate.child if d.candidate else None,
            d.candidate.pseudonym if d.candidate else None, d.score, d.why]


def decisions() -> dict[str, list]:
    """``known``: each case decided among 4,000 known children; ``in_turn``: the cases
    decided one after the other by the stage, each filed once decided (so later cases see
    earlier ones), on an index restored from the known children's records."""
    rng = random.Random(5)
    people = population(4000, rng)
    index = LinkageIndex()
    records = []
    for i, p in enumerate(people):
        enc = encode(KEY, p.given, p.family, p.birth)
        index.add(f"c{i}", enc)
        records.append((f"c{i}", enc.to_bytes()))
    labelled = cases(people, rng, 30)
    known = []
    for case in labelled:
        enc = encode(KEY, case.person.given, case.person.family, case.person.birth)
        known.append([case.kind, *_row(decide(enc, index.candidates(enc)))])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stage = LinkageStage(FixedClock(at))
    stage.restore([LinkDecision(p, Outcome.NEW, p, at) for p, _ in records], records, [])
    in_turn = []
    for i, case in enumerate(labelled):
        enc = encode(KEY, case.person.given, case.person.family, case.person.birth)
        stage.on_encodings(f"n{i}", enc.to_bytes())
        d = stage.decisions[f"n{i}"]
        in_turn.append([case.kind, d.outcome.value, d.child, d.candidate, d.score,
                        list(d.fields), d.why])
    return {"known": known, "in_turn": in_turn}


def test_decisions_equal_those_of_the_index_with_decoded_encodings():
    expected = json.loads(FIXTURE.read_text())
    got = json.loads(json.dumps(decisions()))
    assert len(got["known"]) == len(expected["known"]) == 450
    assert {row[1] for row in expected["known"]} == {"same_child", "possible_match",
                                                      "new_child"}
    for name in ("known", "in_turn"):
        for i, (row, want) in enumerate(zip(got[name], expected[name], strict=True)):
            assert row == want, (name, i)


if __name__ == "__main__":
    rows = decisions()
    FIXTURE.write_text("{\n" + ",\n".join(
        f'"{name}": [\n' + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows[name])
        + "\n]" for name in rows) + "\n}\n")
