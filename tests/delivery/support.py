"""Builders shared by the delivery tests: inbox events, Kafka records, reading batch files."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kafka.consumer.fetcher import ConsumerRecord

from connectors.delivery.batchfiles import BatchFileName
from connectors.delivery.csvfile import COLUMNS
from connectors.export_file import open_export
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType
from tests.contract.examples import example_envelope

EVENT_TYPES = list(EventType)


def inbox_event(agency_id: str, tag: str, n: int) -> Envelope:
    """Event ``n`` of a test run ``tag`` addressed to ``agency_id``: every event type in
    turn, optional fields on every other one, its own id and child."""
    event_type = EVENT_TYPES[n % len(EVENT_TYPES)]
    return example_envelope(
        event_type, with_optional=n % 2 == 0,
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"unna-hub-test/deliver/{tag}/{n}")),
        subject=hashlib.sha256(f"{tag}/{n}".encode()).hexdigest(),
        time=datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=n),
        recipient=agency_id,
    )


def inbox_events(agency_id: str, tag: str, count: int) -> list[Envelope]:
    return [inbox_event(agency_id, tag, n) for n in range(count)]


def record(offset: int, value: bytes, partition: int = 0,
           topic: str = "agency.jugendamt-selm.inbox") -> ConsumerRecord:
    """A Kafka record as kafka-python hands it out."""
    return ConsumerRecord(topic, partition, -1, offset, 0, 0, None, value, [], None,
                          -1, len(value), -1)


def read_batch_files(folder: Path, agency_id: str) -> list[tuple[BatchFileName, list[dict]]]:
    """Every batch file of the agency in ``folder`` with its rows, read by the hub's own
    reader of agency CSV files (which also checks header and encoding)."""
    files = []
    for path in sorted(Path(folder).iterdir()):
        name = BatchFileName.parse(agency_id, path.name)
        if name is not None:
            export = open_export(path, COLUMNS, encoding="utf-8")
            assert export.columns == COLUMNS
            files.append((name, [row.fields for row in export.rows()]))
    return files


def delivered_ids(folder: Path, agency_id: str) -> list[str]:
    """The Ereignis-ID of every row in the agency's batch files (duplicates kept)."""
    return [row["Ereignis-ID"] for _, rows in read_batch_files(folder, agency_id)
            for row in rows]


@dataclass
class Received:
    """One request that reached a :class:`Receiver`, and the status it was answered with."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """A webhook receiver on 127.0.0.1 (free port) in a thread; ``answer(n)`` gives the
    status for the n-th request (0-based). Use as a context manager."""

    def __init__(self, answer: Callable[[int], int] = lambda n: 200,
                 headers: dict[str, str] | None = None):
        self.answer = answer
        self.extra_headers = headers or {}
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.answer(len(receiver.requests))
                    receiver.requests.append(Received("POST", self.path, dict(self.headers),
                                                      body, status))
                self.send_response(status)
                for key, value in receiver.extra_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hub/events"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def accepted_keys(self) -> list[str]:
        """The Idempotency-Key of every request answered 2xx (duplicates kept)."""
        return [r.headers["Idempotency-Key"] for r in self.snapshot() if 200 <= r.status < 300]
