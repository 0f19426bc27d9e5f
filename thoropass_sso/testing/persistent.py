"""A stand-in whose signing key survives restarts (for demos and local development).

Workers and the management command must sign with, and trust, the same key,
so it lives in a state directory; the first process to need it creates it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .certificates import SigningKeyPair, make_signing_key_pair
from .entra import EntraStandIn

_KEY_STEM = "standin-signing"


def _load_or_create_key(state_dir: Path) -> SigningKeyPair:
    key_path, cert_path = state_dir / f"{_KEY_STEM}.key", state_dir / f"{_KEY_STEM}.crt"
    if not key_path.exists() or not cert_path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        pair = make_signing_key_pair()
        # Write both files in a temporary directory, then move the certificate
        # last: a concurrent reader sees either nothing or a complete pair.
        with tempfile.TemporaryDirectory(dir=state_dir) as scratch:
            scratch_path = Path(scratch)
            pair.write(scratch_path, _KEY_STEM)
            if not cert_path.exists():
                os.replace(scratch_path / f"{_KEY_STEM}.key", key_path)
                os.replace(scratch_path / f"{_KEY_STEM}.crt", cert_path)
    return SigningKeyPair.read(state_dir, _KEY_STEM)


def persistent_standin(state_dir: Path, *, tenant_id: str, app_id: str, base_url: str) -> EntraStandIn:
    """A stand-in for ``tenant_id`` whose key is kept in ``state_dir``."""
    state_dir = Path(state_dir)
    return EntraStandIn(
        state_dir / "work",
        tenant_id=tenant_id,
        app_id=app_id,
        base_url=base_url,
        signing_keys=[_load_or_create_key(state_dir)],
    )
