"""HTTP pages for the Entra stand-in, so a browser can sign in without a tenant.

Mount with ``path("entra-standin/", include(standin_urlpatterns(get_standin, users)))``.
Never mount this in production: it signs in anyone who clicks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from ..conf import get_settings
from .entra import EntraStandIn, EntraUser

StandInFactory = Callable[[], EntraStandIn]


def _post_form(request: HttpRequest, standin: EntraStandIn, user: EntraUser, *,
               in_response_to: str | None, relay_state: str) -> HttpResponse:
    conf = get_settings()
    xml = standin.response_xml(user, acs_url=conf.acs_url, audience=conf.sp_entity_id,
                               in_response_to=in_response_to)
    return render(request, "thoropass_sso_standin/post.html", {
        "acs_url": conf.acs_url,
        "saml_response": standin.post_binding_value(xml),
        "relay_state": relay_state,
        "user": user,
    })


def standin_urlpatterns(get_standin: StandInFactory, users: Sequence[EntraUser]) -> list[URLPattern]:
    """URL patterns for the stand-in's SSO page, My Apps page and metadata."""

    def _user(request: HttpRequest) -> EntraUser | None:
        try:
            return users[int(request.POST.get("user", ""))]
        except (ValueError, IndexError):
            return None

    @csrf_exempt
    def sso(request: HttpRequest, tenant_id: str) -> HttpResponse:
        standin = get_standin()
        if tenant_id != standin.tenant_id:
            raise Http404("unknown tenant")
        source = request.GET if request.method == "GET" else request.POST
        saml_request = source.get("SAMLRequest", "")
        relay_state = source.get("RelayState", "")
        if not saml_request:
            return HttpResponseBadRequest("AADSTS750054: SAMLRequest is missing")
        try:
            message = standin.read_logout_message(f"?SAMLRequest={_quote(saml_request)}")
        except Exception:  # noqa: BLE001 - judged below as an AuthnRequest
            message = None
        if message is not None and message.kind == "LogoutRequest":
            # Single logout: Entra ends its session and answers with a signed LogoutResponse.
            return HttpResponseRedirect(standin.logout_response_url(
                get_settings().logout_url, in_response_to=message.id,
                relay_state=relay_state or None))
        try:
            authn = standin.read_authn_request(f"?SAMLRequest={_quote(saml_request)}")
        except Exception:  # noqa: BLE001 - any undecodable request is the SP's error
            return HttpResponseBadRequest("AADSTS7500529: the SAML request is not valid")
        if request.method == "POST" and (user := _user(request)) is not None:
            return _post_form(request, standin, user, in_response_to=authn.id, relay_state=relay_state)
        return render(request, "thoropass_sso_standin/sign_in.html", {
            "standin": standin, "users": list(enumerate(users)), "saml_request": saml_request,
            "relay_state": relay_state, "issuer": authn.issuer,
            "login_hint": request.GET.get("login_hint", ""),
        })

    @csrf_exempt
    def my_apps(request: HttpRequest) -> HttpResponse:
        standin = get_standin()
        if request.method == "POST" and (user := _user(request)) is not None:
            return _post_form(request, standin, user, in_response_to=None,
                              relay_state=request.POST.get("relay_state", ""))
        return render(request, "thoropass_sso_standin/my_apps.html",
                      {"standin": standin, "users": list(enumerate(users))})

    def metadata(request: HttpRequest, tenant_id: str) -> HttpResponse:
        standin = get_standin()
        if tenant_id != standin.tenant_id:
            raise Http404("unknown tenant")
        return HttpResponse(standin.metadata_xml(), content_type="application/xml")

    return [
        path("<str:tenant_id>/saml2", sso, name="standin-sso"),
        path("<str:tenant_id>/federationmetadata/2007-06/federationmetadata.xml", metadata,
             name="standin-metadata"),
        path("myapps/", my_apps, name="standin-myapps"),
    ]


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
