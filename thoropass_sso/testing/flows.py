"""Signing in through the real SAML path with Django's test client.

These drive the same HTTP endpoints a browser does: the site's login view
issues an AuthnRequest, the stand-in answers it with a signed response, and
the response is posted to the site's ACS, where it is really verified.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.test import Client

from .entra import AuthnRequestInfo, EntraStandIn, EntraUser

LOGIN_PATH = "/saml2/login/"
ACS_PATH = "/saml2/acs/"


def start_login(client: Client, next_path: str | None = None, standin: EntraStandIn | None = None,
                *, connection: str | None = None, email: str | None = None):
    """GET the login view; return the redirect response (and the AuthnRequest if a stand-in is given).

    ``connection`` names the connection (``?connection=``); ``email`` goes through the
    Sign-on URL's discovery (``?email=``); neither: the site's only active connection.
    """
    params = {"next": next_path, "connection": connection, "email": email}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    response = client.get(f"{LOGIN_PATH}{'?' if query else ''}{query}")
    if standin is None or response.status_code != 302:
        return response, None
    return response, standin.read_authn_request(response["Location"])


def post_response(client: Client, saml_response: str, relay_state: str | None = None):
    data = {"SAMLResponse": saml_response}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return client.post(ACS_PATH, data)


def sign_in(
    client: Client,
    standin: EntraStandIn,
    user: EntraUser,
    *,
    next_path: str | None = None,
    connection: str | None = None,
    email: str | None = None,
    **response_options: Any,
):
    """SP-initiated sign-in; returns the ACS response (a redirect on success)."""
    login, request = start_login(client, next_path, standin, connection=connection, email=email)
    assert login.status_code == 302, f"login view answered {login.status_code}"
    assert request is not None
    xml = response_for(standin, user, request, **response_options)
    return post_response(client, standin.post_binding_value(xml), request.relay_state)


def response_for(standin: EntraStandIn, user: EntraUser, request: AuthnRequestInfo,
                 **options: Any) -> bytes:
    options.setdefault("acs_url", request.acs_url)
    options.setdefault("audience", request.issuer)
    options.setdefault("in_response_to", request.id)
    return standin.response_xml(user, **options)


def idp_initiated(
    client: Client,
    standin: EntraStandIn,
    user: EntraUser,
    *,
    acs_url: str,
    audience: str,
    relay_state: str | None = None,
    **response_options: Any,
):
    """IdP-initiated sign-in (My Apps tile): an unsolicited response posted to the ACS."""
    xml = standin.response_xml(user, acs_url=acs_url, audience=audience, **response_options)
    return post_response(client, standin.post_binding_value(xml), relay_state)
