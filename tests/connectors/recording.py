"""A producer that keeps what a connector sends, for tests of ``publish`` without a broker.

It answers with kafka-python's own futures (so callbacks get their arguments exactly as the
real producer passes them) and checks sizes like the real producer's ``max_request_size``.
Tests that need the broker's own answer use the session broker instead (tests/conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kafka.errors import MessageSizeTooLargeError
from kafka.future import Future

from hub.core.topics import LINKAGE_TOPIC
from hub.deadletter import DEAD_LETTER_HEADER


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def is_dead_letter(self) -> bool:
        return any(name == DEAD_LETTER_HEADER for name, _ in self.headers)


class RecordFuture(Future):
    """Answered at once; ``get`` as kafka-python's FutureRecordMetadata has it."""

    def get(self, timeout=None):
        if self.exception is not None:
            raise self.exception
        return self.value


class RecordingProducer:
    def __init__(self, max_request_size: int = 1048576, refuse_above: int | None = None):
        self.config = {"max_request_size": max_request_size}
        # the "broker" fails larger values of the outbox in the future (its max.message.bytes
        # lowered during an import; hub.linkage has a limit of its own)
        self.refuse_above = refuse_above
        self.sent: list[Sent] = []

    def send(self, topic, value=None, key=None, headers=None, partition=None,
             timestamp_ms=None):
        size = len(key or b"") + len(value or b"")
        # the tests set limits around an event's size (a few hundred bytes); the encodings
        # (hub.linkage, under 2 KB: tests/linkage/test_encodings.py) are not theirs to test
        if size > self.config["max_request_size"] and topic != LINKAGE_TOPIC:
            raise MessageSizeTooLargeError(f"The message is {size} bytes when serialized")
        future = RecordFuture()
        if self.refuse_above is not None and len(value or b"") > self.refuse_above \
                and topic != LINKAGE_TOPIC:
            return future.failure(MessageSizeTooLargeError())
        self.sent.append(Sent(topic, key, value, list(headers or [])))
        return future.success(None)

    def flush(self, timeout=None) -> None:
        pass

    def close(self, timeout=None) -> None:
        pass

    def events(self) -> list[Sent]:
        """What went to the outbox as events (not the dead letters, not the encodings)."""
        return [s for s in self.sent if not s.is_dead_letter and s.topic != LINKAGE_TOPIC]

    def encodings(self) -> list[Sent]:
        """The linkage encodings sent (to ``hub.linkage``)."""
        return [s for s in self.sent if s.topic == LINKAGE_TOPIC]

    def dead_letters(self) -> list[dict]:
        return [json.loads(s.value) for s in self.sent if s.is_dead_letter]

    def dead_letter_texts(self) -> list[str]:
        return [s.value.decode("utf-8") for s in self.sent if s.is_dead_letter]
