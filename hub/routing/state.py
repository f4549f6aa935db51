"""The router's state, as typed stores over mappings (pure, no Kafka).

Each store wraps one mapping that the Faust agent backs with a changelog table (a plain dict
in tests and simulations), and is handed to the handlers that need it
(:mod:`hub.routing.handlers`):

- :class:`ConsentLedger`: subject -> consent id -> the consent's state;
- :class:`HeldEvents`: subject -> the events waiting for what their decision depends on;
- :class:`~hub.handover.tracker.HandoverTracker`: handover id -> the handover's state, and
  subject -> the window of recent handovers that bounces and ping-pong are judged on;
- :class:`ServedAgencies`: subject -> consent id -> the agencies that received events of
  the child under that consent (they get a ``consent.revoked`` notice when it is withdrawn);
- :class:`~hub.routing.delivered.DeliveredSet`: what each recipient already has.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.consent.ledger import ConsentState
from hub.contract.models import Envelope
from hub.core.decisions import Delivery
from hub.handover.machine import Deadlines
from hub.handover.tracker import HandoverTracker
from hub.routing.delivered import DeliveredSet
from hub.routing.messages import Incoming

HELD_DECODED_MAX = 50_000
"""Held events kept decoded at most (a cache: the held table has them all)."""


class ConsentLedger:
    """Every family's consents: subject -> consent id -> :class:`ConsentState` (JSON)."""

    def __init__(self, table: MutableMapping):
        self.table = table

    def of(self, subject: str) -> list[ConsentState]:
        return [ConsentState.from_json(v) for v in (self.table.get(subject) or {}).values()]

    def store(self, subject: str, state: ConsentState) -> None:
        """Keep ``state`` as the newest of its consent id (the others are stored already)."""
        stored = dict(self.table.get(subject) or {})
        stored[state.consent_id] = state.to_json()
        self.table[subject] = stored

    def forget(self, subject: str) -> None:
        if subject in self.table:
            del self.table[subject]

    def active(self, now: datetime, families: Iterable[Mapping | None] | None = None
               ) -> dict[str, int]:
        """purpose -> consents in force at ``now`` (valid, not withdrawn), over ``families``
        (values of the table; all of them when None)."""
        counts: dict[str, int] = {}
        for states in list(self.table.values()) if families is None else families:
            for raw in (states or {}).values():
                state = ConsentState.from_json(raw)
                if state.active_at(now):
                    counts[state.purpose] = counts.get(state.purpose, 0) + 1
        return counts


class HeldEvents:
    """Events that wait (subject -> entries: id, topic, partition, held_at, value), and the
    ones among them kept decoded (event id -> envelope) while they are held.

    A tick asks which subjects of its partition have an event held since a time
    (:meth:`due`). The answer comes from an index in memory, not from a pass over the
    table: per partition, each subject with held events, and a time no later than its
    earliest. The index is built from the table on the partition's first :meth:`due`
    (after a start or a takeover), kept by :meth:`hold`, and made exact by :meth:`due`
    itself, which reads the table for the subjects it returns. Events taken out of the
    table (decided, forgotten, or a message's changes undone) leave their subject in the
    index until the next :meth:`due` finds none: the index may name a subject too many,
    never one too few, so a tick costs what is due, however many families ever waited."""

    def __init__(self, table: MutableMapping):
        self.table = table
        self.decoded: dict[str, Envelope] = {}
        self._since: dict[int, dict[str, datetime]] = {}  # partition -> subject -> time

    def hold(self, envelope: Envelope, message: Incoming, now: datetime) -> None:
        waiting = list(self.table.get(envelope.subject) or [])
        if any(entry["id"] == envelope.id for entry in waiting):
            return
        waiting.append({"id": envelope.id, "topic": message.topic,
                        "partition": message.partition, "held_at": now.isoformat(),
                        "value": base64.b64encode(message.value).decode("ascii")})
        self.table[envelope.subject] = waiting
        since = self._since.get(message.partition)
        if since is not None:  # the subject's earliest event, of those just read too
            first = _first_held(waiting, message.partition)
            known = since.get(envelope.subject)
            since[envelope.subject] = first if known is None else min(known, first)
        if len(self.decoded) >= HELD_DECODED_MAX:  # e.g. partitions moved away
            self.decoded.clear()
        self.decoded[envelope.id] = envelope

    def waiting(self, subject: str) -> list[dict]:
        return self.table.get(subject) or []

    def keep(self, subject: str, still: list[dict]) -> None:
        """Only ``still`` of the subject's events wait further (none: the subject leaves
        the table)."""
        if still:
            self.table[subject] = still
        elif subject in self.table:
            del self.table[subject]

    def due(self, partition: int, limit: datetime) -> list[str]:
        """The subjects with an event of ``partition`` held since ``limit`` or before, in
        the order of their pseudonyms."""
        since = self._since.get(partition)
        if since is None:  # the partition's first tick here: the index from the table
            since = self._since[partition] = {}
            for subject, entries in list(self.table.items()):
                first = _first_held(entries, partition)
                if first is not None:
                    since[subject] = first
        due = []
        for subject in [s for s, first in since.items() if first <= limit]:
            first = _first_held(self.table.get(subject), partition)
            if first is None:
                del since[subject]
                continue
            since[subject] = first
            if first <= limit:
                due.append(subject)
        return sorted(due)

    def forget_partition(self, partition: int) -> None:
        """The partition moved to another worker: its index goes (rebuilt if it comes
        back)."""
        self._since.pop(partition, None)

    def envelope(self, entry: dict, decode: Callable[[bytes], Envelope]) -> Envelope:
        """The held event of ``entry``, decoded once."""
        return self.decoded.get(entry["id"]) or decode(self.raw(entry))

    @staticmethod
    def raw(entry: dict) -> bytes:
        """The held event of ``entry``, encoded."""
        return base64.b64decode(entry["value"])

    def forget(self, subject: str, decode: Callable[[bytes], Envelope]) -> list[Envelope]:
        """Drop the subject's held events; returns them."""
        dropped = [self.decoded.pop(entry["id"], None) or decode(self.raw(entry))
                   for entry in self.table.get(subject) or ()]
        if subject in self.table:
            del self.table[subject]
        return dropped

    def count(self) -> int:
        return sum(len(entries) for entries in self.table.values())


