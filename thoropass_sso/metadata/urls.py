"""Which metadata URLs a connection may be fetched from.

A connection added as data (the admin, ``entra_connection add``) gets its URL
from whoever onboards the customer -- often pasted from an email. It must be
Entra's own App Federation Metadata URL: https, on one of Entra's hosts
(:data:`thoropass_sso.entra.METADATA_HOSTS`), so that nobody can point a
customer's connection at a document they control. A site can allow more
hosts (``METADATA_ALLOWED_HOSTS``, a proxy, a loopback test server) and http
(``METADATA_ALLOW_HTTP``). The settings-defined connection's URL is the site's
own code and is taken as written (http and file URLs for local testing).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .. import entra
from ..conf import SETTING_NAME, SSOSettings
from ..exceptions import MetadataURLRefused

# What a copied-but-unfilled example looks like.
_PLACEHOLDER = re.compile(r"[<>{}]|your[-_]?(tenant|app)|tenant[-_]id|app[-_]id|xxxxxxxx", re.I)


def looks_like_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.search(value))


def check_metadata_url(url: str, conf: SSOSettings) -> str:
    """``url``, stripped, if a connection may be fetched from it; else MetadataURLRefused."""
    url = url.strip()
    from .sources import local_source_for

    if url and local_source_for(url) is not None:
        return url  # served by this site itself (the local stand-in), never fetched
    if not url:
        raise MetadataURLRefused("a metadata URL is required (Entra admin center > Enterprise "
                                 "applications > the app > Single sign-on > App Federation "
                                 "Metadata Url)")
    if looks_like_placeholder(url):
        raise MetadataURLRefused(f"{url!r} still contains a placeholder: paste the App Federation "
                                 "Metadata Url itself")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed_hosts = entra.METADATA_HOSTS | {h.lower() for h in conf.METADATA_ALLOWED_HOSTS}
    if parts.scheme not in ("https", "http") or not host:
        raise MetadataURLRefused(f"{url!r} is not an https:// URL")
    if parts.scheme == "http" and not conf.METADATA_ALLOW_HTTP:
        raise MetadataURLRefused(f"{url!r} is http://: metadata must come over https "
                                 f"(a test site can set {SETTING_NAME}['METADATA_ALLOW_HTTP'])")
    if host not in allowed_hosts:
        raise MetadataURLRefused(
            f"{host} is not one of Entra's metadata hosts ({', '.join(sorted(entra.METADATA_HOSTS))}); "
            f"to fetch from it anyway, add it to {SETTING_NAME}['METADATA_ALLOWED_HOSTS']")
    return url
