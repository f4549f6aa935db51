"""Prometheus metrics of ``hub deliver`` (labels bounded: agency id and channel only).

The dead letters it sends (through the agency's outbox) are counted here as sent, and by
the worker in ``hub_dead_letters_total{stage="deliver"}`` when it writes them to hub.dlq.
"""

from __future__ import annotations

from prometheus_client import Counter

EVENTS_DELIVERED = Counter(
    "hub_deliver_events_total",
    "Inbox events handed to their agency, by agency and channel (dir, webhook).",
    ["agency", "channel"],
)
FILES_WRITTEN = Counter(
    "hub_deliver_files_total", "Batch files written by `hub deliver --to-dir`, by agency.",
    ["agency"],
)
DEAD_LETTERS_SENT = Counter(
    "hub_deliver_dead_letters_total",
    "Inbox records that did not decode, sent as dead letters (not delivered), by agency.",
    ["agency"],
)
WEBHOOK_RETRIES = Counter(
    "hub_deliver_webhook_retries_total",
    "Webhook attempts that failed and were retried, by agency.",
    ["agency"],
)


def prime_deliver_metrics(agency_id: str, channel: str) -> None:
    """The series of one ``hub deliver`` process, at 0 before its first event."""
    from hub.metrics import prime

    prime(EVENTS_DELIVERED, {"agency": agency_id, "channel": channel})
    prime(FILES_WRITTEN if channel == "dir" else WEBHOOK_RETRIES, {"agency": agency_id})
    prime(DEAD_LETTERS_SENT, {"agency": agency_id})
