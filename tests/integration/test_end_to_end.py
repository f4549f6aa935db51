"""One path end to end on the real broker: ingest -> worker (router) -> inbox -> tail."""

from __future__ import annotations

import json
import uuid

import pytest

from connectors.ingest import convert_file
from hub.agencies import load_agencies
from hub.contract.codec import get_codec
from hub.deadletter import decode_dead_letter
from hub.kafka_io import producer
from hub.tail import Tail
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka


def read_all(bootstrap: str, topic: str, timeout: float = 3.0) -> list:
    return list(Tail(bootstrap, [topic], from_beginning=True, timeout=timeout))


def wait_for_ids(bootstrap: str, topic: str, ids: set[str], timeout: float = 60.0) -> list:
    """Records of ``topic`` once every id in ``ids`` has arrived there."""
    def arrived():
        records = [r for r in read_all(bootstrap, topic, 1.0) if r.value]
        return records if ids <= {r.value.get("id") for r in records} else None
    return wait_for(arrived, timeout, f"events {sorted(ids)} in {topic}", interval=0.5)


@pytest.fixture
def unique_export(tmp_path):
    """A youth-office export whose children and case numbers exist only in this test."""
    tag = uuid.uuid4().hex[:8]
    rows = [
        youth_office_row(Vorgangsnummer=f"JA-{tag}-1", Vorname=f"Tom{tag}",
                         **{"Uebergabe-ID": f"UE-{tag}-1"}),
        youth_office_row(Vorgangsnummer=f"JA-{tag}-1", Vorname=f"Tom{tag}",
                         **{"Uebergabe-ID": f"UE-{tag}-1"}),  # exported twice
        youth_office_row(Vorgangsnummer=f"JA-{tag}-2", Vorname=f"Jana{tag}",
                         Geburtsdatum="12.08.2009", Zielstelle="jobcenter-kreis-unna",
                         Zweck="Übergang Schule-Beruf", **{"Uebergabe-ID": f"UE-{tag}-2"}),
        youth_office_row(Vorgangsnummer=f"JA-{tag}-3", Vorname=f"Tom{tag}",
                         Ereignis="Angebot unterbreitet", Angebot="Sprachförderung",
                         Zielstelle="", **{"Uebergabe-ID": ""}),
        youth_office_row(Vorgangsnummer=f"JA-{tag}-4", Vorname=f"Kim{tag}",
                         Datum="31.02.2026", Wohnort="Dortmund"),
    ]
    consents = [
        consent_row(**{"Einwilligungs-ID": f"EW-{tag}-1"}, Vorname=f"Tom{tag}"),
        consent_row(**{"Einwilligungs-ID": f"EW-{tag}-2"}, Vorname=f"Jana{tag}",
                    Geburtsdatum="12.08.2009", Zweck="Übergang Schule-Beruf",
                    Empfaenger="jobcenter-kreis-unna"),
    ]
    consent_file = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv", consents,
                                columns=CONSENT_COLUMNS)
    return write_export(tmp_path / "jugendamt-kamen_export.csv", rows), consent_file, tag


