"""The webhook sender: request format, retries until delivered, stop, loud misconfiguration.

The HTTP tests use a real local server (no broker is involved)."""

import json
import socket
import threading

import pytest
from prometheus_client import REGISTRY

from connectors.delivery.webhook import (
    Answer,
    WebhookSender,
    check_webhook_url,
    event_body,
    post_event,
    shown_url,
)
from hub.contract.codec import envelope_to_json
from hub.contract.vocabulary import EventType
from hub.errors import HubError
from tests.contract.examples import example_envelope
from tests.delivery.support import Receiver

ENVELOPE = example_envelope(EventType.HANDOVER_REQUESTED, with_optional=True)


class ScriptedPost:
    """Answers attempts from a script (the last answer repeats) and records them."""

    def __init__(self, *answers: Answer, on_call=None):
        self.answers = list(answers)
        self.calls: list[tuple[str, bytes, str, float]] = []
        self.on_call = on_call

    def __call__(self, url, body, event_id, timeout):
        self.calls.append((url, body, event_id, timeout))
        if self.on_call:
            self.on_call(len(self.calls))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def sender(post, stop=None, agency="kita-luenen-sonnenschein"):
    return WebhookSender("https://user:secret@kita.example/hub?token=abc", agency,
                         max_backoff=0.001, timeout=3.0, stop=stop or threading.Event(),
                         post=post)


def retries(agency):
    return REGISTRY.get_sample_value("hub_deliver_webhook_retries_total",
                                     {"agency": agency}) or 0.0


def test_retries_until_the_receiver_accepts(caplog):
    post = ScriptedPost(Answer(None, "no answer: refused"), Answer(503, "HTTP 503"),
                        Answer(200, "HTTP 200"))
    before = retries("test-retry-agency")
    s = sender(post, agency="test-retry-agency")
    assert s.deliver(ENVELOPE) is True
    assert len(post.calls) == 3 and s.retries == 2
    assert retries("test-retry-agency") - before == 2
    assert {call[2] for call in post.calls} == {ENVELOPE.id}  # the same key every time
    assert len({call[1] for call in post.calls}) == 1         # and the same body
    assert "HTTP 503" in caplog.text


def test_a_receiver_that_refuses_is_retried_and_reported_loudly(caplog):
    post = ScriptedPost(Answer(404, "HTTP 404 Not Found"), Answer(400, "HTTP 400"),
                        Answer(204, "HTTP 204"))
    assert sender(post).deliver(ENVELOPE) is True
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and "check the receiver" in errors[0].getMessage()


def test_stop_while_the_receiver_fails_returns_without_delivering():
    stop = threading.Event()
    post = ScriptedPost(Answer(500, "HTTP 500"),
                        on_call=lambda n: stop.set() if n == 3 else None)
    assert sender(post, stop).deliver(ENVELOPE) is False
    assert len(post.calls) == 3


def test_logs_never_show_the_payload_or_url_secrets(caplog):
    caplog.set_level("DEBUG")
    post = ScriptedPost(Answer(422, "HTTP 422"), Answer(500, "HTTP 500"), Answer(200, "ok"))
    sender(post).deliver(ENVELOPE)
    assert caplog.text
    for secret in (ENVELOPE.subject, ENVELOPE.payload.handover_id, "secret", "token=abc"):
        assert secret not in caplog.text


def test_body_is_the_events_json():
    assert json.loads(event_body(ENVELOPE)) == envelope_to_json(ENVELOPE)


@pytest.mark.parametrize("url", ["ftp://host/x", "kita.example/hub", "http:///path", ""])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(HubError, match="--webhook needs an http:// or https:// URL"):
        check_webhook_url(url)


def test_shown_url_drops_user_info_and_query():
    assert shown_url("https://u:pw@kita.example:8443/hub/in?token=x#f") == \
        "https://kita.example:8443/hub/in"


def test_post_event_sends_json_with_the_idempotency_key():
    with Receiver() as receiver:
        answer = post_event(receiver.url, event_body(ENVELOPE), ENVELOPE.id, 5.0)
    assert answer.status == 200
    (request,) = receiver.requests
    assert request.method == "POST" and request.path == "/hub/events"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == ENVELOPE.id
    assert json.loads(request.body)["id"] == ENVELOPE.id


def test_post_event_reports_errors_with_retry_after():
    with Receiver(lambda n: 429, headers={"Retry-After": "7"}) as receiver:
        answer = post_event(receiver.url, b"{}", ENVELOPE.id, 5.0)
    assert (answer.status, answer.retry_after) == (429, 7.0)


def test_redirects_are_not_followed():
    # a POST redirected as GET would be answered 200 without the event ever arriving
    with Receiver(lambda n: 302, headers={"Location": "/elsewhere"}) as receiver:
        answer = post_event(receiver.url, b"{}", ENVELOPE.id, 5.0)
    assert answer.status == 302
    assert [r.method for r in receiver.requests] == ["POST"]


def test_no_answer_is_reported_not_raised():
    with socket.socket() as sock:  # bound, never listening: connection refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        answer = post_event(url, b"{}", ENVELOPE.id, 5.0)
    assert answer.status is None and answer.detail.startswith("no answer")


def test_a_receiver_that_never_answers_times_out():
    with socket.socket() as sock:  # listening, never accepting: the request hangs
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        answer = post_event(f"http://127.0.0.1:{sock.getsockname()[1]}/", b"{}",
                            ENVELOPE.id, 0.2)
    assert answer.status is None and "timed out" in answer.detail
