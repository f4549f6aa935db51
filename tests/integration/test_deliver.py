"""``hub deliver`` against the real broker: folder delivery exactly once (also across
kill -9), webhook delivery through a failing receiver, dead letters.

Each test owns one inbox that no other test writes to, and produces its own events there.
"""

from __future__ import annotations

import base64
import collections
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.delivery.batchfiles import BatchFileName
from connectors.vocabulary import EVENT_WORDS
from hub.broker.local import free_port
from hub.contract.codec import get_codec
from hub.deadletter import DLQ_TOPIC
from hub.kafka_io import producer
from hub.tail import Tail
from hub.topics import router_partitions
from tests.delivery.support import Receiver, delivered_ids, inbox_events, read_batch_files
from tests.support.paths import REPO
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka


def publish(bootstrap: str, agency_id: str, count: int, extra: list[bytes] = ()) -> list[str]:
    """``count`` new events (keyed by child, so spread over the partitions) and the raw
    ``extra`` messages into the agency's inbox; returns the event ids."""
    events = inbox_events(agency_id, uuid.uuid4().hex, count)
    kp = producer(bootstrap, client_id="test-deliver")
    try:
        topic = f"agency.{agency_id}.inbox"
        futures = [kp.send(topic, key=e.subject.encode(), value=get_codec().encode(e))
                   for e in events]
        futures += [kp.send(topic, key=b"broken", value=value) for value in extra]
        for future in futures:
            future.get(30)
    finally:
        kp.close()
    return [e.id for e in events]


def start_deliver(topics, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "hub", "deliver", *args],
                                env=topics.env(), cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT)


def test_to_dir_once_writes_every_event_once_in_german(topics, tmp_path):
    agency, folder = "jugendamt-selm", tmp_path / "eingang"
    ids = publish(topics.bootstrap, agency, 500)

    result = topics.hub("deliver", agency, "--to-dir", str(folder), "--once",
                        "--batch-size", "100")
    assert result.returncode == 0, result.stderr
    files = read_batch_files(folder, agency)
    assert f"-> {folder}: 500 events delivered in {len(files)} files" in result.stdout
    assert "wrote jugendamt-selm_inbox_" in result.stderr  # progress per file

    delivered = delivered_ids(folder, agency)
    assert sorted(delivered) == sorted(ids)  # each event exactly once
    assert {name.partition for name, _ in files} == set(range(router_partitions()))
    assert all(0 < len(rows) <= 100 for _, rows in files)
    for path in folder.iterdir():
        assert path.name.startswith(".") or re.fullmatch(
            r"jugendamt-selm_inbox_\d{8}-\d{6}_p\d+_\d+-\d+\.csv", path.name)
    rows = {row["Ereignis-ID"]: row for _, batch in files for row in batch}
    assert {row["Ereignis"] for row in rows.values()} == set(EVENT_WORDS.values())
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}", row["Datum"]) for row in rows.values())
    assert {row["Gemeinde"] for row in rows.values()} == {"Kamen"}
    assert {row["Empfaenger"] for row in rows.values()} == {agency}

    again = topics.hub("deliver", agency, "--to-dir", str(folder), "--once")
    assert again.returncode == 0, again.stderr
    assert "0 events delivered in 0 files" in again.stdout
    # the folder, not the group, is the record: another group from the beginning adds nothing
    other = topics.hub("deliver", agency, "--to-dir", str(folder), "--once",
                       "--group", f"test-{uuid.uuid4().hex}", "--from-beginning")
    assert other.returncode == 0, other.stderr
    assert "0 events delivered in 0 files" in other.stdout
    assert len(read_batch_files(folder, agency)) == len(files)

    # a folder that records more than the inbox holds (the topic was created anew?)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / BatchFileName(agency, datetime.now(UTC), 1, 0, 10**9).name).write_bytes(b"")
    failed = topics.hub("deliver", agency, "--to-dir", str(odd), "--once")
    assert failed.returncode == 1
    assert ("the batch files in the folder record delivery of agency.jugendamt-selm.inbox up "
            "to offset 1000000000 of partition 1") in failed.stderr


