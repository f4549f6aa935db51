"""kafka-python's event loop in a worker: a task that waits on a connection closed under it
is one line without a traceback; any other failure keeps its traceback. Driven through the
library's own selector, as the worker's inbox scans use it."""

from __future__ import annotations

import io
import logging
import socket

import pytest

from hub.connectivity import quiet_kafka_python


@pytest.fixture
def selector_log():
    from kafka.net.selector import NetworkSelector

    logger, selector = logging.getLogger("kafka"), logging.getLogger("kafka.net.selector")
    transport = logging.getLogger("kafka.net.transport")
    level, filters, transport_filters = logger.level, list(selector.filters), \
        list(transport.filters)
    quiet_kafka_python()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    net = NetworkSelector()

    def run(make_task):
        net.call_soon(make_task(net))
        for _ in range(3):
            net.poll(timeout_ms=10)
        return out.getvalue()

    try:
        yield run
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        selector.filters[:] = filters
        transport.filters[:] = transport_filters
        net.close()


def test_a_wait_on_a_closed_connection_is_one_line(selector_log):
    closed = socket.socket()
    closed.close()

    def task(net):
        async def wait():
            await net.wait_read(closed)
        return wait

    text = selector_log(task)
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "connection closed under it (ValueError: Invalid file descriptor: -1)" in lines[0]
    assert lines[0].startswith("ERROR")


def test_a_read_of_a_connection_closed_under_it_is_one_line(selector_log):
    """The transport reads after its socket was closed (kafka-python checks for that before
    a send, not before a receive): its error line stays, without the traceback."""
    from kafka.net.transport import KafkaTCPTransport

    def task(net):
        async def read():
            data, error = KafkaTCPTransport(net, None, host="127.0.0.1")._sock_recv()
            assert data == b"" and error is not None  # the client goes on
        return read

    text = selector_log(task)
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "connection closed under it (AttributeError: 'NoneType' object has no attribute " \
           "'recv')" in lines[0]


def test_any_other_failure_keeps_its_traceback(selector_log):
    def task(net):
        async def fail():
            raise RuntimeError("something else")
        return fail

    text = selector_log(task)
    assert "Traceback" in text and "RuntimeError: something else" in text


def test_a_step_slowed_by_another_thread_is_not_reported(selector_log):
    """In the worker, a slow step of the client's loop means the router held the
    interpreter: kafka-python's warning about it is left out."""
    import time

    def task(net):
        async def slow():
            time.sleep(0.15)
        return slow

    assert selector_log(task) == ""
