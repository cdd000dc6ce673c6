"""HTTPS for the fake: a throw-away certificate authority and server certificate, and the server's TLS context.

:func:`make_certificates` needs the ``cryptography`` package (LiteLLM's proxy installs it, ``pip install .`` does not:
``--tls`` then stops with :data:`MISSING_CRYPTOGRAPHY`); it is imported when the
function runs, so the fake itself stays standard library only.  The certificates are made for ``127.0.0.1`` and
``localhost``, valid for a day: clients trust the CA file (``ssl_verify=<ca>``, ``verify=<ca>``), nothing else.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    """The CA certificate: what clients pass as ``ssl_verify``."""
    cert: Path
    """The server's certificate (for 127.0.0.1 and localhost), signed by the CA."""
    key: Path
    """The server certificate's private key."""


#: why ``--tls`` cannot start without ``cryptography`` (``pip install .`` does not install it)
MISSING_CRYPTOGRAPHY = (
    "--tls needs the cryptography package, which `pip install .` does not install: `pip install cryptography` "
    "(the proxy extra, `pip install '.[proxy]'`, installs it with LiteLLM's proxy)"
)


def can_make_certificates() -> bool:
    """True when ``cryptography`` can be imported (what :func:`make_certificates` needs)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def make_certificates(directory: Path, names: tuple[str, ...] = ()) -> Certificates:
    """A new CA and a server certificate for 127.0.0.1 / localhost (and the host ``names``) in ``directory``
    (``ca.pem``, ``server.pem``, ``server.key``); raises ImportError without ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake CodeBuddy throw-away CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    *(x509.DNSName(name) for name in ("localhost", *names)),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.touch(mode=0o600)
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def server_context(certfile: str | Path, keyfile: str | Path | None = None) -> ssl.SSLContext:
    """The server side's TLS context for a certificate (chain) file and its key (None: in ``certfile``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context
