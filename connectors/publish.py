"""Publishing a converted export (:class:`connectors.ingest.Conversion`) to Kafka: the
events to the agency's outbox, the linkage encodings of each child to ``hub.linkage``
(once per child and file, before its first event), and each rejected row as a dead letter
through the outbox. Ends with a flush, and lists every event the broker did not
acknowledge."""

from __future__ import annotations

from collections.abc import Callable

from connectors.envelopes import public_reasons
from connectors.ingest import Conversion, Outcome, Summary, message_limit, too_large
from connectors.progress import ProgressBar
from hub.deadletter import connector_dead_letter, outbox_headers
from hub.metrics import CONNECTOR_ROWS


def publish(conversion: Conversion, producer, report: Callable[[str], None] = print,
            progress: ProgressBar | None = None) -> Summary:
    """Stream the file's events to the outbox and its rejected rows to the dead-letter topic;
    flush, and list every event the broker did not acknowledge in the summary.

    An event larger than ``conversion.max_message_bytes`` (see ``outbox_limits``) or than
    the producer sends is a rejected row with a dead letter, found before sending. One the
    broker refuses anyway (the topic's limit was lowered during the import) is listed as
    unacknowledged with its size: a re-run reads the new limit and rejects it as a row."""
    conversion.max_message_bytes = min(conversion.max_message_bytes, message_limit(producer))
    return _Publication(conversion, producer, report).run(progress)


class _Publication:
    """One run of :func:`publish`: what was sent, acknowledged and failed."""

    def __init__(self, conversion: Conversion, producer, report: Callable[[str], None]):
        self.conversion = conversion
        self.producer = producer
        self.report = report
        self.summary = conversion.summary
        self.acked = self.failed = self.sent = 0

    def run(self, progress: ProgressBar | None) -> Summary:
        for outcome in self.conversion.outcomes():
            if progress:
                progress.advance()
            if outcome.kind == "event":
                self.send_event(outcome)
            elif outcome.kind == "rejected":
                self.reject(outcome.line, outcome.problems)
        self.flush()
        if progress:
            progress.finish()
        return self.finish()

    def send_event(self, outcome: Outcome) -> None:
        from kafka.errors import MessageSizeTooLargeError

        envelope = outcome.envelope
        key = envelope.subject.encode()
        if outcome.encodings is not None:  # the child's first row in this file
            self.send_encodings(outcome.line, key, outcome.encodings)
        try:
            future = self.producer.send(self.conversion.topic, key=key, value=outcome.value)
        except MessageSizeTooLargeError:  # the producer's own check, before sending
            size = len(outcome.value) + len(envelope.subject)
            self.summary.rejected += 1
            self.reject(outcome.line, [too_large(size, self.conversion.max_message_bytes)])
            return
        self.sent += 1
        future.add_callback(self.on_success)
        future.add_errback(self.on_error, outcome.line, f"event {envelope.id}",
                           len(outcome.value) + len(envelope.subject))

    def send_encodings(self, line: int, key: bytes, encodings: bytes) -> None:
        """The child's linkage encodings (never counted as an event; a failure is listed as
        unacknowledged, like an event's)."""
        from kafka.errors import MessageSizeTooLargeError

        try:
            future = self.producer.send(self.conversion.linkage_topic, key=key,
                                        value=encodings)
        except MessageSizeTooLargeError as exc:
            self.on_error(line, "linkage encodings", len(encodings), exc)
        else:
            future.add_errback(self.on_error, line, "linkage encodings", len(encodings))

    def on_success(self, _metadata) -> None:
        self.acked += 1

    # kafka-python calls an errback with its bound arguments first, the exception last
    def on_error(self, line: int, what: str, size: int, exc: Exception) -> None:
        from kafka.errors import MessageSizeTooLargeError

        self.failed += what.startswith("event")
        if isinstance(exc, MessageSizeTooLargeError):
            self.summary.unacknowledged.append(
                f"row {line} ({what}, {size} bytes): the broker answered \"message too "
                "large\" (the outbox's max.message.bytes was lowered during the import, and "
                "kafka-python then fails the records after it too); a re-run reads the new "
                "limit first and rejects only the rows above it")
        else:
            self.summary.unacknowledged.append(f"row {line} ({what}): {exc}")

    def dead_letter(self, line: int, problems) -> None:
        """Through the agency's own outbox: the router moves it to hub.dlq."""
        from kafka.errors import MessageSizeTooLargeError

        conversion = self.conversion
        value = connector_dead_letter(conversion.agency_id, conversion.path.name, line,
                                      public_reasons(problems))
        try:
            future = self.producer.send(conversion.topic, key=conversion.agency_id.encode(),
                                        value=value, headers=outbox_headers("connector"))
        except MessageSizeTooLargeError as exc:
            self.on_error(line, "dead letter", len(value), exc)
        else:
            future.add_errback(self.on_error, line, "dead letter", len(value))

    def reject(self, line: int, problems) -> None:
        outcome = Outcome(line, "rejected", problems=tuple(problems))
        self.report(f"rejected: {self.conversion.describe_rejection(outcome)}")
        self.dead_letter(line, problems)

    def flush(self) -> None:
        """kafka-python 3.0.12: when the broker refuses a batch as too large, the producer
        splits it and flush() gives up on the split batch ("Future not done"); the halves
        are waited for by flushing again."""
        from kafka.errors import KafkaError

        for attempt in range(8):
            try:
                self.producer.flush()
                return
            except KafkaError as exc:  # what is still open is listed as unacknowledged
                if "Future not done" not in str(exc) or attempt == 7:
                    self.summary.unacknowledged.append(f"the producer failed: {exc}")
                    return

    def finish(self) -> Summary:
        summary = self.summary
        summary.published = self.acked
        pending = self.sent - summary.published - self.failed
        if pending > 0:
            summary.unacknowledged.append(f"{pending} events without an answer from the broker")
        labels = {"published": summary.published, "rejected": summary.rejected,
                  "duplicate": summary.duplicates, "superseded": summary.superseded,
                  "unacknowledged": len(summary.unacknowledged)}
        for result, n in labels.items():
            CONNECTOR_ROWS.labels(agency=self.conversion.agency_id, result=result).inc(n)
        return summary
