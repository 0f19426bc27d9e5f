"""A site policy (THOROPASS_SSO['ADAPTER']) that can hold a sign-in still, for the fault tests.

When the directory named by THOROPASS_TEST_PAUSE_DIR holds a file ``armed``, the next
returning user's sign-in stops inside its transaction -- its used ids inserted, its user
row locked, nothing committed -- writes ``paused`` and waits for ``go``. The test stops
the database in between (tests/test_faults.py). Everything else is the default policy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from thoropass_sso.adapter import EntraAdapter


class PausingAdapter(EntraAdapter):
    def populate_user(self, request, user, sign_in) -> bool:
        directory = os.environ.get("THOROPASS_TEST_PAUSE_DIR")
        armed = Path(directory) / "armed" if directory else None
        if armed is not None and armed.exists():
            armed.unlink()
            (armed.parent / "paused").touch()
            deadline = time.monotonic() + 60
            while not (armed.parent / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        return super().populate_user(request, user, sign_in)
