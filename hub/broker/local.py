"""The local Apache Kafka broker: KRaft, single node, on 127.0.0.1 only.

Jars come from Maven Central through ``deploy/kafka/pom.xml`` (resolved once into a
git-ignored folder); data, logs and the pid file live under ``<home>/kafka``. The broker runs
as a background process in its own session, so it outlives the command that started it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.broker.nodes import (
    CONFIG_FILE,
    STATE_FILE,
    check_port_free,
    pid_exists,
    read_state,
    running_cluster,
    runs_with,
    wait_port_free,
)
from hub.broker.nodes import free_port as free_port  # for tests: hub.broker.nodes
from hub.broker.nodes import port_in_use as port_in_use  # for tests: hub.broker.nodes
from hub.errors import BrokerError
from hub.paths import KAFKA_DEPLOY_DIR

POM = KAFKA_DEPLOY_DIR / "pom.xml"
MIN_JAVA = 17
Progress = Callable[[str], None]


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in the pom."""
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom.read_text())
    if not match:
        raise BrokerError(f"{pom} does not pin <kafka.version>")
    return match.group(1).strip()


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    data_dir: Path
    log_file: Path

    def describe(self) -> str:
        if self.running:
            return (
                f"running: pid {self.pid}, bootstrap {self.bootstrap}, "
                f"data {self.data_dir}, log {self.log_file}"
            )
        return f"not running (data {self.data_dir})"


