"""Only the agencies that may: the secured local broker (TLS, SCRAM logins, ACLs from the
agency list), every party on its own login, against the real broker."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka.errors import AuthorizationError, KafkaError

from hub.broker.local import LocalBroker, free_port
from hub.broker.secure import SecureSetup
from hub.errors import NotAllowedError
from hub.kafka_io import admin_client, producer
from hub.security.acl import Acl
from hub.security.apply import current_acls, to_kafka
from hub.settings import PseudonymKey
from hub.tail import Tail
from tests.district_samples import CONSENT_FILES, EVENT_FILES, EXPECTED_INBOXES, inbox_view
from tests.exports import write_export, youth_office_row
from tests.support.paths import REPO
from tests.support.session import KafkaEnv, Worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

OUTPUTS: list[str] = []  # everything the hub commands of this module printed


@dataclass(frozen=True)
class SecureEnv(KafkaEnv):
    """The secured broker; ``env()`` logs in as the hub (for the worker)."""

    @property
    def setup(self) -> SecureSetup:
        return self.broker.security

    def login(self, user: str) -> dict[str, str]:
        lines = (self.setup.credentials_dir / f"{user}.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line)

    def env(self, **extra: str) -> dict[str, str]:
        return self.env_as("hub", **extra)

    def env_as(self, user: str, **extra: str) -> dict[str, str]:
        return super().env(**{**self.login(user), **extra})

    def hub_as(self, user: str, *args: str, timeout: float = 120,
               **extra: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "hub", *args],
                                env=self.env_as(user, **extra), cwd=REPO,
                                capture_output=True, text=True, timeout=timeout)
        OUTPUTS.append(result.stdout + result.stderr)
        return result

    def access(self, user: str):
        return self.setup.access(self.bootstrap, user)


@pytest.fixture(scope="module")
def secure(tmp_path_factory, key_file) -> SecureEnv:
    home = tmp_path_factory.mktemp("secure-home")
    broker = LocalBroker(home, port=free_port(), controller_port=free_port(), heap="768m")
    broker.start(progress=OUTPUTS.append, secure=True)
    try:
        env = SecureEnv(broker, home, key_file)
        for args in (("topics", "apply"), ("acl", "apply")):
            result = env.hub_as("operator", *args)
            assert result.returncode == 0, result.stdout + result.stderr
        yield env
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def secure_worker(secure, tmp_path_factory) -> Worker:
    """`hub run` logged in as the hub."""
    w = Worker(secure, tmp_path_factory.mktemp("secure-worker") / "worker.log")
    w.start()
    try:
        yield w
    finally:
        w.stop()


def refused(result: subprocess.CompletedProcess, *words: str) -> bool:
    text = result.stdout + result.stderr
    return result.returncode == 1 and all(w in text for w in words)


def test_the_operator_applies_the_acls_idempotently_and_removes_stale_ones(secure):
    again = secure.hub_as("operator", "acl", "apply")
    assert again.returncode == 0 and "0 created, 0 removed" in again.stdout, again.stdout
    stale = Acl("User:jugendamt-kamen", "TOPIC", "LITERAL", "hub.audit", "READ")
    with admin_client(secure.access("operator")) as admin:
        admin.create_acls([to_kafka(stale)])
        assert stale in current_acls(admin)
    result = secure.hub_as("operator", "acl", "apply", "--verbose")
    assert "0 created, 1 removed" in result.stdout, result.stdout
    assert "removed User:jugendamt-kamen READ TOPIC hub.audit" in result.stdout
    with admin_client(secure.access("operator")) as admin:
        assert stale not in current_acls(admin)
    # only the operator may change them
    result = secure.hub_as("jugendamt-kamen", "acl", "apply")
    assert refused(result, "User:jugendamt-kamen may not", "only the operator")


def test_an_agency_reads_and_writes_only_its_own_topics(secure, tmp_path):
    me, other = "jugendamt-kamen", "jugendamt-werne"
    ok = secure.hub_as(me, "tail", f"agency.{me}.inbox", "--from-beginning", "--timeout", "1")
    assert ok.returncode == 0, ok.stderr
    result = secure.hub_as(me, "tail", f"agency.{other}.inbox", "--timeout", "1")
    assert refused(result, f"User:{me} may not read topic agency.{other}.inbox",
                   f"hub acl show {me}")
    for topic in ("hub.consent", "hub.audit", "hub.dlq", "hub.facts"):
        result = secure.hub_as(me, "tail", topic, "--timeout", "1")
        assert refused(result, f"may not read topic {topic}"), topic
    result = secure.hub_as(me, "audit", "--subject", "x" * 64)  # reads hub.audit
    assert refused(result, "may not read topic hub.audit")
    # writing another agency's outbox: `hub ingest` says so before sending anything ...
    export = write_export(tmp_path / f"{other}_export.csv", [youth_office_row(
        Zielstelle=f"{other}", Wohnort="Werne")])
    result = secure.hub_as(me, "ingest", str(export))
    assert refused(result, f"User:{me} may not read topic agency.{other}.outbox")
    # ... and the broker refuses the write itself
    kp = producer(secure.access(me), "test-foreign-outbox")
    try:
        with pytest.raises((AuthorizationError, KafkaError)) as raised:
            kp.send(f"agency.{other}.outbox", value=b"x").get(timeout=30)
        assert "Authorization" in type(raised.value).__name__ or \
            "authoriz" in str(raised.value).lower()
    finally:
        kp.close(timeout=5)
    # nobody but the operator deletes a topic, not even its own
    for who in (me, "hub"):
        with admin_client(secure.access(who)) as admin:
            with pytest.raises(AuthorizationError):
                admin.delete_topics([f"agency.{me}.outbox"])
    from kafka.admin import NewTopic
    with admin_client(secure.access("operator")) as admin:
        admin.create_topics([NewTopic("scratch.operator", 1, 1)])
        admin.delete_topics(["scratch.operator"])


def test_an_analyst_reads_the_analytics_only(secure):
    ok = secure.hub_as("analyst", "tail", "analytics.weekly_activity", "--from-beginning",
                       "--timeout", "1")
    assert ok.returncode == 0, ok.stderr
    result = secure.hub_as("analyst", "tail", "agency.jugendamt-kamen.inbox", "--timeout", "1")
    assert refused(result, "User:analyst may not read topic agency.jugendamt-kamen.inbox")
    from hub.agencies import load_agencies
    for agency in load_agencies().exchanging():
        for topic in (agency.inbox, agency.outbox):
            with pytest.raises(NotAllowedError):
                Tail(secure.access("analyst"), [topic], timeout=1).close()
    for topic in ("hub.audit", "hub.consent", "hub.facts"):
        with pytest.raises(NotAllowedError):
            Tail(secure.access("analyst"), [topic], timeout=1).close()


def test_a_wrong_password_a_plaintext_client_and_a_stranger_at_the_controller_are_refused(
        secure, tmp_path):
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    result = secure.hub_as("jugendamt-kamen", "tail", "agency.jugendamt-kamen.inbox",
                           "--timeout", "1", HUB_KAFKA_PASSWORD_FILE=str(wrong))
    assert refused(result, "as jugendamt-kamen (SASL_SSL)", "the login")
    plaintext = secure.hub_as("jugendamt-kamen", "tail", "agency.jugendamt-kamen.inbox",
                              "--timeout", "1", HUB_KAFKA_SECURITY_PROTOCOL="PLAINTEXT")
    assert refused(plaintext, "no Kafka broker answers", "HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
    # TLS, but without a login: the broker closes the connection
    tls_only = secure.hub_as("jugendamt-kamen", "tail", "agency.jugendamt-kamen.inbox",
                             "--timeout", "1", HUB_KAFKA_SECURITY_PROTOCOL="SSL")
    assert tls_only.returncode == 1
    # the controller listener wants the broker's own certificate
    context = ssl.create_default_context(cafile=str(secure.setup.ca_cert))
    with socket.create_connection(("127.0.0.1", secure.broker.controller_port), 5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"\x00\x00\x00\x01\x00")
                if not tls.recv(1):  # closed without an answer
                    raise ConnectionError("closed")


def test_the_sample_flow_works_with_every_party_on_its_own_login(secure, secure_worker,
                                                                tmp_path):
    for path in CONSENT_FILES + EVENT_FILES:  # each agency publishes its own export
        agency = path.name.removeprefix("einwilligungen_").removesuffix(".csv") \
            .removesuffix("_export")
        result = secure.hub_as(agency, "ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        # its login may read its outbox's size limit: no default is assumed
        assert "note:" not in result.stderr, result.stderr
    pseudonyms = PseudonymKey.from_file(secure.key_file)

    def inboxes_as_their_agencies():
        by_inbox = {}
        for inbox in EXPECTED_INBOXES:
            agency = inbox.removeprefix("agency.").removesuffix(".inbox")
            by_inbox[inbox] = [r.value for r in Tail(secure.access(agency), [inbox],
                                                     from_beginning=True, timeout=1.0)
                               if r.value]
        view = inbox_view(by_inbox, pseudonyms)
        return view if view == EXPECTED_INBOXES else None

    wait_for(inboxes_as_their_agencies, 120, "the sample table in the agencies' inboxes",
             interval=2)

    # an agency fetches its inbox as files with its own login and consumer group
    folder = tmp_path / "eingang"
    result = secure.hub_as("jugendamt-kamen", "deliver", "jugendamt-kamen", "--to-dir",
                           str(folder), "--once")
    assert result.returncode == 0, result.stderr
    assert "4 events delivered" in result.stdout

    # a broken row: the agency's dead letter reaches hub.dlq through its own outbox
    bad = write_export(tmp_path / "jugendamt-selm_export.csv", [youth_office_row(
        Vorgangsnummer="JA-SEL-BAD", Datum="31.02.2026", Wohnort="Selm",
        Zielstelle="jugendamt-selm")])
    result = secure.hub_as("jugendamt-selm", "ingest", str(bad))
    assert result.returncode == 1 and "1 row rejected" in result.stdout, result.stdout

    def dead_letter():
        return [r.value for r in Tail(secure.access("operator"), ["hub.dlq"],
                                      from_beginning=True, timeout=1.0)
                if r.value and r.value.get("file") == bad.name]
    (letter,) = wait_for(dead_letter, 60, "the rejected row in hub.dlq")
    assert letter["relayed_from"] == "agency.jugendamt-selm.outbox"
    assert letter["agency"] == "jugendamt-selm" and letter["stage"] == "connector"

    # the analysts read what the worker aggregated
    def cells():
        return [r for r in Tail(secure.access("analyst"), ["analytics.weekly_activity"],
                                from_beginning=True, timeout=1.0) if r.value]
    assert wait_for(cells, 60, "analytics cells for the analysts")


def test_no_generated_password_in_any_log_output_or_process_argument(secure, secure_worker):
    passwords = {user.stem: user.read_text().strip()
                 for user in secure.setup.credentials_dir.glob("*.password")}
    assert len(passwords) >= 15
    texts = {f"output {n}": text for n, text in enumerate(OUTPUTS)}
    logs = [p for p in (secure.home / "kafka" / "logs").rglob("*") if p.is_file()]
    logs.append(secure_worker.log)
    assert any(p.name == "server.log" for p in logs)
    for path in logs:
        texts[str(path)] = path.read_text(errors="replace")
    for pid in (secure.broker.status().pid, secure_worker.proc.pid):
        texts[f"arguments of {pid}"] = Path(f"/proc/{pid}/cmdline").read_bytes().decode(
            errors="replace")
    help_text = subprocess.run([sys.executable, "-m", "hub", "broker", "--help"], cwd=REPO,
                               env={**os.environ, **secure.login("operator")},
                               capture_output=True, text=True).stdout
    texts["hub broker --help"] = help_text
    assert sum(len(t) for t in texts.values()) > 10_000  # there was something to search
    leaks = [(where, user) for where, text in texts.items()
             for user, password in passwords.items() if password in text]
    assert not leaks
