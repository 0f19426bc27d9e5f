"""Fetching federation metadata over HTTP(S), with timeouts and a size limit.

Only the management command calls this: the sign-in path never touches the
network.

Three time limits, because one socket timeout is not enough from cron:

- ``connect_timeout`` bounds the TCP (and TLS) handshake;
- ``read_timeout`` bounds each wait for bytes, so a server that accepts the
  connection and then says nothing fails quickly;
- ``total_timeout`` bounds the whole exchange, so a server that drips one byte
  just inside the read timeout cannot hold the job (and its lock) forever.

Redirects are not followed: the App Federation Metadata URL answers directly,
and a redirect to somewhere else is exactly what an operator should see.
"""

from __future__ import annotations

import http.client
import ssl
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..exceptions import MetadataFetchError

_USER_AGENT = "thoropass-sso metadata refresh"
_CHUNK = 16 * 1024


def fetch_metadata(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> bytes:
    """Return the body at ``url``; raise MetadataFetchError on any failure.

    ``timeout`` is the total budget; the connect and read timeouts default to it.
    """
    from .sources import local_source_for

    local = local_source_for(url)
    if local is not None:
        return local.document(url)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return _read_file(Path(unquote(parts.path)), max_bytes)
    if parts.scheme not in ("https", "http"):
        raise MetadataFetchError(f"unsupported URL scheme {parts.scheme!r}")
    host = parts.hostname or ""
    if not host:
        raise MetadataFetchError(f"no host in {url!r}")
    connect_timeout = min(connect_timeout or timeout, timeout)
    read_timeout = min(read_timeout or timeout, timeout)
    deadline = time.monotonic() + timeout
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"

    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=connect_timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=connect_timeout)
    try:
        try:
            connection.connect()
        except TimeoutError:
            raise MetadataFetchError(
                f"could not connect to {parts.netloc} within {connect_timeout:g} s"
            ) from None
        except ssl.SSLError as exc:
            raise MetadataFetchError(f"TLS failed with {parts.netloc}: {exc.reason or exc}") from None
        except OSError as exc:
            raise MetadataFetchError(
                f"could not connect to {parts.netloc}: {exc.strerror or exc}"
            ) from None
        # From here on every blocking call waits at most read_timeout (or what is left).
        _set_timeout(connection, read_timeout, deadline, parts.netloc, timeout)
        try:
            connection.request("GET", target, headers={
                "User-Agent": _USER_AGENT,
                "Accept": "application/samlmetadata+xml, application/xml, text/xml",
                "Accept-Encoding": "identity",
            })
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                # Not followed (see above), but named: that is what the operator needs to see.
                target = (response.getheader("Location") or "").strip()
                shown = "".join(c if c.isprintable() else "?" for c in target)[:300] or "nowhere"
                raise MetadataFetchError(f"HTTP {response.status} from {parts.netloc}, redirecting "
                                         f"to {shown} (redirects are not followed: use the URL "
                                         "Entra shows, or that target if you trust it)")
            if response.status != 200:
                raise MetadataFetchError(f"HTTP {response.status} from {parts.netloc}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(max_bytes)
            body = bytearray()
            while True:
                _set_timeout(connection, read_timeout, deadline, parts.netloc, timeout)
                chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise _total_timeout(parts.netloc, timeout) from None
            raise MetadataFetchError(
                f"{parts.netloc} did not send data within {read_timeout:g} s"
            ) from None
        except http.client.IncompleteRead as exc:
            raise MetadataFetchError(
                f"the connection to {parts.netloc} closed after {len(exc.partial)} bytes, "
                "before the document was complete"
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            raise MetadataFetchError(f"could not read from {parts.netloc}: {exc}") from None
        if declared and declared.isdigit() and len(body) < int(declared):
            raise MetadataFetchError(
                f"the connection to {parts.netloc} closed after {len(body)} of {declared} bytes"
            )
        return bytes(body)
    finally:
        connection.close()


def _set_timeout(connection: http.client.HTTPConnection, read_timeout: float, deadline: float,
                 netloc: str, total: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _total_timeout(netloc, total)
    if connection.sock is not None:
        connection.sock.settimeout(min(read_timeout, remaining))


def _total_timeout(netloc: str, total: float) -> MetadataFetchError:
    return MetadataFetchError(f"{netloc} did not deliver the document within {total:g} s")


def _too_large(max_bytes: int) -> MetadataFetchError:
    return MetadataFetchError(
        f"the document is larger than THOROPASS_SSO['METADATA_MAX_BYTES'] ({max_bytes} bytes)"
    )


def _read_file(path: Path, max_bytes: int) -> bytes:
    """file:// URLs are for local testing and air-gapped sites that copy the file in."""
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except OSError as exc:
        raise MetadataFetchError(f"could not read {path}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise _too_large(max_bytes)
    return body
