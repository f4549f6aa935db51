"""Whether the worker reaches its Kafka brokers, said in a few lines instead of thousands.

When a broker goes away, the Kafka client (aiokafka) logs every failed connection, metadata
request, fetch and produce: about 150 lines a second, burying everything else.
:class:`BrokerWatch` probes each bootstrap broker (a TCP connection, every ``every``
seconds) and says instead:

- one warning when a broker becomes unreachable,
- a summary at most every ``summary_every`` seconds while it stays so (how long, whether
  the other brokers answer, how many partitions of this worker wait, how many client lines
  were left out),
- one line when it is back;

and it keeps the gauge ``hub_kafka_connected{broker}`` (1 reachable, 0 not) for the alert
``HubKafkaUnreachable``. :class:`ClientNoise` is the logging filter that leaves the client's
connection errors out of the log while the watch knows (or, after the first such line,
suspects) a broker to be down; once every broker answers again, the client's lines pass as
before, so nothing else is hidden. :class:`KafkaPythonNoise` shortens two messages of the
other client, kafka-python (the inbox scans), that are not about a fault.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Sequence

from hub.metrics import KAFKA_CONNECTED

log = logging.getLogger("hub.kafka")

CLIENT_LOGGERS = ("aiokafka", "kafka")
CONNECTION_TROUBLE = re.compile(
    r"Unable connect to node|Unable to update metadata|NodeNotReady|KafkaConnectionError|"
    r"Connect call failed|Connection refused|Coordinator|coordinator|Failed fetch messages|"
    r"Got error produce response|Heartbeat|RequestTimedOut|timed out|Broken pipe|"
    r"Connection reset|connection.*closed|not ready|No node available|backoff/retry",
    re.IGNORECASE)
SUSPECT_SECONDS = 15.0
"""How long the first connection error of the client leaves its lines out before a probe
has confirmed that a broker is down."""
SLOW_STEP = re.compile(r"Task .* ran for [0-9.]+s \(>")
"""kafka-python's warning about a slow step of its event loop (:class:`KafkaPythonNoise`)."""


def probe(address: str, timeout: float = 1.0) -> str | None:
    """None if a TCP connection to ``host:port`` opens, else why not."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    except ValueError:
        return f"not a host:port address: {address!r}"


class BrokerWatch:
    """The reachability of each bootstrap broker, its log lines and its gauge."""

    def __init__(self, brokers: Sequence[str], *, summary_every: float = 30.0,
                 waiting: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.brokers = [b.strip() for b in brokers if b.strip()]
        self.summary_every = summary_every
        self.waiting = waiting  # partitions of this worker (they wait when none answers)
        self.clock = clock
        self.down_since: dict[str, float] = {}
        self.reasons: dict[str, str] = {}
        self._summarised: dict[str, float] = {}
        self.suspected_at: float | None = None
        self.cleared_at: float | None = None  # a suspicion the probes did not confirm
        self.left_out = 0  # client lines left out since the last summary
        for broker in self.brokers:
            KAFKA_CONNECTED.labels(broker=broker).set(1)

    # ------------------------------------------------------------ state
    @property
    def troubled(self) -> bool:
        """Whether the client's connection errors are left out of the log now."""
        if self.down_since:
            return True
        return self.suspected_at is not None and \
            self.clock() - self.suspected_at < SUSPECT_SECONDS

    def suspect(self) -> bool:
        """The client reported a connection error: leave its lines out until a probe
        says whether a broker is down. Not again for a minute after the probes found every
        broker answering (then the client's lines are about something else: they pass)."""
        now = self.clock()
        if self.cleared_at is not None and now - self.cleared_at < 60.0:
            return False
        if self.suspected_at is None or now - self.suspected_at >= SUSPECT_SECONDS:
            self.suspected_at = now
        return True

    # ------------------------------------------------------------ probing
    def check(self, results: dict[str, str | None] | None = None) -> None:
        """Probe every broker (or take ``results``: broker -> None or why unreachable) and
        log what changed."""
        if results is None:
            results = {broker: probe(broker) for broker in self.brokers}
        now = self.clock()
        for broker, reason in results.items():
            down = broker in self.down_since
            if reason is not None and not down:
                self.down_since[broker] = self._summarised[broker] = now
                self.reasons[broker] = reason
                KAFKA_CONNECTED.labels(broker=broker).set(0)
                log.warning("Kafka broker %s is unreachable (%s); the worker keeps its work "
                            "and carries on when it is back", broker, reason)
            elif reason is None and down:
                since = self.down_since.pop(broker)
                self._summarised.pop(broker, None)
                self.reasons.pop(broker, None)
                KAFKA_CONNECTED.labels(broker=broker).set(1)
                log.warning("Kafka broker %s is reachable again after %.0f s%s", broker,
                            now - since, self._left_out_note())
            elif reason is not None and now - self._summarised[broker] >= self.summary_every:
                self._summarised[broker] = now
                log.warning("Kafka broker %s unreachable for %.0f s (%s); %s%s", broker,
                            now - self.down_since[broker], reason, self._others(broker),
                            self._left_out_note())
        if not self.down_since and self.suspected_at is not None:
            self.suspected_at = None
            self.cleared_at = now

    def _others(self, broker: str) -> str:
        if len(self.down_since) < len(self.brokers):
            return "the other brokers answer"
        waiting = self.waiting() if self.waiting else None
        if waiting:
            return f"no broker answers: this worker's {waiting} partitions wait"
        return "no broker answers"

    def _left_out_note(self) -> str:
        n, self.left_out = self.left_out, 0
        return f" ({n:,} lines of the Kafka client left out of this log)" if n else ""