class LocalBroker:
    """Start, stop and inspect the single-node development broker."""

    def __init__(
        self,
        home: Path,
        port: int = 9092,
        controller_port: int = 9093,
        libs_root: Path = KAFKA_DEPLOY_DIR / "lib",
        heap: str = "1g",
        pom: Path = POM,
        *,
        folder: Path | None = None,
    ):
        # ``folder``: where data, logs, config and pid live (default ``<home>/kafka``; the
        # nodes of a local cluster, hub.broker.cluster, have one each)
        self.dir = Path(folder) if folder else Path(home) / "kafka"
        self.port = port
        self.controller_port = controller_port
        self.pom = pom
        self.version = kafka_version(pom)
        self.libs = Path(libs_root) / self.version
        self.heap = heap
        self.data_dir = self.dir / "data"
        self.log_dir = self.dir / "logs"
        self.config_file = self.dir / CONFIG_FILE
        self.state_file = self.dir / STATE_FILE
        self.mode_file = self.dir / "mode.json"
        self.home = Path(home)

    # ------------------------------------------------------------------ status
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "server.log"

    def _state(self) -> dict | None:
        return read_state(self.state_file)

    def _alive(self, pid: int) -> bool:
        return runs_with(pid, self.config_file)

    # ---------------------------------------------------------------- security
    @property
    def secure(self) -> bool:
        """Whether the storage was made for the secured broker (``start --secure``): the
        broker then always starts with TLS, SCRAM logins and ACLs."""
        try:
            return bool(json.loads(self.mode_file.read_text()).get("secure"))
        except (FileNotFoundError, ValueError):
            return False

    @property
    def security(self):
        from hub.broker.secure import SecureSetup

        return SecureSetup(self.home, self.dir)

    def access(self, user: str | None = None):
        """How to connect to this broker: plaintext, or as ``user`` (default: the operator)
        when it is the secured one."""
        from hub.broker.secure import OPERATOR_USER
        from hub.security.client import KafkaAccess

        if not self.secure:
            return KafkaAccess(self.bootstrap)
        return self.security.access(self.bootstrap, user or OPERATOR_USER)

    def status(self) -> BrokerStatus:
        state = self._state()
        if state and self._alive(state["pid"]):
            return BrokerStatus(True, state["pid"], state["bootstrap"], self.data_dir,
                                self.log_file)
        return BrokerStatus(False, None, self.bootstrap, self.data_dir, self.log_file)

    # ------------------------------------------------------------------- start
    def start(self, timeout: float = 90.0, progress: Progress = print,
              secure: bool = False) -> tuple[BrokerStatus, bool]:
        """Start the broker unless it runs; returns (status, started_now). ``secure`` makes
        new storage for the secured broker; storage made without it cannot be secured."""
        formatted = (self.data_dir / "meta.properties").exists()
        if secure and formatted and not self.secure:
            raise BrokerError(
                f"the broker storage in {self.data_dir} was made without --secure and cannot "
                "be secured afterwards; stop the broker and remove that folder, or use "
                "another HUB_HOME for the secured broker")
        current = self.status()
        if current.running:
            return current, False
        self._refuse_if_cluster_runs()
        java = self._check_java()
        self.ensure_jars(progress)
        for port in (self.port, self.controller_port):
            check_port_free(port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not formatted:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.mode_file.write_text(json.dumps({"secure": secure}))
        if self.secure:
            self._prepare_security(progress)
        self._write_configs()
        if not formatted:
            progress(f"formatting broker storage in {self.data_dir}")
            self._format(java)
        progress(f"starting Kafka {self.version} on {self.bootstrap}")
        proc = self._launch(java)
        self._wait_ready(proc, timeout)
        if self.secure:
            self._add_new_logins(progress)
        return self.status(), True

    def _refuse_if_cluster_runs(self) -> None:
        """The single broker and the local cluster (``start --nodes 3``) never run side by
        side in one HUB_HOME: clients would not know which one they talk to."""
        cluster = running_cluster(self.home)
        if cluster is not None:
            size, bootstrap = cluster
            raise BrokerError(
                f"the local {size}-node cluster runs in {self.home} "
                f"({bootstrap}); stop it first with `hub broker stop`, or use "
                "another HUB_HOME for the single broker")

    def _launch(self, java: str) -> subprocess.Popen:
        """Start the broker process (in its own session, so that it outlives the command)
        and record its pid; returns without waiting for it to answer."""
        with open(self.log_dir / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                [java, *self._jvm_args(), "kafka.Kafka", str(self.config_file)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.dir,
            )
        self.state_file.write_text(json.dumps({"pid": proc.pid, "bootstrap": self.bootstrap}))
        return proc

    def _prepare_security(self, progress: Progress) -> None:
        """TLS material and a password for every login (those that exist are kept)."""
        from hub.agencies import load_agencies
        from hub.broker.secure import users_of

        setup = self.security
        if setup.ensure_tls():
            progress(f"made a local CA and the broker's TLS certificate in {setup.tls_dir}")
        created = [u for u in users_of(load_agencies()) if setup.ensure_password(u)]
        for user in users_of(load_agencies()):
            setup.write_env_file(user, self.bootstrap)
        if created:
            progress(f"made {len(created)} logins in {setup.credentials_dir} (mode 0600)")

    def _add_new_logins(self, progress: Progress) -> None:
        """SCRAM credentials, through the Admin API as the operator, for the logins that
        the broker does not know yet (an agency added since the storage was made)."""
        from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

        from hub.agencies import load_agencies
        from hub.broker.secure import users_of
        from hub.kafka_io import admin_client

        setup = self.security
        with admin_client(self.access()) as admin:
            known = set(admin.describe_user_scram_credentials() or {})
            missing = [u for u in users_of(load_agencies()) if u not in known]
            if missing:
                admin.alter_user_scram_credentials([
                    UserScramCredentialUpsertion(u, ScramMechanism.SCRAM_SHA_512,
                                                 setup.password(u)) for u in missing])
                progress(f"added the logins of {', '.join(missing)}")

    def _check_java(self) -> str:
        java = shutil.which("java")
        if not java:
            raise BrokerError(
                f"Java {MIN_JAVA} or newer is needed to run the local Kafka broker, but `java` "
                "is not on PATH (Debian: apt-get install openjdk-17-jre-headless)"
            )
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
        if match:
            major = int(match.group(1))
            if major == 1 and match.group(2):
                major = int(match.group(2))
            if major < MIN_JAVA:
                raise BrokerError(
                    f"Kafka {self.version} needs Java {MIN_JAVA} or newer; `java` is {major}"
                )
        return java

    def ensure_jars(self, progress: Progress = print) -> Path:
        """Resolve the broker's jars once; later calls return at once, offline."""
        if any(self.libs.glob("kafka_2.13-*.jar")):
            return self.libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise BrokerError(
                f"the Kafka {self.version} jars are not resolved yet and Maven (`mvn`) is not on "
                "PATH to fetch them (Debian: apt-get install maven)"
            )
        progress(f"resolving Kafka {self.version} jars from Maven Central (once) into {self.libs}")
        staging = self.libs.with_name(self.libs.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(self.pom), "dependency:copy-dependencies",
               f"-DoutputDirectory={staging}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise BrokerError(f"Maven could not resolve the Kafka jars:\n{tail}")
        staging.rename(self.libs)
        return self.libs

    def _jvm_args(self, heap: str | None = None) -> list[str]:
        return [
            f"-Xmx{heap or self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
        ]

    def _server_properties(self) -> dict[str, str]:
        """The broker's ``server.properties``: one node, broker and controller."""
        props: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # expired segments (the audit's retention) go within a minute, not five
            "log.retention.check.interval.ms": "30000",
        }
        if self.secure:
            props |= self.security.server_properties(self.port, self.controller_port)
        return props

    def _write_configs(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        props = self._server_properties()
        # mode 0600: the secured broker's own login is in it
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in props.items()))
        os.chmod(self.config_file, 0o600)
        (self.dir / "log4j2.properties").write_text(
            "status = warn\n"
            "appender.file.type = RollingFile\n"
            "appender.file.name = FILE\n"
            f"appender.file.fileName = {self.log_file}\n"
            f"appender.file.filePattern = {self.log_dir}/server.log.%i\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "appender.file.policies.type = Policies\n"
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
            "appender.file.policies.size.size = 20MB\n"
            "appender.file.strategy.type = DefaultRolloverStrategy\n"
            "appender.file.strategy.max = 3\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = FILE\n"
            "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
            "logger.state.name = state.change.logger\nlogger.state.level = WARN\n"
        )

    def _format(self, java: str, cluster_id: str | None = None) -> None:
        """Format the storage; the nodes of a cluster share one ``cluster_id``."""
        cluster_id = cluster_id or new_cluster_id()
        args = [*self._jvm_args("256m"), "kafka.tools.StorageTool", "format",
                f"--cluster-id={cluster_id}", "-c", str(self.config_file)]
        argfile = self.dir / "format.args"
        if self.secure:
            from hub.agencies import load_agencies
            from hub.broker.secure import _write_private, users_of

            # the logins' passwords go in a Java argument file, never on a command line
            args += self.security.scram_arguments(users_of(load_agencies()))
            _write_private(argfile, "\n".join(_argfile_quoted(a) for a in args).encode())
            command = [java, f"@{argfile}"]
        else:
            command = [java, *args]
        try:
            result = subprocess.run(command, capture_output=True, text=True)
        finally:
            argfile.unlink(missing_ok=True)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise BrokerError(f"formatting the broker storage failed:\n{tail}")

    def _wait_ready(self, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.state_file.unlink(missing_ok=True)
                raise BrokerError(
                    f"the broker exited with code {proc.returncode} while starting. "
                    f"Last lines of its log:\n{self.log_tail()}"
                )
            if answers_metadata(self.access()):
                return
            time.sleep(0.3)
        self._terminate(proc.pid, 15)
        raise BrokerError(
            f"the broker did not answer on {self.bootstrap} within {timeout:.0f} s. "
            f"Last lines of its log:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 25) -> str:
        chunks = []
        for path in (self.log_file, self.log_dir / "stdout.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    chunks.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(chunks) or "(no log written)"

    # -------------------------------------------------------------------- stop
    def stop(self, timeout: float = 60.0) -> bool:
        """Shut the broker down cleanly; returns False if it was not running."""
        current = self.status()
        if not current.running:
            self.state_file.unlink(missing_ok=True)
            return False
        self._terminate(current.pid, timeout)
        self.state_file.unlink(missing_ok=True)
        for port in (self.port, self.controller_port):
            wait_port_free(port, 10.0)
        return True

    def _terminate(self, pid: int, timeout: float) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_exists(pid):
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        while pid_exists(pid):
            time.sleep(0.1)


def new_cluster_id() -> str:
    """A random KRaft cluster id (a base64 UUID, as `kafka-storage random-uuid` prints)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _argfile_quoted(arg: str) -> str:
    """One argument as a line of a Java argument file."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def answers_metadata(bootstrap, timeout: float = 2.0) -> bool:
    """True when a broker at ``bootstrap`` (a KafkaAccess or ``host:port``) answers a
    metadata request."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from hub.security.client import as_access

    kafka = as_access(bootstrap)
    bootstrap = kafka.bootstrap
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError:
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            **kafka.security.kafka_python(),
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
