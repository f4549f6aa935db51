"""The SDK checks its input like an export row; nothing invalid reaches the producer."""

from datetime import date

import pytest

from connectors.sdk import AgencyConnector, Person, RowError
from hub.errors import InputError


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


def test_unknown_agency(pseudonym_key):
    with pytest.raises(InputError, match="not an agency with an outbox"):
        AgencyConnector("kreis-unna-statistik", pseudonym_key, NoProducer())


def test_person_never_shows_in_repr():
    assert "Mia" not in repr(MIA) and "2025" not in repr(MIA)
