"""After ingesting every example export, no topic of the broker holds a name or a birth
date of the examples, in any spelling or date format."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from kafka import TopicPartition

from connectors.pseudonym import normalise_name
from hub.kafka_io import admin_client, consumer, read_to_end
from hub.paths import PROJECT_ROOT
from tests.support.waiting import wait_for

EXAMPLES = PROJECT_ROOT / "connectors" / "examples"
PEOPLE = [  # (given, family, birth date) of the invented people in connectors/examples
    ("Mia", "Schröder", date(2025, 2, 14)), ("Leon", "Yılmaz", date(2020, 9, 2)),
    ("Sofia", "Al-Hassan", date(2024, 1, 30)), ("Noah", "Krüger", date(2019, 11, 11)),
    ("Emma", "Nowak", date(2009, 6, 23)),
]


def spellings(name: str) -> set[str]:
    folded = normalise_name(name)
    variants = {name, name.lower(), name.upper(), folded, folded.capitalize(),
                name.replace("-", " "), name.replace("ı", "i")}
    return {v for v in variants if len(v) >= 3}


def date_formats(day: date) -> set[str]:
    return {f"{day:%d.%m.%Y}", day.isoformat(), f"{day:%Y%m%d}", f"{day.day}.{day.month}."
            f"{day.year}", f"{day:%d/%m/%Y}", f"{day:%m/%d/%Y}", f"{day:%d.%m.%y}"}


def needles() -> set[bytes]:
    texts = set()
    for given, family, birth in PEOPLE:
        texts |= spellings(given) | spellings(family) | date_formats(birth)
    encoded = set()
    for text in texts:
        for enc in ("utf-8", "cp1252", "utf-16-le"):
            try:
                encoded.add(text.encode(enc))
            except UnicodeEncodeError:  # "ı" has no Windows-1252 form
                pass
    return encoded


DAY_MS = 86_400_000


def inside_a_timestamp(blob: bytes, at: int, length: int, now: int | None = None) -> bool:
    """Whether the bytes blob[at:at + length] lie inside a big-endian 64-bit number that
    reads as a time within a day of ``now`` (default: the clock's) in milliseconds:
    Kafka's own records (the group coordinator's offset commits) carry such timestamps,
    and three of their bytes can spell a short name by chance, for a quarter of a second
    at a time."""
    now = int(time.time() * 1000) if now is None else now
    for start in range(max(0, at + length - 8), min(at, len(blob) - 8) + 1):
        if now - DAY_MS <= int.from_bytes(blob[start:start + 8], "big") <= now + DAY_MS:
            return True
    return False


def test_a_name_spelled_by_a_timestamp_is_not_a_leak():
    # the time of day that spells "Mia" in bytes 5-7 of the clock's milliseconds, once
    # every 50 days: judged from 3 hours later, and from 3 days later (no time of the day)
    spelled = (int(time.time() * 1000) & ~0xFFFFFF00) | (int.from_bytes(b"Mia", "big") << 8)
    record = b"\x00\x03" + spelled.to_bytes(8, "big") + b"\x00\x06Mia"
    hits = [m.start() for m in re.finditer(b"Mia", record)]
    assert len(hits) == 2
    hours_later, days_later = spelled + 3 * 3_600_000, spelled + 3 * DAY_MS
    assert inside_a_timestamp(record, hits[0], 3, now=hours_later)
    assert not inside_a_timestamp(record, hits[1], 3, now=hours_later)
    assert not inside_a_timestamp(record, hits[0], 3, now=days_later)


def every_record(bootstrap: str):
    with admin_client(bootstrap) as admin:
        topic_names = admin.list_topics()
    kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(t, p) for t in topic_names
                      for p in kc.partitions_for_topic(t) or ()]
        kc.assign(partitions)
        kc.seek_to_beginning(*partitions)
        ends = kc.end_offsets(partitions)
        while any(kc.position(tp) < ends[tp] for tp in partitions):
            for batch in kc.poll(timeout_ms=500).values():
                yield from batch
    finally:
        kc.close()


@pytest.mark.kafka
def test_no_topic_holds_a_name_or_birth_date(worker, topics):
    for path in sorted(EXAMPLES.glob("*.csv")):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    # wait until the worker has routed the examples (Emma's handover reaches Lünen)
    wait_for(lambda: next(read_to_end(topics.bootstrap, "agency.jugendamt-luenen.inbox"),
                          None), 60, "routing")
    found, records, topic_names = [], 0, set()
    patterns = needles()
    for record in every_record(topics.bootstrap):
        records += 1
        topic_names.add(record.topic)
        blobs = [record.key or b"", record.value or b""]
        blobs += [k.encode() + (v or b"") for k, v in (record.headers or [])]
        for blob in blobs:
            for needle in patterns:
                if needle not in blob:  # a substring test first: most blobs hold none
                    continue
                for hit in re.finditer(re.escape(needle), blob):
                    if not inside_a_timestamp(blob, hit.start(), len(needle)):
                        found.append((record.topic, record.offset, needle))
    assert records > 20 and "agency.jugendamt-kamen.outbox" in topic_names
    assert not found, found[:10]
