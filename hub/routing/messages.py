"""What goes into the router and what comes out of it, as plain data (pure, no Kafka).

The runtime reads three kinds of record: an agency's outbox (an :class:`Incoming`, which
:func:`hub.routing.handlers.outbox.read_outbox` turns into an :class:`AgencyEvent` or a
:class:`ConsentEvent`), ``hub.ticks`` (a :class:`Tick` of a partition) and ``hub.requests``
(an :class:`Erasure`, with what the child's inbox partition holds). Each kind has its
handler (:mod:`hub.routing.handlers`); every handler returns :class:`Output` records,
which the runtime sends before the source offsets are committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.contract.models import Envelope


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone (compacted topics)
    headers: tuple[tuple[str, bytes], ...] = ()
    type: str = ""
    """What the record is, for metrics: the event type, or audit, fact, dead_letter."""
    partition: int | None = None
    """None: the producer's partitioner (by key) chooses."""


@dataclass(frozen=True)
class Incoming:
    topic: str | None  # None for the hub's own events (stall notices)
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: object = ()  # Kafka headers: pairs or a mapping


@dataclass(frozen=True)
class AgencyEvent:
    """An event from an agency's outbox, decoded (any type but a consent's)."""

    message: Incoming
    envelope: Envelope


@dataclass(frozen=True)
class ConsentEvent:
    """A consent granted or withdrawn, from an agency's outbox, decoded."""

    message: Incoming
    envelope: Envelope


@dataclass(frozen=True)
class LinkageDecision:
    """The linkage stage's newest decision about a pseudonym (``hub.linkage.decisions``)."""

    message: Incoming
    decision: object  # hub.linkage.records.LinkDecision


@dataclass(frozen=True)
class ForwardedConsent:
    """A consent state a linked pseudonym (``alias``) had, forwarded to its child
    (``hub.linked``)."""

    message: Incoming
    child: str
    alias: str
    state: object  # hub.consent.ledger.ConsentState


@dataclass(frozen=True)
class Tick:
    """Time passed on a partition: held events and handover deadlines may be due."""

    partition: int


@dataclass(frozen=True)
class Erasure:
    """An erasure request (``hub erase``, on ``hub.requests``), with ``inbox``: (recipient,
    record value) of every record of the child's inbox partition keyed by its pseudonym,
    read by the runtime before (which agencies received what)."""

    message: Incoming
    inbox: Sequence[tuple[str, bytes]] = ()