class ClientNoise(logging.Filter):
    """Leaves the Kafka client's connection errors out of the log while ``watch`` is
    troubled (see the module doc), counting them for its summaries."""

    def __init__(self, watch: BrokerWatch):
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(CLIENT_LOGGERS) or record.levelno < logging.WARNING:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's business
            return True
        if not CONNECTION_TROUBLE.search(message):
            return True
        if not self.watch.troubled and not self.watch.suspect():
            return True
        self.watch.left_out += 1
        return False


class KafkaPythonNoise(logging.Filter):
    """kafka-python's event loop (the worker's inbox scans and admin calls, on threads of
    their own) says two things that are not for operators:

    - a task that waited on a connection closed under it (the client closing while a read
      or write was still being set up) ends with ``Unhandled exception in task`` and a
      traceback through ``register_event``; a read of a connection closed under it finds
      no socket (``_sock_recv``: ``'NoneType' object has no attribute 'recv'``, logged by
      its transport). The client goes on, so this filter keeps the line and drops the
      traceback;
    - ``Task ... ran for 0.1s``, which in the worker means the router held the interpreter
      while the client's thread waited: dropped unless the client logs at DEBUG.

    Any other exception keeps its traceback. Install with :func:`quiet_kafka_python`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and _on_closed_connection(record.exc_info[1]):
            exc = record.exc_info[1]
            record.msg = ("Kafka client (kafka-python): a task ended on a connection closed "
                          "under it (%s: %s); the client opens a new one when it needs it")
            record.args = (type(exc).__name__, exc)
            record.exc_info = record.exc_text = None
            return True
        if isinstance(record.msg, str) and SLOW_STEP.match(record.msg):
            return logging.getLogger("kafka").isEnabledFor(logging.DEBUG)
        return True


def _on_closed_connection(exc: BaseException | None) -> bool:
    """Whether ``exc`` is kafka-python's on a connection closed under a pending task."""
    if _raised_in(exc, "register_event"):
        return True
    return (isinstance(exc, AttributeError) and "'NoneType'" in str(exc)
            and _raised_in(exc, "_sock_recv"))


def _raised_in(exc: BaseException | None, function: str) -> bool:
    """Whether ``exc`` (or an exception it was raised while handling) passed through a
    frame of ``function`` in kafka-python's network code."""
    seen = 0
    while exc is not None and seen < 5:
        tb = exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name == function and "kafka" in code.co_filename:
                return True
            tb = tb.tb_next
        exc, seen = exc.__context__, seen + 1
    return False


def quiet_kafka_python() -> None:
    """kafka-python's loggers for a worker: warnings and errors only (its connection chatter
    is not for operators), with :class:`KafkaPythonNoise` on its event loop's and its
    transports' loggers."""
    logging.getLogger("kafka").setLevel(logging.WARNING)
    for name in ("kafka.net.selector", "kafka.net.transport"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, KafkaPythonNoise) for f in logger.filters):
            logger.addFilter(KafkaPythonNoise())