def _first_held(entries: list[dict] | None, partition: int) -> datetime | None:
    """When the earliest of ``entries`` of ``partition`` was held (None: none of them)."""
    times = [datetime.fromisoformat(e["held_at"]) for e in entries or ()
             if e["partition"] == partition]
    return min(times) if times else None


class ServedAgencies:
    """Which agencies received events of a child under which consent: subject -> consent id
    -> agencies."""

    def __init__(self, table: MutableMapping):
        self.table = table

    def of(self, subject: str) -> dict[str, list[str]]:
        return self.table.get(subject) or {}

    def note(self, subject: str, deliveries: Iterable[Delivery]) -> None:
        """Remember the recipients of ``deliveries`` (written only when an agency is new for
        a consent)."""
        served = self.of(subject)
        new = [(d.consent_id, d.recipient) for d in deliveries
               if d.recipient not in served.get(d.consent_id, ())]
        if not new:
            return
        changed = {consent_id: list(agencies) for consent_id, agencies in served.items()}
        for consent_id, recipient in new:
            if recipient not in changed.setdefault(consent_id, []):
                changed[consent_id].append(recipient)
        self.table[subject] = changed

    def forget(self, subject: str) -> None:
        if subject in self.table:
            del self.table[subject]


class Identities:
    """Which child a pseudonym stands for, from the linkage stage's decisions: pseudonym ->
    {"outcome": same_child | possible_match | new_child, "child": pseudonym}. A pseudonym
    without an entry stands for a child of its own."""

    def __init__(self, table: MutableMapping):
        self.table = table

    def child_of(self, pseudonym: str) -> str | None:
        """The other pseudonym ``pseudonym``'s events belong to (None: its own)."""
        entry = self.table.get(pseudonym)
        if entry and entry["outcome"] == "same_child" and entry["child"] != pseudonym:
            return entry["child"]
        return None

    def pending(self, pseudonym: str) -> bool:
        """Whether the trust office is to decide about ``pseudonym`` (a possible match)."""
        entry = self.table.get(pseudonym)
        return bool(entry) and entry["outcome"] == "possible_match"

    def note(self, pseudonym: str, outcome: str, child: str) -> None:
        if self.table.get(pseudonym) != {"outcome": outcome, "child": child}:
            self.table[pseudonym] = {"outcome": outcome, "child": child}

    def forget(self, pseudonym: str) -> None:
        if pseudonym in self.table:
            del self.table[pseudonym]


class Aliases:
    """The other pseudonyms of a child, by who uses them: child -> {agency id: the
    pseudonym that agency's connector computed, "consent:<id>": the pseudonym the consent
    was given under}. An event is delivered under the pseudonym its recipient knows."""

    def __init__(self, table: MutableMapping):
        self.table = table

    def note(self, child: str, key: str, pseudonym: str) -> None:
        known = self.table.get(child) or {}
        if pseudonym != child and known.get(key) != pseudonym:
            self.table[child] = {**known, key: pseudonym}

    def name_for(self, child: str, recipient: str, consent_id: str | None) -> str:
        """The pseudonym ``recipient`` knows the child by: its own connector's, else the one
        the consent was given under, else the child's."""
        known = self.table.get(child)
        if not known:
            return child
        return known.get(recipient) or known.get(f"consent:{consent_id}") or child

    def of(self, child: str) -> dict[str, str]:
        return self.table.get(child) or {}

    def forget(self, child: str) -> None:
        if child in self.table:
            del self.table[child]


@dataclass
class RouterStores:
    """The stores the handlers are handed (each takes those it needs)."""

    consents: ConsentLedger
    held: HeldEvents
    handovers: HandoverTracker
    delivered: DeliveredSet
    served: ServedAgencies
    identities: Identities = field(default_factory=lambda: Identities({}))
    aliases: Aliases = field(default_factory=lambda: Aliases({}))

    @classmethod
    def over(cls, delivered: DeliveredSet, consents: MutableMapping, held: MutableMapping,
             handovers: MutableMapping, families: MutableMapping | None = None,
             served: MutableMapping | None = None, identities: MutableMapping | None = None,
             aliases: MutableMapping | None = None, *,
             deadlines: dict[str, Deadlines], hold_window: timedelta) -> RouterStores:
        """The stores over the router's tables (the optional ones: new dicts when None)."""
        return cls(ConsentLedger(consents), HeldEvents(held),
                   HandoverTracker(handovers, {} if families is None else families,
                                   deadlines, hold_window),
                   delivered, ServedAgencies({} if served is None else served),
                   Identities({} if identities is None else identities),
                   Aliases({} if aliases is None else aliases))
