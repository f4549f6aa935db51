"""The SDK checks its input like an export row; nothing invalid reaches the producer."""

from datetime import date

import pytest

from connectors.sdk import AgencyConnector, Person, RowError
from hub.errors import ConfigError, InputError


class NoProducer:
    """Fails the test if anything is sent."""

    def send(self, *args, **kwargs):
        raise AssertionError("nothing may be sent for invalid input")


MIA = Person("Mia", "Schröder", date(2025, 2, 14))


@pytest.fixture
def connector(pseudonym_key):
    return AgencyConnector("jugendamt-kamen", pseudonym_key, NoProducer())


def test_every_problem_is_reported(connector):
    with pytest.raises(RowError) as info:
        connector.publish("Übergabe vielleicht", record_id="R1", on=date(2026, 11, 2),
                          person=MIA, town="Dortmund", purpose="Spaß")
    message = str(info.value)
    for expected in ("event 'Übergabe vielleicht'", "town 'Dortmund'", "purpose 'Spaß'"):
        assert expected in message


def test_a_handover_needs_recipient_and_id(connector):
    with pytest.raises(RowError) as info:
        connector.publish("handover.requested", record_id="R1", on=date(2026, 11, 2),
                          person=MIA, town="kamen", purpose="fruehe_hilfen")
    assert "needs a handover id" in str(info.value)
    assert "needs a recipient" in str(info.value)


@pytest.mark.parametrize("person", [Person("🙂", "Schröder", date(2025, 2, 14)),
                                    Person("Mia", "", date(2025, 2, 14))])
def test_a_name_with_no_letter_is_refused(connector, person):
    with pytest.raises(RowError, match="has no letter or digit"):
        connector.publish("offer.made", record_id="R1", on=date(2026, 11, 2), person=person,
                          town="kamen", purpose="fruehe_hilfen", offer="Familienhebamme")
    with pytest.raises(RowError, match="has no letter or digit"):
        connector.publish_consent(consent_id="C1", granted=True, person=person, town="kamen",
                                  purpose="fruehe_hilfen", recipients=["jugendamt-kamen"],
                                  valid_from=date(2026, 11, 1), valid_to=None,
                                  recorded_on=date(2026, 11, 1))


def test_unknown_agency(pseudonym_key):
    with pytest.raises(InputError, match="not an agency with an outbox"):
        AgencyConnector("kreis-unna-statistik", pseudonym_key, NoProducer())


def test_person_never_shows_in_repr():
    assert "Mia" not in repr(MIA) and "2025" not in repr(MIA)


def test_invalid_settings_are_a_config_error_naming_the_variable(monkeypatch):
    """Not pydantic's ValidationError: the same error and words as the `hub` command."""
    monkeypatch.setenv("HUB_BROKER_PORT", "lots")
    with pytest.raises(ConfigError, match=r"invalid settings:\n  HUB_BROKER_PORT: "):
        AgencyConnector.from_settings("jugendamt-kamen")


@pytest.mark.kafka
def test_from_settings_reads_the_outbox_limit_and_publishes(topics):
    """Against the real broker: the SDK connects with the settings, reads its outbox's size
    limit from the cluster (Kafka's default here) and returns once the event is
    acknowledged; it is in the outbox."""
    from connectors.ingest import MAX_MESSAGE_BYTES
    from hub.contract.codec import get_codec
    from hub.kafka_io import read_to_end
    from hub.settings import Settings

    settings = Settings(home=topics.home, bootstrap_servers=topics.bootstrap,
                        pseudonym_key_file=topics.key_file)
    with AgencyConnector.from_settings("jugendamt-kamen", settings) as hub:
        assert hub.max_message_bytes == MAX_MESSAGE_BYTES
        envelope = hub.publish_consent(
            consent_id="EW-SDK-1", granted=True, person=Person("Sdk", "Probe",
                                                                date(2019, 3, 3)),
            town="Kamen", purpose="Frühe Hilfen", recipients=["jugendamt-kamen"],
            valid_from=date(2026, 1, 1), valid_to=None, recorded_on=date(2026, 1, 1))
    ids = {get_codec().decode(r.value).id
           for r in read_to_end(topics.bootstrap, "agency.jugendamt-kamen.outbox")
           if r.value and not r.headers}
    assert envelope.id in ids


def test_the_encodings_go_once_per_child_before_its_first_event(pseudonym_key):
    from connectors.encodings import encode
    from hub.contract.linkage import Encodings
    from tests.connectors.recording import RecordingProducer

    producer = RecordingProducer()
    connector = AgencyConnector("jugendamt-kamen", pseudonym_key, producer)
    for record in ("R1", "R2"):
        connector.publish("offer.made", record_id=record, on=date(2026, 11, 2), person=MIA,
                          town="kamen", purpose="fruehe_hilfen", offer="Familienhebamme")
    assert [s.topic for s in producer.sent] == [
        "hub.linkage", "agency.jugendamt-kamen.outbox", "agency.jugendamt-kamen.outbox"]
    (sent,) = producer.encodings()
    assert sent.key == producer.events()[0].key
    assert Encodings.from_bytes(sent.value) == encode(pseudonym_key, "Mia", "Schröder",
                                                      date(2025, 2, 14))
    assert b"Mia" not in sent.value and b"2025" not in sent.value
