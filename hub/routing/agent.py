"""The router agent: reads every agency outbox, forwards each event to its inboxes.

It moves bytes only: decoding, the decision and the dead letters come from the core.
"""

from __future__ import annotations

import logging

import faust

from hub.agencies import AgencyDirectory
from hub.contract.codec import get_codec
from hub.deadletter import DLQ_TOPIC, worker_dead_letter
from hub.errors import DecodeError
from hub.metrics import DEAD_LETTERS, DELIVERIES, EVENTS_CONSUMED
from hub.routing.rules import Router

log = logging.getLogger(__name__)


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def register_router(app: faust.App, agencies: AgencyDirectory) -> None:
    router = Router(agencies)
    codec = get_codec()
    outboxes = _raw_topic(app, *[a.outbox for a in agencies.exchanging()])
    inboxes = {a.id: _raw_topic(app, a.inbox) for a in agencies.exchanging()}
    dlq = _raw_topic(app, DLQ_TOPIC)

    async def dead_letter(message, reasons: list[str], reason_label: str) -> None:
        DEAD_LETTERS.labels(stage="router", reason=reason_label).inc()
        log.warning("dead letter from %s[%s]@%s: %s", message.topic, message.partition,
                    message.offset, "; ".join(reasons))
        await dlq.send(
            key=message.topic.encode(),
            value=worker_dead_letter("router", message.topic, message.partition,
                                     message.offset, message.value, reasons),
        )

    @app.agent(outboxes, name="hub.router")
    async def route(stream):
        async for event in stream.events():
            message = event.message
            try:
                envelope = codec.decode(event.value)
            except DecodeError as exc:
                EVENTS_CONSUMED.labels(topic=message.topic, type="undecodable").inc()
                await dead_letter(message, [exc.reason], "undecodable")
                continue
            EVENTS_CONSUMED.labels(topic=message.topic, type=envelope.type.value).inc()
            decision = router.decide(envelope, message.topic)
            if decision.rejected:
                await dead_letter(message, decision.rejected, "source_mismatch")
                continue
            for delivery in decision.deliveries:
                await inboxes[delivery.recipient].send(key=event.key, value=event.value)
                DELIVERIES.labels(recipient=delivery.recipient, type=envelope.type.value).inc()
                log.info("delivered %s %s to %s", envelope.type.value, envelope.id,
                         delivery.recipient)
            for refusal in decision.refusals:
                log.info("refused %s %s for %s: %s", envelope.type.value, envelope.id,
                         refusal.recipient, refusal.reason)
