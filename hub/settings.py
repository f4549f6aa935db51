"""All settings in one place: environment variables with the prefix ``HUB_``.

Processes read a :class:`Settings` once at start-up and hand the values on; nothing else in
the hub reads ``os.environ``. Secrets (the pseudonymisation key) are read from files named
here and kept as secret types, so they never show up in a repr, a log line or ``--help``:
the pseudonymisation key and the Kafka password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretBytes, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError
from hub.paths import KAFKA_DEPLOY_DIR, PROJECT_ROOT
from hub.security.client import ClientSecurity, KafkaAccess, read_password
from hub.security.redact import keep_out_of_logs

AUDIT_RETENTION_DAYS = 730.0
"""How long hub.audit keeps a routing decision by default: two years, so that a family's
request for information and a data-protection review of the past year can be answered."""
MIN_KEY_BYTES = 32


class Settings(BaseSettings):
    """The hub's settings. Every field can be set as ``HUB_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    home: Path = Field(
        default=PROJECT_ROOT / ".hub",
        description="Folder for local state: broker data and logs, demo key.",
    )
    bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...). Default: the local broker.",
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT",
        description="How clients connect: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", description="SASL mechanism of the login (SASL_* only).",
    )
    kafka_user: str | None = Field(default=None, description="Kafka login name (SASL_*).")
    kafka_password_file: Path | None = Field(
        default=None, description="File holding the Kafka password (first line); the "
        "password itself is never a setting.",
    )
    kafka_ca_file: Path | None = Field(
        default=None, description="CA certificate (PEM) the brokers' TLS certificates are "
        "checked against (SSL, SASL_SSL); default: the system's CAs.",
    )
    broker_port: int = Field(default=9092, description="Port of the local broker (127.0.0.1).")
    controller_port: int = Field(
        default=9093, description="Port of the local broker's KRaft controller (127.0.0.1)."
    )
    broker_heap: str = Field(default="1g", description="Java heap of the local broker (-Xmx).")
    cluster_ports: str = Field(
        default="19092,19093,19094", pattern=r"^\s*\d+(\s*,\s*\d+)*\s*$",
        description="Client ports of the nodes of the local cluster (`hub broker start "
        "--nodes 3`), node 1 first, comma-separated (127.0.0.1).",
    )
    cluster_controller_ports: str = Field(
        default="19192,19193,19194", pattern=r"^\s*\d+(\s*,\s*\d+)*\s*$",
        description="KRaft controller ports of the nodes of the local cluster, node 1 first, "
        "comma-separated (127.0.0.1).",
    )
    cluster_heap: str = Field(
        default="512m", description="Java heap of each node of the local cluster (-Xmx).",
    )
    kafka_libs_dir: Path = Field(
        default=KAFKA_DEPLOY_DIR / "lib",
        description="Where the broker's jars are resolved to (one sub-folder per version).",
    )
    pseudonym_key_file: Path | None = Field(
        default=None,
        description="File holding the pseudonymisation (linkage) key, at least 32 bytes.",
    )
    app_id: str = Field(default="unna-hub", description="Faust application id (consumer group).")
    topic_replication_factor: int | None = Field(
        default=None, ge=1,
        description="Replication factor of the topics the workers create themselves (their "
        "table changelogs). Default: as `hub topics apply`, one copy per broker the cluster "
        "reports at the worker's start, at most 3.",
    )
    router_delay_ms: float = Field(
        default=0.0, ge=0, le=1000,
        description="For drills and tests only, never in production: milliseconds of CPU "
        "the router spends extra on each event (it blocks, like a slow rule would), to "
        "see how a worker copes with a router slower than its input.",
    )
    hold_window_hours: float = Field(
        default=24.0, gt=0,
        description="How long an event without a covering consent waits (processing time).",
    )
    linkage_review_days: float = Field(
        default=14.0, gt=0,
        description="How long the events of a possible match wait for the trust office "
        "(hub linkage confirm or reject) beyond the hold window, before they are refused.",
    )
    dedupe_retention_days: float = Field(
        default=90.0, gt=0, description="How long an event id is remembered as delivered.",
    )
    audit_retention_days: float = Field(
        default=AUDIT_RETENTION_DAYS, gt=0,
        description="How long hub.audit keeps each routing decision; `hub topics apply` sets "
        "it as the topic's retention.ms, and Kafka deletes older audit segments.",
    )
    metrics_port: int = Field(
        default=9310, ge=0, le=65535,
        description="Port of the worker's Prometheus endpoint /metrics; 0 turns it off.",
    )
    metrics_addr: str = Field(
        default="127.0.0.1",
        description="Address the /metrics endpoints of `hub run`, `hub deliver` and "
        "`hub demo` listen on (0.0.0.0: all).",
    )
    analytics_k: int = Field(
        default=5, ge=1,
        description="Smallest number of children an analytics cell may show; smaller cells "
        "are suppressed.",
    )
    analytics_publish_seconds: float = Field(
        default=2.0, gt=0,
        description="How often changed analytics cells are published (real seconds).",
    )
    clock_start: datetime | None = Field(
        default=None, description="Simulated time at HUB_CLOCK_ANCHOR (default: real time).",
    )
    clock_anchor: datetime | None = Field(
        default=None, description="Real time at which the clock shows HUB_CLOCK_START.",
    )
    clock_speed: float = Field(
        default=1.0, gt=0, description="Simulated seconds per real second.",
    )
    log_level: str = Field(default="info", description="Log level of the workers.")
    state_store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description="Where a worker keeps the router's tables and the analytics "
        "aggregator's facts: rocksdb (on disk under HUB_HOME/worker/<worker id>, rebuilt "
        "from the changelogs and hub.facts when missing) or memory (read back from them at "
        "every start).",
    )
    rocksdb_memory_mib: int = Field(
        default=128, ge=8,
        description="What a worker's RocksDB databases may hold in memory together, in "
        "MiB (HUB_STATE_STORE=rocksdb): one block cache for the router's tables and the "
        "analytics aggregator's facts, to which their write buffers are charged too (half "
        "of it at most). Less memory makes more reads go to the files.",
    )
    standby_replicas: int = Field(
        default=1, ge=0, le=3,
        description="How many other workers keep a standby copy of each partition of the "
        "router's tables (Faust's table_standby_replicas), kept up to date from the "
        "changelogs: a worker that takes a partition over then has its state at hand "
        "instead of reading the partition's changelog first. Each copy costs its worker "
        "CPU for every event the partition routes (0: none; docs/operations.md, "
        "\"Standby copies\").",
    )
    worker_role: Literal["all", "router", "analytics"] = Field(
        default="all",
        description="What a `hub run` worker does: all (route and aggregate the analytics), "
        "router (route only) or analytics (aggregate only, in the consumer group "
        "<app id>-analytics, its state under HUB_HOME/analytics/<worker id>). Run the "
        "analytics apart when the router needs its process's whole core.",
    )
    worker_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Name of the worker's state folder HUB_HOME/worker/<worker id>. Default: "
        "the first of 0, 1, 2, ... that no other running worker uses (so several workers "
        "on one machine never share a RocksDB folder).",
    )

    @property
    def group_id(self) -> str:
        """The Faust application id of this worker's role: its consumer group and the
        prefix of its own topics (``<app id>-analytics`` for the analytics apart)."""
        return f"{self.app_id}-analytics" if self.worker_role == "analytics" else self.app_id

    def cluster_port_list(self, controller: bool = False) -> list[int]:
        """``cluster_ports`` (or ``cluster_controller_ports``) as numbers."""
        raw = self.cluster_controller_ports if controller else self.cluster_ports
        return [int(p) for p in raw.split(",")]

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers to use: the setting, or the local broker."""
        return self.bootstrap_servers or f"127.0.0.1:{self.broker_port}"

    @cached_property
    def kafka(self) -> KafkaAccess:
        """The bootstrap servers and the login every Kafka client of the project uses."""
        return KafkaAccess(self.bootstrap, ClientSecurity(
            self.kafka_security_protocol.upper(), self.kafka_sasl_mechanism.upper(),
            self.kafka_user, read_password(self.kafka_password_file)
            if self.kafka_security_protocol.upper().startswith("SASL_") else None,
            self.kafka_ca_file))

    @cached_property
    def pseudonym_key(self) -> PseudonymKey:
        """Load the linkage key from ``pseudonym_key_file``; a clear error if it is unusable."""
        return PseudonymKey.from_file(self.pseudonym_key_file)


def load_settings() -> Settings:
    """The settings from the environment; invalid values raise :class:`ConfigError` naming
    each ``HUB_`` variable and what is wrong with it (the command line and the SDK alike)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"HUB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                    for e in exc.errors()]
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None


