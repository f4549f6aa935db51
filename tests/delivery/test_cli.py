"""``hub deliver`` as a user meets it before any broker is involved: help and clear errors."""

import fcntl
import os
import signal
import socket
import threading

import pytest

from hub.cli import build_parser, main
from hub.signals import stop_on_signals


def run(capsys, *args):
    code = main(["deliver", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_explains_channels_and_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["deliver", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for words in ("--to-dir DIR", "--webhook URL", "--once", "--batch-size N",
                  "--max-backoff S", "Idempotency-Key", "hub.dlq", "docs/delivery.md"):
        assert words in text


def test_the_top_level_help_lists_deliver(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "deliver" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["jugendamt-selm"], "one of the arguments --to-dir --webhook is required"),
    (["jugendamt-selm", "--to-dir", "x", "--webhook", "http://h/"], "not allowed with"),
    (["jugendamt-selm", "--to-dir", "x", "--batch-size", "0"], "must be greater than 0"),
    (["jugendamt-selm", "--to-dir", "x", "--batch-seconds", "soon"], "'soon' is not a number"),
    (["jugendamt-selm", "--webhook", "http://h/", "--max-backoff", "-1"], "greater than 0"),
    (["jugendamt-selm", "--to-dir", "x", "--metrics-port", "70000"], "at most 65535"),
])
def test_wrong_options_are_named(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["deliver", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_agency(capsys, tmp_path):
    code, _, err = run(capsys, "jugendamt-atlantis", "--to-dir", str(tmp_path))
    assert code == 1
    assert "unknown agency 'jugendamt-atlantis'" in err and "jugendamt-selm" in err
    assert list(tmp_path.iterdir()) == []  # nothing touched


def test_the_statistics_office_has_no_inbox(capsys, tmp_path):
    code, _, err = run(capsys, "kreis-unna-statistik", "--to-dir", str(tmp_path))
    assert code == 1 and "has no inbox" in err


def test_a_webhook_that_is_no_http_url(capsys):
    code, _, err = run(capsys, "jugendamt-selm", "--webhook", "kita.example/hub")
    assert code == 1 and "--webhook needs an http:// or https:// URL" in err


def test_a_folder_in_use_by_another_deliverer(capsys, tmp_path):
    fd = os.open(tmp_path / ".jugendamt-selm_inbox.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        code, _, err = run(capsys, "jugendamt-selm", "--to-dir", str(tmp_path))
    finally:
        os.close(fd)
    assert code == 1 and "another `hub deliver jugendamt-selm` writes to" in err


def test_a_metrics_port_in_use(capsys, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        code, _, err = run(capsys, "jugendamt-selm", "--to-dir", str(tmp_path),
                           "--metrics-port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    assert code == 1 and "cannot serve metrics on 127.0.0.1:" in err
    assert "choose a free port with --metrics-port" in err


def test_the_first_signal_asks_for_a_clean_stop_the_second_interrupts():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    first: list[str] = []
    with pytest.raises(KeyboardInterrupt), stop_on_signals(stop, first.append):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        assert first == ["SIGTERM"]
        os.kill(os.getpid(), signal.SIGINT)  # the second one, of either kind, interrupts
        threading.Event().wait(5)
    assert first == ["SIGTERM"]
    assert {sig: signal.getsignal(sig) for sig in before} == before
