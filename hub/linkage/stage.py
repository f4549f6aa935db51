"""The linkage stage (pure, no Kafka): the first time it sees a pseudonym's encodings it
decides which child the pseudonym stands for, and it carries out the trust office's
reviews. Its outputs are records for ``hub.linkage.decisions`` (and tombstones) and, for
every link, possible match and trust office decision, an audit record for ``hub.audit``
keyed by the pseudonym (:func:`hub.audit.linkage_audit_record`), before the decision: a
crash between the two loses no audit record (the record is read again and decided again;
a review's audit record is then the same record, with the same ids). The worker sends
them in order (:mod:`hub.linkage.agent`).

The stage keeps, in memory, every known pseudonym's encodings under its blocking keys
(:class:`~hub.linkage.index.LinkageIndex`), the newest decision per pseudonym and the pairs
the trust office rejected. On start it is rebuilt from the compacted topics
(:meth:`LinkageStage.restore`). A pseudonym that has a decision pays nothing more: its
encodings, sent again with every export, are only filed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from hub.audit import encode_audit, linkage_audit_record
from hub.clock import Clock
from hub.contract.linkage import EncodingError, Encodings
from hub.core.reasons import NoteKind
from hub.core.topics import AUDIT_TOPIC, LINKAGE_DECISIONS_TOPIC
from hub.linkage.decide import decide
from hub.linkage.index import LinkageIndex
from hub.linkage.records import STAGE, Action, LinkDecision, Outcome, Review


@dataclass(frozen=True)
class Record:
    """A record the stage writes: ``value`` None is a tombstone."""

    topic: str
    key: bytes
    value: bytes | None


class ReviewError(ValueError):
    """A review that cannot be carried out (the text says why, without names)."""


class Decisions(dict):
    """The newest decision per pseudonym, with the possible matches also kept apart: the
    worker reads them after every record (the pending gauges), which must not cost a pass
    over every pseudonym known."""

    def __init__(self) -> None:
        super().__init__()
        self.possible: dict[str, LinkDecision] = {}

    def __setitem__(self, pseudonym: str, decision: LinkDecision) -> None:
        super().__setitem__(pseudonym, decision)
        if decision.outcome is Outcome.POSSIBLE:
            self.possible[pseudonym] = decision
        else:
            self.possible.pop(pseudonym, None)

    def __delitem__(self, pseudonym: str) -> None:
        super().__delitem__(pseudonym)
        self.possible.pop(pseudonym, None)

    def pop(self, pseudonym: str, *default):
        self.possible.pop(pseudonym, None)
        return super().pop(pseudonym, *default)


class LinkageStage:
    def __init__(self, clock: Clock, index: LinkageIndex | None = None):
        self.clock = clock
        self.index = index or LinkageIndex()
        self.decisions = Decisions()
        self.rejected: set[tuple[str, str]] = set()  # (pseudonym, child) never proposed
        self.counts: dict[str, int] = {}

    def reset(self) -> None:
        """Forget everything (the partitions went to another worker)."""
        self.index = LinkageIndex()
        self.decisions, self.rejected, self.counts = Decisions(), set(), {}

    # ------------------------------------------------------------------ restore
    def restore(self, decisions: Iterable[LinkDecision],
                encodings: Iterable[tuple[str, bytes]], reviews: Iterable[Review]) -> None:
        """The state from the compacted topics: the newest decision per pseudonym, the
        encodings of the pseudonyms decided (the others are decided when read), the
        rejected pairs."""
        for decision in decisions:
            self.decisions[decision.pseudonym] = decision
        for review in reviews:
            if review.action in (Action.REJECT, Action.UNLINK):
                self.rejected.add((review.pseudonym, review.candidate))
        for pseudonym, raw in encodings:
            decision = self.decisions.get(pseudonym)
            if decision is None:
                continue
            try:  # the decision's texts are the index's keys: one copy of each
                self.index.add(decision.pseudonym, Encodings.from_bytes(raw), decision.child)
            except EncodingError:
                continue

    # ------------------------------------------------------------------ encodings
    def on_encodings(self, pseudonym: str, raw: bytes | None) -> list[Record]:
        """A connector's encodings of ``pseudonym`` (None: erased): decided the first
        time, filed after that. Raises :class:`EncodingError` for bytes that are none."""
        if raw is None:
            self.forget(pseudonym)
            return []
        encodings = Encodings.from_bytes(raw)
        known = self.decisions.get(pseudonym)
        if known is not None:
            if pseudonym not in self.index:
                self.index.add(pseudonym, encodings, known.child)
            return []
        result = decide(encodings, self.index.candidates(encodings, exclude=pseudonym),
                        lambda child: (pseudonym, child) in self.rejected)
        candidate = result.candidate
        child = candidate.child if result.outcome is Outcome.SAME else pseudonym
        decision = LinkDecision(
            pseudonym, result.outcome, child, self.clock.now(),
            candidate.child if candidate else None,
            candidate.comparison.score if candidate else None,
            tuple(candidate.comparison.agreeing()) if candidate else (), result.why)
        self.index.add(pseudonym, encodings, child)
        self._count(result.outcome.value)
        return [*self._audit_own(decision), self._publish(decision)]

    def forget(self, pseudonym: str) -> None:
        """An erased pseudonym: gone from the index and the decisions."""
        self.index.remove(pseudonym)
        self.decisions.pop(pseudonym, None)
        self.rejected = {pair for pair in self.rejected if pseudonym not in pair}

    # ------------------------------------------------------------------ reviews
    def on_review(self, review: Review) -> list[Record]:
        """The trust office's decision about a pair, carried out."""
        decision = self.decisions.get(review.pseudonym)
        if decision is None:
            raise ReviewError(f"the hub has no linkage decision about {review.pseudonym}")
        if review.candidate not in self.decisions:
            raise ReviewError(f"the hub knows no child {review.candidate}")
        child = self.index.child(review.candidate) or review.candidate
        now = review.at
        if review.action is Action.CONFIRM:
            if child == review.pseudonym:
                raise ReviewError(f"{review.pseudonym} is that child already")
            moved = [self._moved(p, child, now, review)
                     for p in self.index.pseudonyms_of(review.pseudonym)
                     if p != review.pseudonym]  # its own linked pseudonyms come along
            self.index.link(review.pseudonym, child)
            new = replace(decision, outcome=Outcome.SAME, child=child,
                          candidate=review.candidate, at=now, by=review.by,
                          review=review.action, why="the trust office confirmed the match")
            self._count("review_confirm")
            return [*moved, self._audit_review(new, review), self._publish(new)]
        else:
            if review.action is Action.UNLINK and decision.child != child:
                raise ReviewError(f"{review.pseudonym} is not linked to {review.candidate}")
            self.rejected.add((review.pseudonym, child))
            self.index.unlink(review.pseudonym)
            why = ("the trust office rejected the match" if review.action is Action.REJECT
                   else "the trust office undid the link")
            new = replace(decision, outcome=Outcome.NEW, child=review.pseudonym,
                          candidate=review.candidate, at=now, by=review.by,
                          review=review.action, why=why)
        self._count(f"review_{review.action.value}")
        return [self._audit_review(new, review), self._publish(new)]

    def _moved(self, pseudonym: str, child: str, now: datetime, review: Review) -> Record:
        """``pseudonym`` stands for ``child`` now: its child was linked to that one."""
        self.index.link(pseudonym, child)
        decision = replace(self.decisions[pseudonym], child=child, at=now, by=review.by,
                           why="its child was linked to another by the trust office")
        return self._publish(decision)

    # ------------------------------------------------------------------ audit
    def _audit_own(self, decision: LinkDecision) -> list[Record]:
        """The audit record of the stage's own decision: a link or a possible match (a new
        child is no decision about another child, and is not audited)."""
        if decision.outcome is Outcome.NEW or decision.candidate is None:
            return []
        params = {"candidate": decision.candidate, "fields": list(decision.fields),
                  "score": _score(decision.score)}
        if decision.outcome is Outcome.SAME:
            kind, reason = NoteKind.LINKED_AUTOMATICALLY, (
                f"linked automatically to child {decision.candidate} "
                f"(score {params['score']})")
        else:
            kind, reason = NoteKind.POSSIBLE_MATCH, (
                f"possible match with child {decision.candidate} (score {params['score']}): "
                "waits for the trust office")
        return [self._audit(linkage_audit_record(
            decision.pseudonym, decision.outcome.value, decision.at, self.clock.now(), kind,
            reason, params))]

    def _audit_review(self, decision: LinkDecision, review: Review) -> Record:
        """The audit record of the trust office's ``review``, carried out as ``decision``."""
        kind, done = {
            Action.CONFIRM: (NoteKind.LINK_CONFIRMED, "confirmed the link to"),
            Action.REJECT: (NoteKind.LINK_REJECTED, "rejected the match with"),
            Action.UNLINK: (NoteKind.LINK_UNDONE, "undid the link to"),
        }[review.action]
        params = {"candidate": review.candidate, "by": review.by}
        if decision.score is not None:
            params["score"] = _score(decision.score)
        reason = f"the trust office ({review.by}) {done} child {review.candidate}"
        return self._audit(linkage_audit_record(
            review.pseudonym, review.action.value, review.at, self.clock.now(), kind, reason,
            params, by=review.by))

    @staticmethod
    def _audit(record: dict) -> Record:
        return Record(AUDIT_TOPIC, record["subject"].encode(), encode_audit(record))

    # ------------------------------------------------------------------ views
    def pending(self) -> list[LinkDecision]:
        """The possible matches waiting for the trust office, oldest first."""
        return sorted(self.decisions.possible.values(), key=lambda d: d.at)

    def oldest_pending_age(self, now: datetime) -> float:
        """Seconds the oldest possible match has waited (0 without one)."""
        waiting = self.pending()
        return (now - waiting[0].at).total_seconds() if waiting else 0.0

    def take_counts(self) -> dict[str, int]:
        counts, self.counts = self.counts, {}
        return counts

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _publish(self, decision: LinkDecision) -> Record:
        self.decisions[decision.pseudonym] = decision
        return Record(LINKAGE_DECISIONS_TOPIC, decision.pseudonym.encode(),
                      decision.to_bytes())


def _score(score: float | None) -> str:
    """A score as audit parameter text (parameters are text, integers or lists)."""
    return "-" if score is None else f"{score:.2f}"


__all__ = ["STAGE", "LinkageStage", "Record", "ReviewError"]
