"""This site's own key pairs: for decrypting Entra's encrypted tokens and signing requests.

Each is one PEM file holding a private key and its self-signed certificate,
created by ``manage.py entra_sp_key create PATH`` (mode 0600) and named in the
settings (``ENCRYPTION_KEYS``, ``SIGNING_KEY``). Private keys live in files the
operator controls -- never in the database, never in a log line -- and are read
once per process, not per sign-in.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DEFAULT_VALID_DAYS = 3 * 365


@dataclass(frozen=True)
class SPKeyPair:
    path: str
    key_pem: bytes
    cert_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def cert_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def cert_b64(self) -> str:
        """The certificate as metadata carries it (base64 DER, one line)."""
        return base64.b64encode(self.cert_der).decode("ascii")

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc


def new_key_pem(common_name: str, *, valid_days: int = DEFAULT_VALID_DAYS) -> bytes:
    """A PEM document: a new RSA-2048 private key and its self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + cert.public_bytes(serialization.Encoding.PEM))


def create_key_file(path: Path, common_name: str, *, valid_days: int = DEFAULT_VALID_DAYS) -> bool:
    """Write a new key file at ``path`` (0600) unless one is there; True if this call made it.

    Safe when several processes race (gunicorn workers importing settings): the file
    appears whole or not at all, and the first one to finish wins.
    """
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, new_key_pem(common_name, valid_days=valid_days))
        os.close(handle)
        try:
            os.link(scratch, path)  # fails if another process got there first
        except FileExistsError:
            return False
        return True
    finally:
        Path(scratch).unlink(missing_ok=True)


@cache
def load_key_file(path: str, setting: str) -> SPKeyPair:
    """Read one key file; ConfigurationError naming the setting when it is unusable."""
    # Imported here: create_key_file() runs from settings modules, before apps are loaded.
    from .exceptions import ConfigurationError

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"THOROPASS_SSO['{setting}'] names {path}, which cannot be read "
            f"({exc.strerror or exc}).",
            hint="Create one with 'python manage.py entra_sp_key create PATH'.") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigurationError(
            f"THOROPASS_SSO['{setting}'] names {path}, which must hold an unencrypted PEM private "
            "key and its certificate.",
            hint="Create one with 'python manage.py entra_sp_key create PATH'.") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ConfigurationError(f"THOROPASS_SSO['{setting}'] ({path}) must be an RSA key of at "
                                 "least 2048 bits (what Entra accepts).")
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        raise ConfigurationError(f"THOROPASS_SSO['{setting}'] ({path}): the certificate is not "
                                 "the private key's.")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SPKeyPair(path=path, key_pem=key_pem,
                     cert_pem=cert.public_bytes(serialization.Encoding.PEM))
