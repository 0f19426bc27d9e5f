"""Self-signed signing certificates like Entra's, generated in code (no keys ship)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ENTRA_CERT_SUBJECT = "Microsoft Azure Federated SSO Certificate"


@dataclass(frozen=True)
class SigningKeyPair:
    key_pem: bytes
    cert_pem: bytes

    @property
    def cert_b64(self) -> str:
        """The certificate as it appears in metadata and KeyInfo (base64 DER, one line)."""
        return "".join(
            line for line in self.cert_pem.decode().splitlines() if "-----" not in line
        )

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.crt"
        key_path.write_bytes(self.key_pem)
        key_path.chmod(0o600)
        cert_path.write_bytes(self.cert_pem)
        return key_path, cert_path

    @classmethod
    def read(cls, directory: Path, stem: str) -> SigningKeyPair:
        return cls((directory / f"{stem}.key").read_bytes(), (directory / f"{stem}.crt").read_bytes())


def make_signing_key_pair(
    *, valid_days: int = 3 * 365, not_before: datetime | None = None, key_size: int = 2048
) -> SigningKeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ENTRA_CERT_SUBJECT)])
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )
    return SigningKeyPair(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
    )
