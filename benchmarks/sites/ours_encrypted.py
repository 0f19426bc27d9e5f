"""thoropass_sso with Entra's token encryption on (``python -m benchmarks encryption``)."""

from .common import BENCH_DIR
from .ours import *  # noqa: F403
from .ours import THOROPASS_SSO

THOROPASS_SSO = {**THOROPASS_SSO, "ENCRYPTION_KEYS": [str(BENCH_DIR / "sp-encryption.pem")],
                 "REQUIRE_ENCRYPTION": True}