@dataclass(frozen=True)
class PseudonymKey:
    """The secret linkage key and its public id (safe to put in events)."""

    secret: SecretBytes
    key_id: str

    @classmethod
    def from_file(cls, path: Path | None) -> PseudonymKey:
        if path is None:
            raise ConfigError(
                "no pseudonymisation key: set HUB_PSEUDONYM_KEY_FILE to a key file "
                "(create one with `hub key new FILE`)"
            )
        try:
            raw = Path(path).read_bytes().strip()
        except FileNotFoundError:
            raise ConfigError(f"pseudonymisation key file {path} does not exist") from None
        except OSError as exc:
            raise ConfigError(
                f"pseudonymisation key file {path} cannot be read: {exc.strerror}"
            ) from None
        if len(raw) < MIN_KEY_BYTES:
            raise ConfigError(
                f"pseudonymisation key in {path} is too short: {len(raw)} bytes, "
                f"at least {MIN_KEY_BYTES} are needed (create one with `hub key new FILE`)"
            )
        key_id = hmac.new(raw, b"unna-hub key id", hashlib.sha256).hexdigest()[:12]
        keep_out_of_logs(raw.decode("utf-8", errors="replace"))
        return cls(secret=SecretBytes(raw), key_id=key_id)

    def __repr__(self) -> str:  # never the secret
        return f"PseudonymKey(key_id={self.key_id!r})"


def write_new_key(path: Path, force: bool = False) -> None:
    """Write a new random 256-bit linkage key to ``path``, readable by its owner only."""
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists already; a new key would change every pseudonym "
                          "(use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
