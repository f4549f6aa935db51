"""``hub deliver --webhook``: one HTTP POST per event, retried until the receiver takes it.

The request: ``POST <URL>`` with the event as JSON (``envelope_to_json``), headers
``Content-Type: application/json`` and ``Idempotency-Key: <event id>``. Redirects are not
followed (a POST turned into a GET would look delivered). Logs name the event id and the
receiver's status, never the payload, and show the URL without user info or query.

The body has no local times: ``time`` is UTC, and ``time_precision`` ``date`` says that only
the day of the event is known (``time`` is then midnight UTC of it; docs/delivery.md).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from connectors.delivery.backoff import Verdict, judge, parse_retry_after, retry_delay
from connectors.delivery.metrics import WEBHOOK_RETRIES
from hub.contract.codec import envelope_to_json
from hub.contract.models import Envelope
from hub.errors import HubError

log = logging.getLogger(__name__)

USER_AGENT = "unna-hub-deliver/1"
INITIAL_BACKOFF = 0.5
"""Seconds before the first retry; doubled per failed attempt up to ``--max-backoff``."""
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What came back from one attempt: the HTTP status (None: no answer) and why."""

    status: int | None
    detail: str
    retry_after: float | None = None


Post = Callable[[str, bytes, str, float], Answer]


def check_webhook_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL; a clear error otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(f"--webhook needs an http:// or https:// URL with a host, got "
                       f"{shown_url(url)!r}")
    return url


def shown_url(url: str) -> str:
    """``url`` as safe to log: without user info, query and fragment (they may hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def event_body(envelope: Envelope) -> bytes:
    """The request body for one event: its JSON form, UTF-8."""
    return json.dumps(envelope_to_json(envelope), ensure_ascii=False,
                      sort_keys=True).encode("utf-8")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_event(url: str, body: bytes, event_id: str, timeout: float) -> Answer:
    """One POST of one event; never raises for an HTTP or network problem."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "Idempotency-Key": event_id,
        "User-Agent": USER_AGENT,
    })
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE_BYTES)
            return Answer(response.status, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, f"HTTP {exc.code} {exc.reason}",
                          parse_retry_after(exc.headers.get("Retry-After")))
    except urllib.error.URLError as exc:
        return Answer(None, f"no answer: {exc.reason}")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"no answer: {type(exc).__name__}: {exc}")


class WebhookSender:
    """Delivers one event at a time; retries with backoff until delivered or stopped."""

    def __init__(self, url: str, agency_id: str, *, max_backoff: float, timeout: float,
                 stop: threading.Event, post: Post = post_event,
                 rng: random.Random | None = None):
        self.url = check_webhook_url(url)
        self.agency_id = agency_id
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.retries = 0
        self._stop = stop
        self._post = post
        self._rng = rng or random.Random()

    def deliver(self, envelope: Envelope) -> bool:
        """True once the receiver accepted the event; False if stopped before that."""
        body = event_body(envelope)
        attempt = 0
        while True:
            answer = self._post(self.url, body, envelope.id, self.timeout)
            verdict = judge(answer.status)
            if verdict is Verdict.DELIVERED:
                return True
            attempt += 1
            self.retries += 1
            WEBHOOK_RETRIES.labels(agency=self.agency_id).inc()
            delay = retry_delay(attempt, min(INITIAL_BACKOFF, self.max_backoff),
                                self.max_backoff, answer.retry_after, self._rng)
            if verdict is Verdict.MISCONFIGURED:
                log.error("receiver %s refuses event %s with %s: check the receiver and the "
                          "URL; the event is kept and retried in %.2f s (attempt %d)",
                          shown_url(self.url), envelope.id, answer.detail, delay, attempt + 1)
            else:
                log.warning("event %s not delivered to %s: %s; retry in %.2f s (attempt %d)",
                            envelope.id, shown_url(self.url), answer.detail, delay, attempt + 1)
            if self._stop.wait(delay):
                return False