def test_kill_9_in_the_middle_loses_and_doubles_nothing(topics, tmp_path):
    agency, folder = "jugendamt-werne", tmp_path / "eingang"
    ids = publish(topics.bootstrap, agency, 3000)

    port = free_port()
    proc = start_deliver(topics, tmp_path / "first.log", agency, "--to-dir", str(folder),
                         "--batch-size", "20", "--metrics-port", str(port))
    try:
        wait_for(lambda: read_batch_files(folder, agency) if folder.is_dir() else None,
                 60, "the first batch files", interval=0.05)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert re.search(r'hub_deliver_events_total\{agency="jugendamt-werne",channel="dir"\} '
                         r"[1-9]", metrics.read().decode())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    at_kill = len(delivered_ids(folder, agency))
    assert proc.returncode == -signal.SIGKILL
    # a file that was being written when the process died stays behind as a temporary file
    stale = BatchFileName(agency, datetime.now(UTC), 0, 10**6, 10**6)
    (folder / stale.temp_name).write_bytes(b"Ereignis-ID;Ereignis\r\nhalf a li")

    result = topics.hub("deliver", agency, "--to-dir", str(folder), "--once",
                        "--batch-size", "500")
    assert result.returncode == 0, result.stderr
    assert stale.temp_name in result.stderr and not (folder / stale.temp_name).exists()
    delivered = delivered_ids(folder, agency)
    duplicates = [i for i, n in collections.Counter(delivered).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} events written twice (killed at {at_kill})"
    assert sorted(delivered) == sorted(ids), f"killed after {at_kill} of 3000 events"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_webhook_through_a_failing_receiver(topics, tmp_path):
    agency, group = "kita-luenen-sonnenschein", f"test-webhook-{uuid.uuid4().hex}"
    fast = ("--group", group, "--max-backoff", "0.05")
    first_ids = publish(topics.bootstrap, agency, 200)

    # the first 5 requests fail, then the receiver accepts
    with Receiver(lambda n: 500 if n < 5 else 200) as receiver:
        result = topics.hub("deliver", agency, "--webhook", receiver.url, "--once", *fast)
    assert result.returncode == 0, result.stderr
    accepted = receiver.accepted_keys()
    assert sorted(accepted) == sorted(first_ids)  # all arrived, each key accepted once
    assert len(receiver.requests) == 205
    assert "HTTP 500" in result.stderr and "200 events delivered" in result.stdout
    body = receiver.requests[-1].body.decode()
    assert '"subject"' in body and body.split('"subject": "')[1][:64] not in result.stderr

    # a receiver that keeps failing: the run is stopped, nothing may be skipped
    second_ids = publish(topics.bootstrap, agency, 50)
    with Receiver(lambda n: 503) as down:
        proc = start_deliver(topics, tmp_path / "down.log", agency, "--webhook", down.url,
                             "--once", *fast)
        try:
            wait_for(lambda: len(down.snapshot()) >= 5, 60, "retries at the failing receiver",
                     interval=0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    log = (tmp_path / "down.log").read_text()
    assert proc.returncode == 1, log
    assert "stopped while" in log and "delivered by the next run" in log
    assert not down.accepted_keys()

    with Receiver() as healthy:
        result = topics.hub("deliver", agency, "--webhook", healthy.url, "--once", *fast)
    assert result.returncode == 0, result.stderr
    assert sorted(healthy.accepted_keys()) == sorted(second_ids)


def test_an_undecodable_message_is_dead_lettered_and_the_rest_delivered(worker, topics,
                                                                        tmp_path):
    agency, folder = "jugendamt-bergkamen", tmp_path / "eingang"
    garbage = b"\xc3\x01" + uuid.uuid4().bytes  # marker, then no known schema
    ids = publish(topics.bootstrap, agency, 30, extra=[garbage])
    ids += publish(topics.bootstrap, agency, 30)

    result = topics.hub("deliver", agency, "--to-dir", str(folder), "--once")
    assert result.returncode == 0, result.stderr
    assert "60 events delivered" in result.stdout
    assert (f"1 message dead-lettered (to hub.dlq, through agency.{agency}.outbox)"
            in result.stdout)
    assert "unknown writer schema fingerprint" in result.stderr
    assert sorted(delivered_ids(folder, agency)) == sorted(ids)

    # the agency's process wrote to its own outbox; the router moved it to hub.dlq
    def dead_lettered():
        return [r.value for r in Tail(topics.bootstrap, [DLQ_TOPIC], from_beginning=True,
                                      timeout=1.5)
                if r.value and r.value.get("topic") == f"agency.{agency}.inbox"
                and base64.b64decode(r.value["value_base64"]) == garbage]
    (letter,) = wait_for(dead_lettered, 60, "the dead letter in hub.dlq")
    assert letter["stage"] == "deliver"
    assert (letter["agency"], letter["relayed_from"]) == (agency, f"agency.{agency}.outbox")
    assert "unknown writer schema fingerprint" in letter["reasons"][0]
