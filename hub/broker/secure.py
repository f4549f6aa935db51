"""The secured local broker (``hub broker start --secure``): TLS, SCRAM logins, ACLs.

Made on first use, in the git-ignored ``HUB_HOME``:

- ``kafka/tls/``: a CA of its own (``ca.crt``, public; ``ca.key``) and the broker's key and
  certificate for 127.0.0.1/localhost (``broker.pem``), signed by it;
- ``credentials/<user>.password`` (mode 0600): a random password for the hub (``hub``),
  the operator (``operator``), the analysts (``analyst``) and every agency of
  ``deploy/agencies.yaml`` that exchanges events, plus ``broker`` for the broker itself;
  ``credentials/<user>.env`` (no secret in it) holds the ``HUB_*`` settings that log in
  as that user.

The client listener speaks SASL_SSL with SCRAM-SHA-512. The KRaft controller listener
speaks TLS and requires the broker's own certificate from whoever connects: the broker
reaches its controller as ``User:CN=unna-hub-broker``, a super user, rather than as
``User:ANONYMOUS`` over plaintext (which would either fail under the authorizer or need
ANONYMOUS as a super user, open to anyone who reaches the port). The StandardAuthorizer
runs with ``allow.everyone.if.no.acl.found=false``: nobody but the super users (the
broker and the operator) may do anything an ACL does not allow (``hub acl apply``).

Passwords reach the broker without appearing in a process's arguments: the SCRAM
credentials are added at format time through a Java argument file (mode 0600, removed
right after), later ones through the Admin API; the broker's own login is in its
``server.properties`` (mode 0600).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from pathlib import Path

from hub.agencies import AgencyDirectory
from hub.security.client import ClientSecurity, KafkaAccess, read_password

MECHANISM = "SCRAM-SHA-512"
BROKER_USER, OPERATOR_USER, HUB_USER, ANALYST_USER = "broker", "operator", "hub", "analyst"
BROKER_CN = "unna-hub-broker"
SUPER_USERS = (f"User:{BROKER_USER}", f"User:{OPERATOR_USER}", f"User:CN={BROKER_CN}")


def users_of(agencies: AgencyDirectory) -> list[str]:
    """Every login of the secured broker: the broker, operator, hub, analyst, agencies."""
    return [BROKER_USER, OPERATOR_USER, HUB_USER, ANALYST_USER,
            *sorted(a.id for a in agencies.exchanging())]


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable by its owner only from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


class SecureSetup:
    """The TLS material and logins of the secured local broker under ``home``."""

    def __init__(self, home: Path, broker_dir: Path):
        self.home = Path(home)
        self.tls_dir = Path(broker_dir) / "tls"
        self.credentials_dir = self.home / "credentials"
        self.ca_cert = self.tls_dir / "ca.crt"
        self.ca_key = self.tls_dir / "ca.key"
        self.broker_pem = self.tls_dir / "broker.pem"

    # ----------------------------------------------------------------------- TLS
    def ensure_tls(self) -> bool:
        """Create the CA and the broker's certificate unless they exist; True if created."""
        if self.ca_cert.exists() and self.broker_pem.exists():
            return False
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.UTC)

        def name(cn: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        ca_name = name("Unna hub local CA")
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=5 * 365))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(
                  digital_signature=False, content_commitment=False, key_encipherment=False,
                  data_encipherment=False, key_agreement=False, key_cert_sign=True,
                  crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (x509.CertificateBuilder().subject_name(name(BROKER_CN)).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=2 * 365))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                               critical=True)
                # the broker shows it as a server, and as a client to its controller
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        pkcs8 = serialization.PrivateFormat.PKCS8
        plain = serialization.NoEncryption()
        _write_private(self.ca_key, ca_key.private_bytes(pem, pkcs8, plain))
        _write_private(self.broker_pem, key.private_bytes(pem, pkcs8, plain)
                       + cert.public_bytes(pem) + ca.public_bytes(pem))
        self.ca_cert.write_bytes(ca.public_bytes(pem))  # public: every client needs it
        os.chmod(self.ca_cert, 0o644)
        return True

    # ------------------------------------------------------------------- logins
    def password_file(self, user: str) -> Path:
        return self.credentials_dir / f"{user}.password"

    def ensure_password(self, user: str) -> bool:
        """A random password for ``user`` unless one exists; True if created."""
        path = self.password_file(user)
        if path.exists():
            return False
        _write_private(path, (secrets.token_urlsafe(24) + "\n").encode())
        return True

    def password(self, user: str) -> str:
        return read_password(self.password_file(user)).get_secret_value()

    def access(self, bootstrap: str, user: str) -> KafkaAccess:
        """How ``user`` connects to the secured broker at ``bootstrap``."""
        return KafkaAccess(bootstrap, ClientSecurity(
            "SASL_SSL", MECHANISM, user, read_password(self.password_file(user)),
            self.ca_cert))

    def write_env_file(self, user: str, bootstrap: str) -> Path:
        """``credentials/<user>.env``: the settings that log in as ``user`` (the password
        stays in its own file); ``set -a; . FILE; set +a`` in a shell uses them."""
        path = self.credentials_dir / f"{user}.env"
        lines = [f"HUB_BOOTSTRAP_SERVERS={bootstrap}", "HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
                 f"HUB_KAFKA_SASL_MECHANISM={MECHANISM}", f"HUB_KAFKA_USER={user}",
                 f"HUB_KAFKA_PASSWORD_FILE={self.password_file(user)}",
                 f"HUB_KAFKA_CA_FILE={self.ca_cert}"]
        _write_private(path, ("\n".join(lines) + "\n").encode())
        return path

    def scram_arguments(self, users: list[str]) -> list[str]:
        """``--add-scram`` arguments of Kafka's storage tool for ``users`` (secret: for an
        argument file, never for a command line)."""
        args = []
        for user in users:
            args += ["--add-scram", f"{MECHANISM}=[name={user},password={self.password(user)}]"]
        return args

    # ------------------------------------------------------------------- broker
    def server_properties(self, port: int, controller_port: int) -> dict[str, str]:
        broker_password = self.password(BROKER_USER)
        ssl_files = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(self.broker_pem),
                     "ssl.truststore.type": "PEM", "ssl.truststore.location": str(self.ca_cert)}
        props = {
            "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{BROKER_USER}" password="{broker_password}";',
            **ssl_files,
            "ssl.enabled.protocols": "TLSv1.3,TLSv1.2",
            # the controller listener takes the broker's own certificate only
            "listener.name.controller.ssl.client.auth": "required",
            **{f"listener.name.controller.{k}": v for k, v in ssl_files.items()},
            "authorizer.class.name":
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": ";".join(SUPER_USERS),
        }
        return props
