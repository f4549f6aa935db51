"""What the trust office and the operators see: a family's audit trail, and dead letters
that can be replayed after a fix without delivering anything twice."""

from __future__ import annotations

import json
import uuid

import pytest

from connectors.ingest import convert_file
from hub.agencies import load_agencies
from hub.contract.codec import get_codec
from hub.deadletter import DLQ_TOPIC, worker_dead_letter
from hub.kafka_io import producer
from hub.tail import Tail
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

INBOX = "agency.grundschule-kamen-mitte.inbox"


def family(tmp_path, tag, revoked=False):
    person = {"Vorname": f"Ida{tag}", "Nachname": "Beispiel", "Geburtsdatum": "02.09.2020"}
    rows = [consent_row(**{"Einwilligungs-ID": f"EW-{tag}"}, **person)]
    if revoked:
        rows.append(consent_row(**{"Einwilligungs-ID": f"EW-{tag}"}, **person,
                                Status="widerrufen", Erfasst_am="01.10.2026"))
    consents = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv", rows,
                            columns=CONSENT_COLUMNS)
    events = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(Vorgangsnummer=f"JA-{tag}-1", **person,
                         **{"Uebergabe-ID": f"UE-{tag}-1"}),
        youth_office_row(Vorgangsnummer=f"JA-{tag}-2", Datum="20.10.2026", **person,
                         Ereignis="Angebot angenommen", Angebot="Sprachförderung",
                         Zielstelle="", **{"Uebergabe-ID": ""}),
    ])
    return person, consents, events


def test_a_familys_audit_trail(worker, topics, tmp_path):
    tag = uuid.uuid4().hex[:6]
    person, consents, events = family(tmp_path, tag)
    for path in (consents, events):
        assert topics.hub("ingest", str(path)).returncode == 0
    subject = topics.hub("pseudonym", person["Vorname"], "Beispiel", "02.09.2020")
    assert subject.returncode == 0, subject.stderr
    pseudonym = subject.stdout.strip()
    assert len(pseudonym) == 64

    def history():
        result = topics.hub("audit", "--subject", pseudonym, "--json", "--timeout", "1")
        records = [json.loads(line) for line in result.stdout.splitlines()]
        decisions = {(r["type"], r["decision"], r["recipient"]) for r in records}
        return records if len(decisions) >= 3 else None

    records = wait_for(history, 60, "the family's audit records", interval=1)
    decided = {(r["type"], r["decision"], r["recipient"], r["consent_id"]) for r in records}
    assert ("consent.granted", "not_routed", None, None) in decided
    assert ("handover.requested", "delivered", "grundschule-kamen-mitte", f"EW-{tag}") in decided
    # the offer goes to the partners named in the consent, not back to its sender
    assert ("offer.accepted", "delivered", "grundschule-kamen-mitte", f"EW-{tag}") in decided
    assert not any(r[0] == "offer.accepted" and r[2] == "jugendamt-kamen" for r in decided)
    table = topics.hub("audit", "--subject", pseudonym, "--timeout", "1").stdout
    assert "delivered  grundschule-kamen-mitte under consent" in table
    assert person["Vorname"] not in table


def test_refusals_show_their_reasons(worker, topics, tmp_path):
    tag = uuid.uuid4().hex[:6]
    person, consents, events = family(tmp_path, tag, revoked=True)
    for path in (consents, events):
        assert topics.hub("ingest", str(path)).returncode == 0
    pseudonym = topics.hub("pseudonym", person["Vorname"], "Beispiel",
                           "02.09.2020").stdout.strip()

    def refused():
        out = topics.hub("audit", "--subject", pseudonym, "--timeout", "1").stdout
        return out if out.count("refused") >= 2 else None

    table = wait_for(refused, 60, "the refusals", interval=1)
    assert f"consent EW-{tag} was revoked on 2026-10-01" in table


def test_dead_letters_are_listed_and_replayed_once(worker, topics, tmp_path, pseudonym_key):
    tag = uuid.uuid4().hex[:6]
    _, consents, events = family(tmp_path, tag)
    assert topics.hub("ingest", str(consents)).returncode == 0
    request = convert_file(events, load_agencies(), pseudonym_key).events[0]
    letter = worker_dead_letter("router", "agency.jugendamt-kamen.outbox", 0, 0,
                                get_codec().encode(request),
                                ["lost in a bug that is fixed now"],
                                key=request.subject.encode())
    kp = producer(topics.bootstrap, "test-dlq")
    try:
        sent = kp.send(DLQ_TOPIC, key=b"test", value=letter).get(30)
    finally:
        kp.close()
    number = f"{sent.partition}@{sent.offset}"  # hub.dlq has several partitions
    listed = topics.hub("dlq", "list", "--letter", number, "--timeout", "1")
    assert f"#{number} " in listed.stdout
    assert "lost in a bug that is fixed now" in listed.stdout
    assert "1 dead letters (1 replayable" in listed.stdout

    def delivered():
        return [r for r in Tail(topics.bootstrap, [INBOX], from_beginning=True, timeout=1)
                if r.value and r.value["id"] == request.id]

    for _ in range(2):  # replaying twice delivers once
        replayed = topics.hub("dlq", "replay", "--letter", number, "--timeout", "1")
        assert "1 dead letters replayed" in replayed.stdout, replayed.stderr
        wait_for(delivered, 60, "the replayed event")

    def duplicate_decided():
        audit = Tail(topics.bootstrap, ["hub.audit"], from_beginning=True, timeout=1)
        return any(r.value and r.value["event_id"] == request.id
                   and r.value["decision"] == "duplicate" for r in audit)

    wait_for(duplicate_decided, 60, "the second replay to be recognised", interval=1)
    assert len(delivered()) == 1
