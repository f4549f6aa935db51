"""The delivery loops driven by an in-memory inbox (no broker): batching, commit order,
dead letters, crash and restart, a failing receiver."""

from __future__ import annotations

import os
import threading

import pytest

from connectors.delivery.batchfiles import written_positions
from connectors.delivery.directory import BatchDirectory
from connectors.delivery.inbox import start_offsets
from connectors.delivery.loops import (
    PendingBatches,
    deliver_to_directory,
    deliver_to_webhook,
)
from hub.contract.codec import get_codec
from tests.delivery.support import delivered_ids, inbox_events, read_batch_files, record

AGENCY = "jugendamt-selm"
TOPIC = f"agency.{AGENCY}.inbox"
BAD = b'{"not": "avro"}'


class Killed(Exception):
    """Stands for kill -9 at the point where it is raised."""


class MemoryInbox:
    """An inbox of a few partitions in memory, read from given start offsets."""

    topic, agency_id = TOPIC, AGENCY

    def __init__(self, partitions: dict[int, list[bytes]], starts=None, max_records=7,
                 before_commit=None):
        self.values = partitions
        self.positions = {p: (starts or {}).get(p) or 0 for p in partitions}
        self.committed: dict[int, int] = {}
        self.dead_letters: list[tuple[int, int, str]] = []
        self.max_records = max_records
        self.before_commit = before_commit

    def poll(self, timeout_s):
        out = []
        for p in sorted(self.values):
            while self.positions[p] < len(self.values[p]) and len(out) < self.max_records:
                out.append(record(self.positions[p], self.values[p][self.positions[p]], p))
                self.positions[p] += 1
        return out

    def caught_up(self):
        return all(self.positions[p] == len(v) for p, v in self.values.items())

    def commit(self, next_offsets):
        if self.before_commit:
            self.before_commit(next_offsets)
        self.committed.update(next_offsets)

    def dead_letter(self, rec, reason):
        self.dead_letters.append((rec.partition, rec.offset, reason))


def spread(values: list[bytes], partitions: int = 3) -> dict[int, list[bytes]]:
    return {p: values[p::partitions] for p in range(partitions)}


def encoded(count: int, tag: str = "loops") -> tuple[list[str], list[bytes]]:
    events = inbox_events(AGENCY, tag, count)
    return [e.id for e in events], [get_codec().encode(e) for e in events]


def run_dir(inbox, folder, batch_size=10, **kw):
    with BatchDirectory(folder, AGENCY) as directory:
        return deliver_to_directory(inbox, directory, batch_size=batch_size,
                                    batch_seconds=kw.pop("batch_seconds", 60.0),
                                    once=kw.pop("once", True),
                                    stop=kw.pop("stop", threading.Event()), **kw)


# ------------------------------------------------------------------------ PendingBatches
def test_pending_batches_are_cut_by_size_and_age():
    pending = PendingBatches(size=3, max_wait=5.0)
    pending.add([record(o, b"", 0) for o in range(7)] + [record(0, b"", 1)], now=100.0)
    assert [(p, [r.offset for r in b]) for p, b in pending.due(101.0)] == [
        (0, [0, 1, 2]), (0, [3, 4, 5])]
    assert list(pending.due(104.9)) == []
    assert [(p, [r.offset for r in b]) for p, b in pending.due(105.0)] == [(0, [6]), (1, [0])]
    assert list(pending.drain()) == []


def test_pending_batches_drain_everything_in_batches():
    pending = PendingBatches(size=2, max_wait=60.0)
    pending.add([record(o, b"", 2) for o in range(5)], now=0.0)
    assert [len(b) for _, b in pending.drain()] == [2, 2, 1]


# ------------------------------------------------------------------------ start offsets
def test_start_offsets_prefer_what_the_folder_records():
    committed = {0: 40, 1: None, 2: 90, 3: None}
    written = {0: 50, 2: 80}
    assert start_offsets(range(4), committed, written) == {0: 50, 1: None, 2: 90, 3: None}
    # --from-beginning ignores the group, never the folder
    assert start_offsets(range(4), committed, written, from_beginning=True) == {
        0: 50, 1: None, 2: 80, 3: None}


# ---------------------------------------------------------------------------- to a folder
def test_every_event_once_in_batches_per_partition(tmp_path):
    ids, values = encoded(65)
    inbox = MemoryInbox(spread(values))
    report = run_dir(inbox, tmp_path)
    files = read_batch_files(tmp_path, AGENCY)
    assert sorted(delivered_ids(tmp_path, AGENCY)) == sorted(ids)
    assert (report.events, report.files, report.dead_letters) == (65, len(files), 0)
    assert all(len(rows) <= 10 for _, rows in files)
    for name, rows in files:  # a file holds the offsets its name says, of one partition
        expected = spread(ids)[name.partition][name.first:name.last + 1]
        assert [r["Ereignis-ID"] for r in rows] == expected
    assert inbox.committed == {0: 22, 1: 22, 2: 21}


