"""The linkage decision for a pseudonym the hub sees for the first time: the same child as a
known one, a possible match for the trust office, or a new child.

A decision errs on the side of not linking: a wrong link sends one child's data under
another child's consent, a missed link only delays. So, whatever the score, it never links

- when both children's names are in another script and their letters there differ
  (transliteration gives 王伟 and 汪伟 one spelling): a new child;
- when the given names have nothing in common while family name and birth date agree
  (twins, siblings): a new child;
- when a second known child scores within ``TWIN_MARGIN`` of the best (twins, siblings): a
  possible match;
- when only the given name differs (twins Lena and Lina look exactly like a typing error):
  a possible match.

Every other score between ``REVIEW_SCORE`` and ``LINK_SCORE`` is a possible match too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from hub.contract.linkage import Encodings
from hub.linkage.compare import Comparison, DateLevel, NameLevel, compare
from hub.linkage.records import Outcome

LINK_SCORE = 16.5
"""From this total weight (log2 of the likelihood ratio) on, the same child."""
REVIEW_SCORE = 14.0
"""From this total weight on, a possible match for the trust office; below, a new child."""
TWIN_MARGIN = 4.0
"""A second candidate this close to the best makes the decision the trust office's."""


class Candidate(NamedTuple):
    """A known child that the new pseudonym was compared with: ``child`` (the pseudonym that
    stands for it), the pseudonym of it that compared best, and the comparison (a named
    tuple: made for nearly every candidate)."""

    child: str
    pseudonym: str
    comparison: Comparison


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    candidate: Candidate | None = None
    why: str = ""

    @property
    def score(self) -> float | None:
        return self.candidate.comparison.score if self.candidate else None


def best_per_child(new: Encodings, known: Iterable[tuple[str, str, Encodings]]
                   ) -> list[Candidate]:
    """Each child's best-comparing pseudonym, best first; ``known`` gives (child, pseudonym,
    encodings) of the blocking candidates."""
    best: dict[str, Candidate] = {}
    for child, pseudonym, encodings in known:
        comparison = compare(new, encodings)
        held = best.get(child)
        if held is None or comparison.score > held.comparison.score:
            best[child] = Candidate(child, pseudonym, comparison)
    return sorted(best.values(), key=lambda c: (-c.comparison.score, c.child))


def _given_name_alone(c: Comparison) -> bool:
    return (c.given is not NameLevel.EXACT and c.family is NameLevel.EXACT
            and c.date is DateLevel.EXACT and not c.swapped_names)


def _sibling(c: Comparison) -> bool:
    return (c.given is NameLevel.DIFFERENT and c.family is NameLevel.EXACT
            and c.date is DateLevel.EXACT and not c.swapped_names)


def decide(new: Encodings, known: Iterable[tuple[str, str, Encodings]],
           rejected: Callable[[str], bool] | Collection[str] = ()) -> Decision:
    """The decision for ``new`` among the blocking candidates ``known``; a child for which
    ``rejected`` holds (the trust office rejected the pair) is never proposed again."""
    is_rejected = rejected if callable(rejected) else rejected.__contains__
    candidates = [c for c in best_per_child(new, known) if not is_rejected(c.child)]
    if not candidates or candidates[0].comparison.score < REVIEW_SCORE:
        return Decision(Outcome.NEW, candidates[0] if candidates else None,
                        "no known child scores high enough")
    best = candidates[0]
    c = best.comparison
    if c.script_conflict:
        return Decision(Outcome.NEW, best, "the names differ in their own script")
    if _sibling(c):
        return Decision(Outcome.NEW, best, "another given name: a twin or sibling")
    if len(candidates) > 1 and \
            candidates[1].comparison.score >= best.comparison.score - TWIN_MARGIN:
        return Decision(Outcome.POSSIBLE, best, "two known children are alike (twins?)")
    if _given_name_alone(c):
        return Decision(Outcome.POSSIBLE, best, "only the given name differs")
    if c.score < LINK_SCORE:
        return Decision(Outcome.POSSIBLE, best, "the score is in the review band")
    return Decision(Outcome.SAME, best, "the score is above the link threshold")
