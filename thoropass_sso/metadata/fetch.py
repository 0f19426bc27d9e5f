"""Fetching federation metadata over HTTP(S), with timeouts and a size limit.

Only the management command calls this: the sign-in path never touches the
network.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ..exceptions import MetadataFetchError

_USER_AGENT = "thoropass-sso metadata refresh"


def fetch_metadata(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """Return the body at ``url``; raise MetadataFetchError on any failure."""
    scheme = urlsplit(url).scheme
    if scheme not in ("https", "http", "file"):
        raise MetadataFetchError(f"unsupported URL scheme {scheme!r}")
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT,
                                                   "Accept": "application/xml, text/xml"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = getattr(response, "status", 200) or 200
            if status != 200:
                raise MetadataFetchError(f"HTTP {status}")
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise MetadataFetchError(f"HTTP {exc.code} from {_host(url)}") from None
    except urllib.error.URLError as exc:
        raise MetadataFetchError(f"could not reach {_host(url)}: {exc.reason}") from None
    except TimeoutError:
        raise MetadataFetchError(f"{_host(url)} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise MetadataFetchError(f"could not read from {_host(url)}: {exc}") from None
    if len(body) > max_bytes:
        raise MetadataFetchError(
            f"the document is larger than THOROPASS_SSO['METADATA_MAX_BYTES'] ({max_bytes} bytes)"
        )
    return body


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or parts.path
