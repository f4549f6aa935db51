"""Publishing an export: the events to the outbox, each child's linkage encodings to
hub.linkage before its first event, once per file; a re-export sends them again (how
children the hub knew before the encodings existed get theirs)."""

from connectors.ingest import Conversion
from connectors.publish import publish
from hub.agencies import load_agencies
from hub.contract.linkage import Encodings
from tests.connectors.recording import RecordingProducer
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row


def test_encodings_precede_each_childs_first_event_and_come_again_with_a_reexport(
        tmp_path, pseudonym_key):
    agencies = load_agencies()
    consents = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv", [
        consent_row(), consent_row(**{"Einwilligungs-ID": "EW-2"}, Vorname="Ida")],
        columns=CONSENT_COLUMNS)
    events = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(), youth_office_row(Vorgangsnummer="JA-2", Datum="17.09.2026")])
    for round_ in (1, 2):  # the second: the agency exports again after an upgrade
        producer = RecordingProducer()
        for path in (consents, events):
            summary = publish(Conversion(path, agencies, pseudonym_key), producer,
                              report=lambda _: None)
            assert not summary.unacknowledged and not summary.rejected
        topics = [s.topic for s in producer.sent]
        assert topics == ["hub.linkage", "agency.jugendamt-kamen.outbox"] * 2 + [
            "hub.linkage", "agency.jugendamt-kamen.outbox", "agency.jugendamt-kamen.outbox"], \
            round_
        keys = [s.key for s in producer.encodings()]
        assert len(set(keys)) == 2 and keys[2] == keys[0]  # Tom in both files, Ida once
        for sent in producer.encodings():
            Encodings.from_bytes(sent.value)
            assert b"Tom" not in sent.value and b"Ida" not in sent.value
