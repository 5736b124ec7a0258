"""The certificates of the HTTPS listener: a CA of this installation and a server certificate it signs.

kubectl sends its bearer token only over HTTPS and checks the server against the kubeconfig's
`certificate-authority-data`, so a kubeconfig for an `https://` server carries this CA. Both are made on
first use, under `<VAR_DIR>/tls/` (KUBEDOJO_VAR_DIR), valid for ten years, for localhost, 127.0.0.1, ::1,
this host's name and whatever KUBEDOJO_TLS_HOSTS lists (comma-separated names or addresses); delete the
directory to make new ones.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

VALID_DAYS = 3650


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path

    def ca_data(self) -> str:
        """The CA as a kubeconfig's `certificate-authority-data` holds it."""
        return base64.b64encode(self.ca.read_bytes()).decode()


def directory() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "tls"


def hosts() -> list[str]:
    extra = [h.strip() for h in os.environ.get("KUBEDOJO_TLS_HOSTS", "").split(",") if h.strip()]
    return list(dict.fromkeys(["localhost", "127.0.0.1", "::1", socket.gethostname(), *extra]))


def ensure(where: Path | None = None) -> Certificates:
    """The CA and server certificate, made now if missing."""
    where = where or directory()
    found = Certificates(where / "ca.crt", where / "server.crt", where / "server.key")
    if found.ca.exists() and found.cert.exists() and found.key.exists():
        return found
    # Made aside and moved into place at once, so two processes starting together agree on one CA.
    where.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tls-", dir=where.parent))
    _generate(Certificates(scratch / "ca.crt", scratch / "server.crt", scratch / "server.key"))
    try:
        if where.exists() and not any(where.iterdir()):
            where.rmdir()
        os.rename(scratch, where)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)  # another process got there first
    return found


def _generate(out: Certificates) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubedojo-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts():
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(until)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    out.key.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    out.key.chmod(0o600)
    out.cert.write_bytes(cert.public_bytes(pem))
    out.ca.write_bytes(ca.public_bytes(pem))


def endpoint(port: int, host: str, certs: Certificates) -> str:
    """A Twisted endpoint description for daphne: TLS on `host:port` with these certificates."""

    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return (f"ssl:port={port}:interface={quoted(host)}:privateKey={quoted(str(certs.key))}:"
            f"certKey={quoted(str(certs.cert))}")
