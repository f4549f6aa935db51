"""The handover tracker with its state: which handovers exist, their steps, their deadlines.

:class:`HandoverTracker` keeps two mappings (Faust tables in the worker, dicts in tests):
``handovers`` (handover id -> :class:`Handover` as JSON) and ``families`` (subject ->
handover ids, for bounces and ping-pong). Handover events are keyed by the child's
pseudonym, so one family's handovers live on one partition and are only touched while that
partition's events or ticks are processed. Which handovers still wait for a step is indexed
in memory per partition (rebuilt from the table when a partition is first ticked).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from hub.contract.models import Envelope
from hub.handover.tracker import (
    ANSWER,
    COMPLETION,
    DECLINED,
    REQUESTED,
    STEP_OF,
    Anomaly,
    Deadlines,
    Handover,
    Stall,
    Step,
    apply_step,
    due_stalls,
    family_flags,
    mark_stalled,
    open_and_overdue,
    waiting_deadline,
)


@dataclass
class Tracked:
    """What one handover event did to its handover."""

    handover: Handover | None = None  # the new state; None when nothing changed
    anomalies: list[Anomaly] = field(default_factory=list)
    updated: list[Handover] = field(default_factory=list)
    """Other handovers of the family whose bounce or ping-pong flag changed."""
    bounces: list[Handover] = field(default_factory=list)
    """Handovers (this or others of the family) that just became a bounce."""
    ping_pong: list[Handover] = field(default_factory=list)
    """Handovers that just became ping-pong."""


class HandoverTracker:
    def __init__(self, handovers: MutableMapping, families: MutableMapping,
                 deadlines: Mapping[str, Deadlines]):
        self.handovers = handovers
        self.families = families
        self.deadlines = deadlines
        self._waiting: dict[int, dict[str, datetime]] = {}  # partition -> id -> next due

    def get(self, handover_id: str | None) -> Handover | None:
        raw = self.handovers.get(handover_id) if handover_id else None
        return Handover.from_json(raw) if raw else None

    def requester(self, handover_id: str | None) -> str | None:
        h = self.get(handover_id)
        return h.requester if h else None

    def observe(self, envelope: Envelope, partition: int) -> Tracked:
        """Apply a handover event (handover.requested/accepted/declined/completed)."""
        kind = STEP_OF.get(envelope.type.value)
        handover_id = envelope.correlation_id or getattr(envelope.payload, "handover_id", None)
        if kind is None or not handover_id:
            return Tracked()
        step = Step(handover_id, kind, envelope.source, envelope.subject,
                    envelope.purpose.value, envelope.municipality.value, envelope.time,
                    envelope.recipient if kind == REQUESTED else None)
        current = self.get(handover_id)
        outcome = apply_step(current, step)
        h = outcome.handover
        if h is current:
            return Tracked()
        result = Tracked(anomalies=outcome.anomalies)
        h = replace(h, life_phase=envelope.life_phase.value, key_id=envelope.key_id,
                    partition=partition)
        first_request = kind == REQUESTED and (current is None or current.requested_at is None)
        if first_request:
            ids = list(self.families.get(h.subject) or ())
            if handover_id not in ids:
                self.families[h.subject] = [*ids, handover_id]
        if kind in (REQUESTED, DECLINED):
            h = self._reflag(h, result)
        result.handover = self._store(h)
        return result

    def _reflag(self, h: Handover, result: Tracked) -> Handover:
        """Judge bounces and ping-pong of ``h``'s family again, now that ``h`` changed;
        stores the other handovers whose flags change and returns ``h`` with its flags."""
        family = {i: self.get(i) for i in self.families.get(h.subject) or ()}
        family[h.handover_id] = h
        flags = family_flags([x for x in family.values() if x is not None])
        for hid, (bounce, ping_pong) in flags.items():
            x = family[hid]
            if (x.bounce, x.ping_pong) == (bounce, ping_pong):
                continue
            flagged = replace(x, bounce=bounce, ping_pong=ping_pong)
            if bounce and not x.bounce:
                result.bounces.append(flagged)
            if ping_pong and not x.ping_pong:
                result.ping_pong.append(flagged)
            if hid == h.handover_id:
                h = flagged
            else:
                result.updated.append(self._store(flagged))
        return h

    def due(self, partition: int, now: datetime) -> list[Stall]:
        """The stalls of ``partition`` due at ``now`` (each reported once: call
        :meth:`stalled` for them)."""
        waiting = self._waiting.get(partition)
        if waiting is None:
            waiting = self._waiting[partition] = {}
            for raw in list(self.handovers.values()):
                if raw and raw.get("partition", 0) == partition:
                    self._index(Handover.from_json(raw))
        stalls: list[Stall] = []
        for handover_id in [i for i, due in waiting.items() if due < now]:
            h = self.get(handover_id)
            if h is None:
                waiting.pop(handover_id, None)
                continue
            stalls += due_stalls(h, self.deadlines, now)
        return stalls

    def stalled(self, stall: Stall) -> Handover:
        """Record that ``stall`` was reported."""
        h = self.get(stall.handover.handover_id) or stall.handover
        return self._store(mark_stalled(h, [stall]))

    def forget_partition(self, partition: int) -> None:
        """The partition moved to another worker: drop its in-memory index."""
        self._waiting.pop(partition, None)

    def open_and_overdue(self, partitions: set[int], now: datetime
                         ) -> dict[str, tuple[int, int]]:
        """``municipality -> (open, overdue)`` over the handovers of ``partitions``."""
        return open_and_overdue(
            (Handover.from_json(raw) for raw in list(self.handovers.values())
             if raw and raw.get("partition", 0) in partitions), self.deadlines, now)

    # ---------------------------------------------------------------- internals
    def _store(self, h: Handover) -> Handover:
        self.handovers[h.handover_id] = h.to_json()
        self._index(h)
        return h

    def _index(self, h: Handover) -> None:
        """Keep ``h`` in its partition's index while a step of it can still stall."""
        waiting = self._waiting.get(h.partition)
        if waiting is None:
            return  # the index is built on the partition's first tick
        due = self._next_due(h)
        if due is None:
            waiting.pop(h.handover_id, None)
        else:
            waiting[h.handover_id] = due

    def _next_due(self, h: Handover) -> datetime | None:
        """When ``h`` stalls next; None when it waits for nothing not reported yet."""
        due = waiting_deadline(h, self.deadlines)
        step = ANSWER if h.answer is None else COMPLETION
        return None if due is None or step in h.stalled else due