def test_offsets_are_committed_only_after_the_file_is_in_place(tmp_path):
    checked = []

    def check(next_offsets):
        written = written_positions(AGENCY, os.listdir(tmp_path))
        for partition, offset in next_offsets.items():
            assert written.get(partition, 0) >= offset
            checked.append(partition)

    _, values = encoded(30)
    run_dir(MemoryInbox(spread(values), before_commit=check), tmp_path)
    assert sorted(set(checked)) == [0, 1, 2]


def test_undecodable_messages_are_dead_lettered_and_the_rest_delivered(tmp_path):
    ids, values = encoded(12)
    values[3:3] = [BAD]  # offset 3 of partition 0
    inbox = MemoryInbox({0: values, 1: [BAD, BAD]})
    report = run_dir(inbox, tmp_path, batch_size=5)
    assert sorted(delivered_ids(tmp_path, AGENCY)) == sorted(ids)
    assert report.dead_letters == 3
    assert [(p, o) for p, o, _ in inbox.dead_letters] == [(0, 3), (1, 0), (1, 1)]
    assert "got JSON?" in inbox.dead_letters[0][2]
    names = [name for name, _ in read_batch_files(tmp_path, AGENCY)]
    assert (names[0].first, names[0].last) == (0, 4)  # the range includes the dead letter
    assert all(name.partition == 0 for name in names)  # only dead letters: no file ...
    assert inbox.committed[1] == 2                      # ... but the position moves on


def test_a_crash_between_file_and_commit_writes_nothing_twice(tmp_path):
    ids, values = encoded(60)
    partitions = spread(values)
    commits = 0

    def killed_at_the_fourth_commit(next_offsets):
        nonlocal commits
        commits += 1
        if commits == 4:
            raise Killed

    first = MemoryInbox(partitions, before_commit=killed_at_the_fourth_commit)
    with pytest.raises(Killed):
        run_dir(first, tmp_path, batch_size=4)
    assert len(delivered_ids(tmp_path, AGENCY)) == 16  # 4 files on disk, 3 commits

    with BatchDirectory(tmp_path, AGENCY) as directory:
        written = directory.written_positions()
    starts = start_offsets(partitions, first.committed, written)
    assert starts != {p: first.committed.get(p) for p in partitions}  # the folder knew more
    run_dir(MemoryInbox(partitions, starts), tmp_path, batch_size=4)
    delivered = delivered_ids(tmp_path, AGENCY)
    assert sorted(delivered) == sorted(ids) and len(delivered) == len(set(delivered))


def test_a_partial_batch_waits_for_batch_seconds(tmp_path):
    _, values = encoded(3)
    stop = threading.Event()
    now = [0.0]

    class TwoPolls(MemoryInbox):
        polls = 0

        def poll(self, timeout_s):
            self.polls += 1
            if self.polls == 2:
                assert read_batch_files(tmp_path, AGENCY) == []  # 0 s waited: nothing yet
                now[0] = 5.0
            if self.polls == 3:
                stop.set()
            return super().poll(timeout_s)

    inbox = TwoPolls({0: values})
    report = run_dir(inbox, tmp_path, once=False, stop=stop, batch_seconds=5.0,
                     clock=lambda: now[0])
    assert report.files == 1 and inbox.committed == {0: 3}


def test_stop_writes_what_is_pending(tmp_path):
    _, values = encoded(5)
    stop = threading.Event()

    class StopAfterFirstPoll(MemoryInbox):
        def poll(self, timeout_s):
            stop.set()
            return super().poll(timeout_s)

    report = run_dir(StopAfterFirstPoll({0: values}), tmp_path, once=False, stop=stop)
    assert report.events == 5


# ------------------------------------------------------------------------------ webhook
class FlakySender:
    """Accepts events, except that it keeps failing from delivery number ``fail_from``."""

    def __init__(self, fail_from=None):
        self.fail_from = fail_from
        self.delivered: list[str] = []

    def deliver(self, envelope):
        if self.fail_from is not None and len(self.delivered) >= self.fail_from:
            return False  # the receiver kept failing until the stop
        self.delivered.append(envelope.id)
        return True


def test_webhook_delivers_everything_and_dead_letters_the_undecodable():
    ids, values = encoded(20)
    values[5] = BAD
    inbox = MemoryInbox(spread(values))
    sender = FlakySender()
    report = deliver_to_webhook(inbox, sender, once=True, stop=threading.Event())
    assert sorted(sender.delivered) == sorted(ids[:5] + ids[6:])
    assert report.events == 19 and report.dead_letters == 1
    assert inbox.committed == {0: 7, 1: 7, 2: 6}


def test_webhook_never_commits_past_an_undelivered_event():
    ids, values = encoded(20)
    partitions = spread(values)
    first = MemoryInbox(partitions, max_records=20)
    report = deliver_to_webhook(first, FlakySender(fail_from=9), once=True,
                                stop=threading.Event())
    assert report.receiver_failing and report.events == 9
    assert first.committed == {0: 7, 1: 2}  # p0 done, p1 up to the refused event

    second = FlakySender()
    deliver_to_webhook(MemoryInbox(partitions, first.committed), second, once=True,
                       stop=threading.Event())
    assert sorted(second.delivered) == sorted(ids[1::3][2:] + ids[2::3])
