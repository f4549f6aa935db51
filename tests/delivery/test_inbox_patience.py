"""hub deliver while its broker is away: calls are tried again until it answers (a commit
that failed used to end the process), a stop request ends the waiting, and errors that no
waiting cures are raised as before."""

from __future__ import annotations

import logging
import threading

import pytest
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError

from connectors.delivery import inbox as inbox_module
from connectors.delivery.inbox import Inbox
from hub.errors import BrokerError, HubError


class FlakyConsumer:
    def __init__(self, failures: list[Exception]):
        self.failures = list(failures)
        self.commits: list[dict] = []

    def commit(self, offsets):
        if self.failures:
            raise self.failures.pop(0)
        self.commits.append(offsets)


def inbox_with(consumer, stop=None) -> Inbox:
    inbox = Inbox.__new__(Inbox)  # no broker: only what commit() uses
    inbox.bootstrap, inbox.topic, inbox._consumer = "127.0.0.1:9", "agency.x.inbox", consumer
    inbox.stop = stop or threading.Event()
    return inbox


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(inbox_module, "RETRY_S", 0.01)
    monkeypatch.setattr(inbox_module, "REPEAT_S", 0.0)


def test_a_commit_is_tried_again_until_the_broker_answers(caplog):
    consumer = FlakyConsumer([KafkaTimeoutError(), KafkaTimeoutError(), KafkaTimeoutError()])
    with caplog.at_level(logging.WARNING, logger="connectors.delivery.inbox"):
        inbox_with(consumer).commit({2: 120})
    [offsets] = consumer.commits
    assert [(tp.partition, meta.offset) for tp, meta in offsets.items()] == [(2, 120)]
    messages = [r.getMessage() for r in caplog.records]
    assert "committing offsets at 127.0.0.1:9 failed (KafkaTimeoutError); trying again " \
           "until the broker answers (Ctrl-C stops)" == messages[0]
    assert "answers again" in messages[-1]
    assert len(messages) <= 4  # one line each try at most, never a flood


def test_a_stop_request_ends_the_waiting():
    stop = threading.Event()
    stop.set()
    with pytest.raises(BrokerError, match="committing offsets at 127.0.0.1:9 failed"):
        inbox_with(FlakyConsumer([KafkaTimeoutError()] * 100), stop).commit({0: 1})


def test_an_error_that_waiting_does_not_cure_is_raised_at_once():
    consumer = FlakyConsumer([TopicAuthorizationFailedError(), KafkaTimeoutError()])
    with pytest.raises(HubError):
        inbox_with(consumer).commit({0: 1})
    assert consumer.failures  # not tried again
