"""How the hub's Kafka clients connect: bootstrap servers, TLS and the SASL login.

:class:`KafkaAccess` is what every client of the project is built from (kafka-python in
``hub.kafka_io``, Faust in ``hub.worker``). It comes from the ``HUB_KAFKA_*`` settings
(:meth:`hub.settings.Settings.kafka`); a plain ``"host:port"`` string stands for a
plaintext connection without login (the local development broker, the tests).

The password is read from the file ``HUB_KAFKA_PASSWORD_FILE`` names: it is never a
setting, an argument or a log line, and neither the password nor the file's content
appears in a repr or an error message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from hub.errors import ConfigError
from hub.security.redact import keep_out_of_logs

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class ClientSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    user: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"HUB_KAFKA_SECURITY_PROTOCOL {self.protocol!r} is none of "
                              f"{', '.join(PROTOCOLS)}")
        if self.sasl:
            if self.mechanism not in MECHANISMS:
                raise ConfigError(f"HUB_KAFKA_SASL_MECHANISM {self.mechanism!r} is none of "
                                  f"{', '.join(MECHANISMS)}")
            if not self.user or self.password is None:
                raise ConfigError(f"{self.protocol} needs a login: set HUB_KAFKA_USER and "
                                  "HUB_KAFKA_PASSWORD_FILE")
        if self.ca_file is not None and not Path(self.ca_file).is_file():
            raise ConfigError(f"HUB_KAFKA_CA_FILE {self.ca_file} is not a readable file")

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def principal(self) -> str:
        """Who the broker sees: ``User:<name>``, or ANONYMOUS without a login."""
        return f"User:{self.user}" if self.sasl else "User:ANONYMOUS"

    def kafka_python(self) -> dict:
        """Keyword arguments for kafka-python's clients."""
        config: dict = {"security_protocol": self.protocol}
        if self.tls:
            config |= {"ssl_cafile": str(self.ca_file) if self.ca_file else None,
                       "ssl_check_hostname": True}
        if self.sasl:
            config |= {"sasl_mechanism": self.mechanism, "sasl_plain_username": self.user,
                       "sasl_plain_password": self.password.get_secret_value()}
        return config

    def ssl_context(self) -> ssl.SSLContext:
        """Server certificates checked against HUB_KAFKA_CA_FILE (or the system's CAs)."""
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def faust_credentials(self):
        """Credentials for Faust's ``broker_credentials`` (None: plaintext, no login)."""
        import faust

        if self.sasl:
            return faust.SASLCredentials(
                username=self.user, password=self.password.get_secret_value(),
                ssl_context=self.ssl_context() if self.tls else None,
                mechanism=self.mechanism)
        if self.tls:
            return faust.SSLCredentials(self.ssl_context())
        return None


def read_password(path: Path | None) -> SecretStr | None:
    """The password in ``path`` (first line, without the line end); a clear error, which
    never quotes the file, when it cannot be used."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"HUB_KAFKA_PASSWORD_FILE {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"HUB_KAFKA_PASSWORD_FILE {path} cannot be read: "
                          f"{exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"HUB_KAFKA_PASSWORD_FILE {path} is not UTF-8 text") from None
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise ConfigError(f"HUB_KAFKA_PASSWORD_FILE {path} is empty")
    keep_out_of_logs(password)
    return SecretStr(password)


@dataclass(frozen=True)
class KafkaAccess:
    """Where the brokers are and how to log in; ``str()`` is the bootstrap servers."""

    bootstrap: str
    security: ClientSecurity = ClientSecurity()

    def __str__(self) -> str:
        return self.bootstrap

    def describe(self) -> str:
        """For messages: where, and as whom (never the password)."""
        if self.security.sasl:
            return f"{self.bootstrap} as {self.security.user}"
        return self.bootstrap


def as_access(kafka: KafkaAccess | str) -> KafkaAccess:
    """A plain ``host:port,...`` string is a plaintext connection without login."""
    return kafka if isinstance(kafka, KafkaAccess) else KafkaAccess(kafka)
