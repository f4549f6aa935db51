"""The worker's metrics endpoint when its port is taken: a clear message, no crash."""

import socket

from hub.worker import serve_metrics


def test_a_port_in_use_is_reported_and_the_worker_goes_on(capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        assert serve_metrics("127.0.0.1", taken.getsockname()[1]) is False
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert "cannot serve metrics" in err and "HUB_METRICS_PORT" in err
