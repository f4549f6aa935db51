"""The SDK's ``publish_consent`` sends the consent event ``hub ingest`` makes of the same
consent in an export file (granted or withdrawn), to the agency's outbox, keyed by the
child's pseudonym; invalid input sends nothing."""

from datetime import date

import pytest

from connectors.ingest import convert_file
from connectors.pseudonym import pseudonym
from connectors.sdk import AgencyConnector, Person, RowError
from hub.agencies import load_agencies
from hub.contract.codec import get_codec
from tests.connectors.recording import RecordingProducer
from tests.exports import CONSENT_COLUMNS, consent_row, write_export

AGENCY = "jugendamt-kamen"
TOM = Person("Tom", "Beispiel", date(2020, 9, 2))  # the person of tests.exports.consent_row
RECIPIENTS = ["grundschule-kamen-mitte", "jugendamt-kamen"]


class NoProducer:
    """Fails the test if anything is sent."""

    def send(self, *args, **kwargs):
        raise AssertionError("nothing may be sent for invalid input")


def ingested(tmp_path, key, **values: str):
    """The one event ``hub ingest`` makes of a consent export with this row."""
    path = write_export(tmp_path / f"einwilligungen_{AGENCY}.csv", [consent_row(**values)],
                        columns=CONSENT_COLUMNS)
    converted = convert_file(path, load_agencies(), key)
    assert not converted.rejected
    (envelope,) = converted.events
    return envelope


def publish(connector, **overrides):
    given = dict(consent_id="EW-1", granted=True, person=TOM, town="Kamen",
                 purpose="Übergang Kita-Schule", recipients=RECIPIENTS,
                 valid_from=date(2026, 9, 15), valid_to=date(2027, 8, 31),
                 recorded_on=date(2026, 9, 15))
    return connector.publish_consent(**{**given, **overrides})


def test_a_granted_consent_is_the_event_an_export_of_it_gives(pseudonym_key, tmp_path):
    producer = RecordingProducer()
    envelope = publish(AgencyConnector(AGENCY, pseudonym_key, producer))
    (sent,) = producer.events()
    assert sent.topic == f"agency.{AGENCY}.outbox"
    assert sent.key == pseudonym(pseudonym_key, "Tom", "Beispiel", date(2020, 9, 2)).encode()
    assert get_codec().decode(sent.value) == envelope
    assert envelope.type.value == "consent.granted" and envelope.source == AGENCY
    assert (envelope.payload.consent_id, list(envelope.payload.recipients)) == ("EW-1",
                                                                                RECIPIENTS)
    assert (envelope.municipality.value, envelope.purpose.value) == ("kamen",
                                                                     "uebergang_kita_schule")
    assert (envelope.payload.valid_from, envelope.payload.valid_to) == (date(2026, 9, 15),
                                                                        date(2027, 8, 31))
    assert sent.value == get_codec().encode(ingested(tmp_path, pseudonym_key))


def test_a_withdrawn_consent_is_the_withdrawal_an_export_of_it_gives(pseudonym_key,
                                                                      tmp_path):
    producer = RecordingProducer()
    envelope = publish(AgencyConnector(AGENCY, pseudonym_key, producer), granted=False,
                       recorded_on=date(2026, 10, 1))
    (sent,) = producer.events()
    assert envelope.type.value == "consent.revoked"
    assert envelope.payload.effective_at.date() == date(2026, 10, 1)
    assert sent.value == get_codec().encode(
        ingested(tmp_path, pseudonym_key, Status="widerrufen", Erfasst_am="01.10.2026"))


def test_the_contracts_words_give_the_same_event_as_the_exports(pseudonym_key):
    producer = RecordingProducer()
    connector = AgencyConnector(AGENCY, pseudonym_key, producer)
    german = publish(connector)
    canonical = publish(connector, town="kamen", purpose="uebergang_kita_schule")
    assert german == canonical
    assert producer.events()[0] == producer.events()[1]


@pytest.mark.parametrize(("overrides", "expected"), [
    (dict(town="Dortmund", purpose="Spaß"), ["town 'Dortmund'", "purpose 'Spaß'"]),
    (dict(recipients=[]), ["at least one recipient"]),
    (dict(recipients=["nobody-here"]), ["nobody-here"]),
    (dict(valid_to=date(2026, 1, 1)), ["before Gueltig_ab"]),
])
def test_an_invalid_consent_is_refused_and_nothing_sent(pseudonym_key, overrides, expected):
    connector = AgencyConnector(AGENCY, pseudonym_key, NoProducer())
    with pytest.raises(RowError) as info:
        publish(connector, **overrides)
    for words in expected:
        assert words in str(info.value)
