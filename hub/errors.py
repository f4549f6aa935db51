"""One root error type for everything the hub reports to a user.

Third-party errors are translated at the boundary (``raise HubError(...) from exc``) so that
the CLI can print a clear message instead of a traceback.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of the hub's errors. The message is meant for a person."""


class ConfigError(HubError):
    """A setting, key file or configuration file is missing or invalid."""


class BrokerError(HubError):
    """The local broker could not be started, stopped or reached."""


class DecodeError(HubError):
    """Bytes from Kafka are not a valid event; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SchemaError(HubError):
    """An Avro schema is invalid or incompatible with its released version."""


class InputError(HubError):
    """An export file cannot be read as a whole (wrong format, no header, ...)."""


class NotAllowedError(HubError):
    """The broker refused an operation: the principal has no ACL for it."""
