"""Publish events straight from agency software, without an export file.

The same checks, pseudonymisation and deterministic ids as ``hub ingest``: values may be
given in the contract's words (``handover.requested``, ``fruehe_hilfen``, ``kamen``) or in
the German words of the exports (``Übergabe angefragt``, ``Frühe Hilfen``, ``Kamen``)::

    from datetime import date
    from connectors.sdk import AgencyConnector, Person

    with AgencyConnector.from_settings("jugendamt-kamen") as hub:
        event = hub.publish("Übergabe angefragt", record_id="JA-KAM-2026-0201",
                            on=date(2026, 11, 2), person=Person("Mia", "Schröder",
                            date(2025, 2, 14)), town="Kamen", purpose="Frühe Hilfen",
                            recipient="gesundheitsamt-kreis-unna", handover_id="UE-KAM-0020")

Before a child's first event, the connector sends the child's linkage encodings to
``hub.linkage`` (:mod:`connectors.encodings`: keyed tokens, never the names).
A call returns once the broker has acknowledged the event (acks=all, idempotent producer);
problems raise :class:`~connectors.envelopes.RowError` listing every problem, or
:class:`~hub.errors.BrokerError` when the broker does not answer; invalid ``HUB_`` settings
raise :class:`~hub.errors.ConfigError` naming the variable, as the ``hub`` command does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from kafka.errors import KafkaError, MessageSizeTooLargeError

from connectors import vocabulary
from connectors.encodings import RecentChildren, encode, linkage_key
from connectors.envelopes import (
    ConsentFacts,
    EventFacts,
    Person,
    RowError,
    build_consent_envelope,
    build_envelope,
)
from connectors.ingest import ENCODED_REMEMBERED, message_limit, outbox_limits, too_large
from hub.agencies import AgencyDirectory, load_agencies
from hub.contract.codec import get_codec
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType, Municipality, Purpose
from hub.core.topics import LINKAGE_TOPIC
from hub.errors import BrokerError, InputError
from hub.kafka_io import existing_topics, missing_topic, producer
from hub.settings import PseudonymKey, Settings, load_settings

__all__ = ["AgencyConnector", "Person", "RowError"]


def _either(value: str | None, canonical: set[str], german: Callable[[str], str | None],
            what: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if value in canonical:
        return value
    mapped = german(value)
    if mapped is None:
        problems.append(f"{what} {value!r} is not known")
    return mapped


class AgencyConnector:
    """One agency's connection to the hub: validates, pseudonymises and publishes."""

    def __init__(self, agency_id: str, key: PseudonymKey, producer,
                 agencies: AgencyDirectory | None = None, ack_timeout: float = 30.0,
                 max_message_bytes: int | None = None,
                 reconnect: Callable[[], object] | None = None):
        """``max_message_bytes``: the outbox's limit (``connectors.ingest.outbox_limits``);
        ``reconnect`` makes a new producer, used after the broker refused an event as too
        large (kafka-python's idempotent producer fails every later record after that)."""
        self.agencies = agencies or load_agencies()
        agency = self.agencies.get(agency_id)
        if agency is None or not agency.exchanges_events:
            raise InputError(f"{agency_id!r} is not an agency with an outbox "
                             "(deploy/agencies.yaml)")
        self.agency = agency
        self.key = key
        self.producer = producer
        self.ack_timeout = ack_timeout
        self.max_message_bytes = max_message_bytes
        self._reconnect = reconnect
        self._codec = get_codec()
        self._linkage_key = linkage_key(key)
        self._encoded = RecentChildren(ENCODED_REMEMBERED)

    @classmethod
    def from_settings(cls, agency_id: str, settings: Settings | None = None) -> AgencyConnector:
        """Connect with the ``HUB_`` settings (bootstrap servers, key file); the outbox's
        limit is read from the cluster first."""
        settings = settings or load_settings()
        key = settings.pseudonym_key
        agencies = load_agencies()
        agency = agencies.get(agency_id)
        if agency is None or not agency.exchanges_events:
            return cls(agency_id, key, None, agencies)  # raises: not an agency with an outbox
        if LINKAGE_TOPIC not in existing_topics(settings.kafka):
            raise missing_topic(settings.kafka, LINKAGE_TOPIC)
        limits = outbox_limits(settings.kafka, agency.outbox)
        if limits.note:
            logging.getLogger(__name__).warning("%s", limits.note)

        def connect():
            return producer(settings.kafka, f"sdk-{agency_id}", batch_size=limits.batch_size)

        return cls(agency_id, key, connect(), agencies,
                   max_message_bytes=limits.max_message_bytes, reconnect=connect)

    def __enter__(self) -> AgencyConnector:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()

    def publish(self, event: str, *, record_id: str, on: date, person: Person, town: str,
                purpose: str, recipient: str | None = None, handover_id: str | None = None,
                offer: str | None = None, screening: str | None = None,
                result: str | None = None) -> Envelope:
        """Publish one offer, handover or screening event; returns the published envelope."""
        problems: list[str] = []
        etype = _either(event, {t.value for t in EventType}, vocabulary.event_type, "event",
                        problems)
        facts_kwargs = dict(
            agency_id=self.agency.id, record_id=record_id, event_type=etype, on=on,
            person=person,
            municipality=_either(town, {m.value for m in Municipality},
                                 vocabulary.municipality, "town", problems),
            purpose=_either(purpose, {p.value for p in Purpose}, vocabulary.purpose,
                            "purpose", problems),
            recipient=recipient, handover_id=handover_id, offer_category=offer,
            screening_kind=_either(screening, set(vocabulary.SCREENING_WORDS),
                                   vocabulary.screening_kind, "screening", problems),
            support_category=_either(result, set(vocabulary.SUPPORT_CATEGORY_WORDS),
                                     vocabulary.support_category, "result", problems),
        )
        if problems:
            raise RowError(problems)
        envelope = build_envelope(EventFacts(**facts_kwargs), self.key, self.agencies)
        return self._send(envelope, person)

    def publish_consent(self, *, consent_id: str, granted: bool, person: Person, town: str,
                        purpose: str, recipients: list[str], valid_from: date,
                        valid_to: date | None, recorded_on: date) -> Envelope:
        """Publish a consent's current state (granted, or withdrawn as of ``recorded_on``)."""
        problems: list[str] = []
        municipality = _either(town, {m.value for m in Municipality}, vocabulary.municipality,
                               "town", problems)
        canonical_purpose = _either(purpose, {p.value for p in Purpose}, vocabulary.purpose,
                                    "purpose", problems)
        if problems:
            raise RowError(problems)
        facts = ConsentFacts(self.agency.id, consent_id, granted, person, municipality,
                             canonical_purpose, tuple(recipients), valid_from, valid_to,
                             recorded_on)
        return self._send(build_consent_envelope(facts, self.key, self.agencies), person)

    def _send(self, envelope: Envelope, person: Person) -> Envelope:
        value = self._codec.encode(envelope)
        size = len(value) + len(envelope.subject)
        limit = message_limit(self.producer)
        if self.max_message_bytes is not None:
            limit = min(limit, self.max_message_bytes)
        if size > limit:
            raise RowError([too_large(size, limit)])
        key = envelope.subject.encode()
        try:
            if not self._encoded.seen(envelope.subject):  # once per child, before its event
                encodings = encode(self._linkage_key, person.given_name, person.family_name,
                                   person.birth_date).to_bytes()
                self.producer.send(LINKAGE_TOPIC, key=key, value=encodings).get(
                    timeout=self.ack_timeout)
                self._encoded.note(envelope.subject)
            future = self.producer.send(self.agency.outbox, key=key, value=value)
            future.get(timeout=self.ack_timeout)
        except MessageSizeTooLargeError:
            self._renew_producer()
            raise RowError([f"the event is {size} bytes: the broker refused it as too large "
                            "(the topic's max.message.bytes or the broker's "
                            "message.max.bytes is lower)"]) from None
        except KafkaError as exc:
            raise BrokerError(f"event {envelope.id} was not acknowledged by the broker: "
                              f"{exc}") from exc
        return envelope

    def _renew_producer(self) -> None:
        if self._reconnect is None:
            return
        try:
            self.producer.close(timeout=1)
        except KafkaError:
            pass
        self.producer = self._reconnect()
