"""Secrets never reach a log line: every record of the process is checked for them.

The Kafka password and the pseudonymisation key are registered here when they are read
(:func:`keep_out_of_logs`). Third-party libraries can log them: kafka-python, for one, logs
its whole configuration, password included, at DEBUG level. Every log record created in
the process afterwards has each registered secret replaced by ``***``, whichever logger,
level or handler it goes to.
"""

from __future__ import annotations

import logging
import threading

MASK = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def keep_out_of_logs(secret: str) -> None:
    """Mask ``secret`` in every log record of this process from now on."""
    global _installed
    if not secret:
        return
    with _lock:
        _secrets.add(secret)
        if not _installed:
            _install()
            _installed = True


def redacted(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _install() -> None:
    make_record = logging.getLogRecordFactory()

    def masking_factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: left to the handler to report
            return record
        clean = redacted(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(masking_factory)