def test_ingest_route_and_tail(worker, topics, unique_export, pseudonym_key):
    path, consent_file, tag = unique_export
    assert topics.hub("ingest", str(consent_file)).returncode == 0
    result = topics.hub("ingest", str(path))
    assert result.returncode == 1, result.stderr  # one row rejected, the rest published
    assert ("5 rows read, 3 events published to agency.jugendamt-kamen.outbox, 1 row "
            "rejected (dead-lettered to hub.dlq), 1 duplicate row skipped") in result.stdout
    assert "row 6: Datum '31.02.2026' is not a date" in result.stderr

    events = convert_file(path, load_agencies(), pseudonym_key).events
    by_recipient = {e.recipient: e for e in events if e.recipient}
    school = by_recipient["grundschule-kamen-mitte"]
    jobcenter = by_recipient["jobcenter-kreis-unna"]
    offer = next(e for e in events if e.type == "offer.made")

    school_inbox = wait_for_ids(topics.bootstrap, "agency.grundschule-kamen-mitte.inbox",
                                {school.id})
    delivered = next(r.value for r in school_inbox if r.value["id"] == school.id)
    assert delivered["type"] == "handover.requested"
    assert delivered["correlation_id"] == f"UE-{tag}-1"
    assert delivered["subject"] == school.subject
    wait_for_ids(topics.bootstrap, "agency.jobcenter-kreis-unna.inbox", {jobcenter.id})

    # nothing else of this export reached any inbox: the offer has no route
    for agency in load_agencies().exchanging():
        ids = {r.value["id"] for r in read_all(topics.bootstrap, agency.inbox, 0.5) if r.value}
        assert offer.id not in ids
        if agency.id not in by_recipient:
            assert not ids & {e.id for e in events}

    # the operator's view: `hub tail` prints the delivered event as a JSON line
    tail = topics.hub("tail", "agency.grundschule-kamen-mitte.inbox", "--from-beginning",
                      "--timeout", "2")
    assert tail.returncode == 0, tail.stderr
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert school.id in {line["id"] for line in lines}

    # the connector sent each child's linkage encodings to hub.linkage, keyed by its
    # pseudonym; they are never shown (hub tail refuses the topic)
    from hub.contract.linkage import Encodings
    from hub.kafka_io import read_to_end

    children = {e.subject for e in events}
    sent = {r.key.decode(): r.value for r in read_to_end(topics.bootstrap, "hub.linkage",
                                                          "unna-hub-test")
            if r.key and r.key.decode() in children}
    assert set(sent) == children
    for value in sent.values():
        Encodings.from_bytes(value)
        assert f"Tom{tag}".encode() not in value and b"Beispiel" not in value
    refused = topics.hub("tail", "hub.linkage", "--from-beginning", "--timeout", "1")
    assert refused.returncode == 1 and "never shown" in refused.stderr and not refused.stdout

    # the rejected row is a dead letter with its reasons, without any value of the row
    letters = [decode_dead_letter(json.dumps(r.value).encode())
               for r in read_all(topics.bootstrap, "hub.dlq") if r.value]
    ours = [d for d in letters if d.get("file") == path.name and d.get("row") == 6
            and "Wohnort is not a known town of Kreis Unna" in d["reasons"]]
    assert ours, letters
    assert f"Kim{tag}" not in json.dumps(letters)
    assert "Dortmund" not in json.dumps(ours) and "31.02.2026" not in json.dumps(ours)


def test_bad_bytes_are_dead_lettered_and_the_worker_goes_on(worker, topics, pseudonym_key,
                                                            tmp_path):
    kp = producer(topics.bootstrap, client_id="test-bad-bytes")
    marker = uuid.uuid4().hex
    try:
        kp.send("agency.jugendamt-kamen.outbox", key=b"x", value=b'{"not": "avro", "m": "%s"}'
                % marker.encode()).get(30)
        kp.send("agency.jugendamt-kamen.outbox", key=b"x", value=b"\xc3\x01" + b"\0" * 12).get(30)
        # a correct event that claims another agency as its source
        tag = uuid.uuid4().hex[:8]
        export = write_export(tmp_path / "jugendamt-luenen_export.csv", [youth_office_row(
            Vorgangsnummer=f"JA-{tag}", Wohnort="Lünen", **{"Uebergabe-ID": f"UE-{tag}"})])
        (spoofed,) = convert_file(export, load_agencies(), pseudonym_key).events
        kp.send("agency.jugendamt-kamen.outbox", key=b"x",
                value=get_codec().encode(spoofed)).get(30)
    finally:
        kp.close()

    def letters():
        found = [r.value for r in read_all(topics.bootstrap, "hub.dlq", 1.0)
                 if r.value and r.value.get("stage") == "router"]
        reasons = " | ".join(r for letter in found for r in letter["reasons"])
        expected = ("(got JSON?)", "unknown writer schema fingerprint 0000000000000000",
                    "source 'jugendamt-luenen' arrived on agency.jugendamt-kamen.outbox")
        return found if all(e in reasons for e in expected) else None

    found = wait_for(letters, 60, "three dead letters from the router", interval=0.5)
    assert all(letter["topic"] == "agency.jugendamt-kamen.outbox" for letter in found)
    assert worker.proc.poll() is None  # the worker survived all of it
    assert spoofed.id not in {r.value["id"] for r in read_all(
        topics.bootstrap, "agency.grundschule-kamen-mitte.inbox") if r.value}
