"""thoropass_sso with many customer connections (``python -m benchmarks.connections``).

The same site as ``ours``; the run fills its database with thousands of connections.
"""

from .ours import *  # noqa: F403
