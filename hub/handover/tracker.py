"""The handover tracker with its state: which handovers exist, their steps, their deadlines
(each step is judged by the state machine, :mod:`hub.handover.machine`).

:class:`HandoverTracker` keeps two mappings (Faust tables in the worker, dicts in tests):
``handovers`` (handover id -> :class:`Handover` as JSON) and ``families`` (subject -> the
family's window for bounces and ping-pong, see :mod:`hub.handover.window`: what the rules
still need, not every handover the family ever had). A request or a decline judges only
the handovers it can change, so the cost of a handover event does not grow with the
family's history. Handover events are keyed by the child's pseudonym, so one family's
handovers live on one partition and are only touched while that partition's events or
ticks are processed. Which handovers still wait for a step is indexed in memory per
partition (rebuilt from the table when a partition is first ticked).

A ``families`` value in the former shape (the list of the family's handover ids) is
rebuilt into a window from the ``handovers`` table the first time the family is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.contract.models import Envelope
from hub.handover.machine import (
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
    mark_stalled,
    notice_from,
    open_and_overdue,
    waiting_deadline,
)
from hub.handover.window import FamilyWindow, micros


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
                 deadlines: Mapping[str, Deadlines], slack: timedelta = timedelta(hours=24)):
        """``slack``: how much older than the family's newest request (or the hub clock) a
        request may arrive and still be judged exactly (the router's hold window)."""
        self.handovers = handovers
        self.families = families
        self.deadlines = deadlines
        self.slack = slack
        self._waiting: dict[int, dict[str, datetime]] = {}  # partition -> id -> next due

    def get(self, handover_id: str | None) -> Handover | None:
        raw = self.handovers.get(handover_id) if handover_id else None
        return Handover.from_json(raw) if raw else None

    def requester(self, handover_id: str | None) -> str | None:
        raw = self.handovers.get(handover_id) if handover_id else None
        return raw.get("requester") if raw else None

    def observe(self, envelope: Envelope, partition: int, now: datetime | None = None
                ) -> Tracked:
        """Apply a handover event (handover.requested/accepted/declined/completed);
        ``now`` (the hub's clock) bounds what the family's window keeps."""
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
        learned = {"learned_at": now} if current is None and now is not None else {}
        h = h.but(life_phase=envelope.life_phase.value, key_id=envelope.key_id,
                  partition=partition, **learned)
        first_request = kind == REQUESTED and (current is None or current.requested_at is None)
        declined = (kind == DECLINED and h.answer == DECLINED and h.requested_at is not None
                    and (current is None or current.answer is None))
        if first_request or declined:
            h = self._reflag(h, first_request, result, now)
        result.handover = self._store(h)
        return result

    def window(self, subject: str) -> FamilyWindow:
        """The family's window (rebuilt from a former list of handover ids)."""
        raw = self.families.get(subject)
        if isinstance(raw, list):  # the former shape: every handover id of the family
            window = FamilyWindow(None, self.slack)
            family = [x for x in map(self.get, raw) if x and x.requested_at and x.requester]
            for x in sorted(family, key=lambda x: (x.requested_at, x.handover_id)):
                window.add_request(x.handover_id, x.requester, x.recipient,
                                   micros(x.requested_at), _declined_at(x))
            return window
        return FamilyWindow(raw, self.slack)

    def _reflag(self, h: Handover, first_request: bool, result: Tracked,
                now: datetime | None) -> Handover:
        """Judge the bounces and ping-pong that ``h``'s request or decline can change;
        stores the other handovers whose flags change and returns ``h`` with its flags."""
        window = self.window(h.subject)
        if first_request:
            changes = window.add_request(h.handover_id, h.requester, h.recipient,
                                         micros(h.requested_at), _declined_at(h))
        else:
            changes = window.add_decline(h.handover_id, h.requester, h.recipient,
                                         micros(h.requested_at), micros(h.answered_at),
                                         h.bounce)
        window.prune(None if now is None else micros(now))
        self.families[h.subject] = window.state
        for hid, (bounce, ping_pong) in changes.items():
            x = h if hid == h.handover_id else self.get(hid)
            if x is None:
                continue
            bounce = x.bounce if bounce is None else bounce
            ping_pong = x.ping_pong if ping_pong is None else ping_pong
            if (x.bounce, x.ping_pong) == (bounce, ping_pong):
                continue
            flagged = x.but(bounce=bounce, ping_pong=ping_pong)
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
            # lazily: a list of every handover of every partition (hundreds of thousands
            # after a long backlog) made a restarted worker's memory jump by hundreds of MiB
            for raw in self.handovers.values():
                if raw and raw.get("partition", 0) == partition:
                    self._index(Handover.from_json(raw))
        stalls: list[Stall] = []
        for handover_id in [i for i, due in waiting.items() if due < now]:
            h = self.get(handover_id)
            if h is None:
                waiting.pop(handover_id, None)
                continue
            stalls += due_stalls(h, self.deadlines, now, self.slack)
        return stalls

    def stalled(self, stall: Stall) -> Handover:
        """Record that ``stall`` was reported."""
        h = self.get(stall.handover.handover_id) or stall.handover
        return self._store(mark_stalled(h, [stall]))

    def forget_subject(self, subject: str, partition: int) -> list[Handover]:
        """Remove every handover of ``subject`` (they live on ``partition``) and the
        family's window (an erasure); returns the handovers removed."""
        found = []
        find = getattr(self.handovers, "find", None)  # a store: the partition's matches
        for handover_id, raw in list(find(subject) if find else self.handovers.items()):
            if raw and raw.get("subject") == subject:
                found.append(Handover.from_json(raw))
                del self.handovers[handover_id]
                self._waiting.get(partition, {}).pop(handover_id, None)
        if subject in self.families:
            del self.families[subject]
        return found

    def forget_partition(self, partition: int) -> None:
        """The partition moved to another worker: drop its in-memory index."""
        self._waiting.pop(partition, None)

    def open_and_overdue(self, partitions: set[int], now: datetime,
                         raws: Iterable[Mapping | None] | None = None
                         ) -> dict[str, tuple[int, int]]:
        """``municipality -> (open, overdue)`` over the handovers of ``partitions`` among
        ``raws`` (values of the handovers mapping; all of them when None)."""
        raws = list(self.handovers.values()) if raws is None else raws
        return open_and_overdue(
            (Handover.from_json(raw) for raw in raws
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
        if due is None or step in h.stalled:
            return None
        since = notice_from(h, self.slack)
        return due if since is None else max(due, since)


def _declined_at(h: Handover) -> int | None:
    return micros(h.answered_at) if h.answer == DECLINED and h.answered_at else None
