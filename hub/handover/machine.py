"""The handover state machine, deadlines, bounces and ping-pong (pure, no Kafka).

One handover (by its id) goes requested -> accepted | declined -> completed. Steps out of
order or from the wrong agency are anomalies with a reason; they never raise. A step that
does not come before its deadline (per purpose: an answer within 14 days of the request,
completion within 90 days by default) is a stall, reported once per step; not before the
hold window has passed since the hub learned of the handover, either: the step may have been
taken in time and still be on its way in another agency's export.

Per family: a request to another agency after a decline is a *bounce*; three or more
handovers of one family between the same two agencies within 90 days are *ping-pong*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hub.core.reasons import NoteKind, ReasonParams

REQUESTED, ACCEPTED, DECLINED, COMPLETED = "requested", "accepted", "declined", "completed"
ANSWER, COMPLETION = "answer", "completion"
STEP_OF = {"handover.requested": REQUESTED, "handover.accepted": ACCEPTED,
           "handover.declined": DECLINED, "handover.completed": COMPLETED}


@dataclass(frozen=True)
class Deadlines:
    answer: timedelta = timedelta(days=14)
    completion: timedelta = timedelta(days=90)

    @classmethod
    def from_config(cls, raw: Mapping | None) -> dict[str, Deadlines]:
        """``{purpose: {answer_days: N, completion_days: M}, default: {...}}`` -> per purpose."""
        raw = raw or {}
        default = raw.get("default") or {}

        def make(entry: Mapping) -> Deadlines:
            merged = {**default, **entry}
            return cls(timedelta(days=float(merged.get("answer_days", 14))),
                       timedelta(days=float(merged.get("completion_days", 90))))

        table = {purpose: make(entry or {}) for purpose, entry in raw.items()
                 if purpose != "default"}
        table["default"] = make({})
        return table


@dataclass(frozen=True)
class Handover:
    handover_id: str
    subject: str
    purpose: str
    municipality: str
    requester: str | None = None
    recipient: str | None = None
    requested_at: datetime | None = None
    answer: str | None = None  # accepted | declined
    answered_at: datetime | None = None
    completed_at: datetime | None = None
    stalled: tuple[str, ...] = ()  # steps already reported as stalled
    # what the hub needs to speak about the handover later (stalls, analytics)
    life_phase: str = ""
    key_id: str = ""
    partition: int = 0
    bounce: bool = False
    ping_pong: bool = False
    learned_at: datetime | None = None  # the hub's clock when it first heard of it

    @property
    def state(self) -> str:
        if self.completed_at:
            return COMPLETED
        return self.answer or (REQUESTED if self.requested_at else "unknown")

    def to_json(self) -> dict:
        def iso(value):
            return value.isoformat() if value else None
        return {"handover_id": self.handover_id, "subject": self.subject,
                "purpose": self.purpose, "municipality": self.municipality,
                "requester": self.requester, "recipient": self.recipient,
                "requested_at": iso(self.requested_at), "answer": self.answer,
                "answered_at": iso(self.answered_at), "completed_at": iso(self.completed_at),
                "stalled": list(self.stalled), "life_phase": self.life_phase,
                "key_id": self.key_id, "partition": self.partition, "bounce": self.bounce,
                "ping_pong": self.ping_pong, "learned_at": iso(self.learned_at)}

    def but(self, **changes) -> Handover:
        """``dataclasses.replace(self, **changes)`` at a sixth of its cost (0.7 against 4.3
        us, two or three per routed handover event): a handover checks nothing when built."""
        unknown = changes.keys() - _HANDOVER_FIELDS
        if unknown:
            raise TypeError(f"Handover has no field {', '.join(sorted(unknown))}")
        new = object.__new__(Handover)
        values = new.__dict__
        values.update(self.__dict__)
        values.update(changes)
        return new

    @classmethod
    def from_json(cls, data: Mapping) -> Handover:
        def dt(value):
            return datetime.fromisoformat(value) if value else None
        return cls(data["handover_id"], data["subject"], data["purpose"],
                   data["municipality"], data["requester"], data["recipient"],
                   dt(data["requested_at"]), data["answer"], dt(data["answered_at"]),
                   dt(data["completed_at"]), tuple(data["stalled"]),
                   data.get("life_phase", ""), data.get("key_id", ""),
                   data.get("partition", 0), data.get("bounce", False),
                   data.get("ping_pong", False), dt(data.get("learned_at")))


@dataclass(frozen=True)
class Step:
    """One handover event, as the tracker needs it."""

    handover_id: str
    step: str  # requested | accepted | declined | completed
    sender: str
    subject: str
    purpose: str
    municipality: str
    at: datetime
    recipient: str | None = None  # for requests


@dataclass(frozen=True)
class Anomaly:
    handover_id: str
    reason: str  # for people (the audit)
    kind: NoteKind  # for the audit's readers (the access letter)
    params: ReasonParams = field(default_factory=dict)  # what ``reason`` names


@dataclass(frozen=True)
class Stall:
    handover: Handover
    waiting_for: str  # answer | completion
    deadline: datetime


@dataclass
class Outcome:
    handover: Handover
    anomalies: list[Anomaly] = field(default_factory=list)


def is_repeat(h: Handover | None, step: Step) -> bool:
    """The same step again, as it was recorded (a re-sent record or a re-imported export):
    not an anomaly, and nothing changes."""
    if h is None:
        return False
    if step.step == REQUESTED:
        return (h.requested_at == step.at and h.requester == step.sender
                and h.recipient == step.recipient)
    if step.step in (ACCEPTED, DECLINED):
        return h.answer == step.step and h.answered_at == step.at
    return step.step == COMPLETED and h.completed_at == step.at


_HANDOVER_FIELDS = frozenset(Handover.__dataclass_fields__)


def apply_step(current: Handover | None, step: Step) -> Outcome:
    """The handover after ``step``; anomalies say what did not fit (the step still counts
    where it can, so that later steps are judged against what really happened). A repeat
    of a recorded step changes nothing."""
    if is_repeat(current, step):
        return Outcome(current)
    h = current or Handover(step.handover_id, step.subject, step.purpose, step.municipality)
    problems: list[tuple[NoteKind, str, ReasonParams]] = []
    if step.step == REQUESTED:
        if h.requested_at:
            problems.append((NoteKind.REQUESTED_AGAIN, f"requested again by {step.sender}",
                             {"by": step.sender}))
        else:
            if h.answer or h.completed_at:
                problems.append((NoteKind.REQUEST_AFTER_STEP,
                                 f"request arrived after the {h.state} step",
                                 {"step": h.state}))
            h = h.but(requester=step.sender, recipient=step.recipient, requested_at=step.at)
        return Outcome(h, _anomalies(h, problems))
    if h.requested_at is None:
        problems.append((NoteKind.STEP_BEFORE_REQUEST,
                         f"{step.step} before the handover was requested", {"step": step.step}))
    elif h.recipient and step.sender != h.recipient:
        problems.append((NoteKind.WRONG_AGENCY,
                         f"{step.step} by {step.sender}, but {h.recipient} was asked",
                         {"step": step.step, "by": step.sender, "asked": h.recipient}))
    if step.step in (ACCEPTED, DECLINED):
        if h.answer:
            problems.append((NoteKind.ANSWERED_TWICE,
                             f"{step.step} after it was already {h.answer}",
                             {"step": step.step, "answer": h.answer}))
        else:
            h = h.but(answer=step.step, answered_at=step.at)
    elif step.step == COMPLETED:
        h = _complete(h, step, problems)
    return Outcome(h, _anomalies(h, problems))


def _complete(h: Handover, step: Step, problems: list) -> Handover:
    """``h`` completed by ``step``; what did not fit is added to ``problems``."""
    if h.completed_at:
        problems.append((NoteKind.COMPLETED_TWICE, "completed twice", {}))
        return h
    if h.answer == DECLINED:
        problems.append((NoteKind.COMPLETED_AFTER_DECLINE, "completed after it was declined",
                         {}))
    elif h.answer is None:
        problems.append((NoteKind.COMPLETED_UNACCEPTED, "completed without being accepted",
                         {}))
    return h.but(completed_at=step.at)


def _anomalies(h: Handover, problems: list[tuple[NoteKind, str, ReasonParams]]
               ) -> list[Anomaly]:
    return [Anomaly(h.handover_id, text, kind, params) for kind, text, params in problems]


def is_open(h: Handover) -> bool:
    """Requested, and neither declined nor completed."""
    return bool(h.requested_at) and not h.completed_at and h.answer != DECLINED


def waiting_deadline(h: Handover, deadlines: Mapping[str, Deadlines]) -> datetime | None:
    """The deadline of the step an open handover waits for (answer, or completion once
    accepted); None when it waits for nothing."""
    if not is_open(h):
        return None
    d = deadlines.get(h.purpose) or deadlines["default"]
    return h.requested_at + (d.answer if h.answer is None else d.completion)


def notice_from(h: Handover, hold: timedelta) -> datetime | None:
    """The earliest time a stall of ``h`` may be reported: the hold window after the hub
    learned of the handover (None: no wait, a state from before this was recorded)."""
    return h.learned_at + hold if h.learned_at else None


def open_and_overdue(handovers: Iterable[Handover], deadlines: Mapping[str, Deadlines],
                     now: datetime) -> dict[str, tuple[int, int]]:
    """``municipality -> (open handovers, of them past the deadline of their step)``."""
    counts: dict[str, tuple[int, int]] = {}
    for h in handovers:
        due = waiting_deadline(h, deadlines)
        if due is None:
            continue
        n_open, n_overdue = counts.get(h.municipality, (0, 0))
        counts[h.municipality] = (n_open + 1, n_overdue + (now > due))
    return counts


def due_stalls(h: Handover, deadlines: Mapping[str, Deadlines], now: datetime,
               hold: timedelta = timedelta(0)) -> list[Stall]:
    """The steps of ``h`` whose deadline passed at ``now`` and that were not reported yet,
    once ``hold`` has passed since the hub learned of ``h`` (a step taken in time may come
    in another agency's export within the hold window)."""
    if not h.requested_at:
        return []
    since = notice_from(h, hold)
    if since is not None and now < since:
        return []
    d = deadlines.get(h.purpose) or deadlines["default"]
    stalls = []
    answer_due = h.requested_at + d.answer
    if h.answer is None and now > answer_due and ANSWER not in h.stalled:
        stalls.append(Stall(h, ANSWER, answer_due))
    completion_due = h.requested_at + d.completion
    if h.answer == ACCEPTED and not h.completed_at and now > completion_due \
            and COMPLETION not in h.stalled:
        stalls.append(Stall(h, COMPLETION, completion_due))
    return stalls


def mark_stalled(h: Handover, stalls: Sequence[Stall]) -> Handover:
    return replace(h, stalled=tuple(dict.fromkeys((*h.stalled, *(s.waiting_for
                                                                  for s in stalls)))))


def is_bounce(history: Sequence[Handover], request: Step) -> bool:
    """The first request by the same agency for the same family to another agency after
    an agency declined it (each decline bounces once)."""
    def asked_since(declined: Handover) -> bool:
        return any(g.handover_id not in (declined.handover_id, request.handover_id)
                   and g.requester == request.sender and g.requested_at
                   and declined.answered_at <= g.requested_at <= request.at
                   for g in history)

    return any(h.answer == DECLINED and h.requester == request.sender and h.answered_at
               and h.recipient != request.recipient and h.handover_id != request.handover_id
               and h.answered_at <= request.at and not asked_since(h)
               for h in history)


def is_ping_pong(history: Sequence[Handover], request: Step,
                 window: timedelta = timedelta(days=90), times: int = 3) -> bool:
    """``times`` or more handovers of one family between the same two agencies (either
    direction) within ``window``, this request included."""
    pair = frozenset((request.sender, request.recipient))
    recent = [h for h in history
              if h.handover_id != request.handover_id and h.requested_at
              and frozenset((h.requester, h.recipient)) == pair
              and abs(request.at - h.requested_at) <= window]
    return len(recent) + 1 >= times


def family_flags(family: Sequence[Handover]) -> dict[str, tuple[bool, bool]]:
    """``handover id -> (bounce, ping_pong)`` for every requested handover of one family,
    judged in the order of the request times (not of arrival: the answer of one agency and
    the next request of another come through different outboxes, in any order).

    The specification: the tracker gets the same flags one handover at a time from a
    pruned window of the family (:mod:`hub.handover.window`)."""
    requested = sorted((h for h in family if h.requested_at and h.requester),
                       key=lambda h: (h.requested_at, h.handover_id))
    flags = {}
    for i, h in enumerate(requested):
        earlier = requested[:i]
        as_step = Step(h.handover_id, REQUESTED, h.requester, h.subject, h.purpose,
                       h.municipality, h.requested_at, h.recipient)
        flags[h.handover_id] = (is_bounce(earlier, as_step), is_ping_pong(earlier, as_step))
    return flags
