"""The stand-in's pages: Entra's sign-in page, My Apps, single logout and metadata.

They answer 404 wherever the stand-in may not run (standin/conf.py).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import quote

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt

from ..conf import get_settings
from ..testing.entra import EntraStandIn, EntraUser
from .models import StandInTenant
from .tenants import ensure_tenants, entra_users, metadata_document, standin_for


def only_where_allowed(view):
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not get_settings().standin_connection:
            # Off: a tenant is configured, or DEBUG is off on a public site (standin/conf.py).
            raise Http404("the Entra stand-in is not this site's connection")
        return view(request, *args, **kwargs)

    return guarded


def _post_form(request: HttpRequest, standin: EntraStandIn, user: EntraUser, *,
               in_response_to: str | None, relay_state: str) -> HttpResponse:
    conf = get_settings()
    # As Entra does once the customer uploaded the site's encryption certificate.
    keys = conf.encryption_keys
    xml = standin.response_xml(user, acs_url=conf.acs_url, audience=conf.sp_entity_id,
                               in_response_to=in_response_to,
                               encrypt_for=keys[0].cert_pem if keys else None)
    return render(request, "thoropass_sso_standin/post.html", {
        "acs_url": conf.acs_url,
        "saml_response": standin.post_binding_value(xml),
        "relay_state": relay_state,
        "user": user,
    })


def _picked(request: HttpRequest, users: list[EntraUser]) -> EntraUser | None:
    try:
        return users[int(request.POST.get("user", ""))]
    except (ValueError, IndexError):
        return None


@csrf_exempt  # Entra's endpoints take cross-site posts; so does the stand-in's
@only_where_allowed
def sso(request: HttpRequest, tenant_id: str) -> HttpResponse:
    tenant = get_object_or_404(StandInTenant, tenant_id=tenant_id.lower())
    standin, users = standin_for(tenant), entra_users(tenant)
    source = request.GET if request.method == "GET" else request.POST
    saml_request = source.get("SAMLRequest", "")
    relay_state = source.get("RelayState", "")
    if not saml_request:
        return HttpResponseBadRequest("AADSTS750054: SAMLRequest is missing")
    try:
        message = standin.read_logout_message(f"?SAMLRequest={quote(saml_request, safe='')}")
    except Exception:  # noqa: BLE001 - judged below as an AuthnRequest
        message = None
    if message is not None and message.kind == "LogoutRequest":
        # Single logout: Entra ends its session and answers with a signed LogoutResponse.
        return HttpResponseRedirect(standin.logout_response_url(
            get_settings().logout_url, in_response_to=message.id, relay_state=relay_state or None))
    if request.method == "GET" and "Signature" in request.GET:
        # "Require verification certificates": check it as Entra would.
        signing = get_settings().signing_key
        raw = "?" + request.META.get("QUERY_STRING", "")  # the octets as signed, undecoded
        if signing is None or not standin.request_signature_valid(raw, signing.cert_pem):
            return HttpResponseBadRequest("AADSTS75005: the request's signature is not valid")
    try:
        authn = standin.read_authn_request(f"?SAMLRequest={quote(saml_request, safe='')}")
    except Exception:  # noqa: BLE001 - any undecodable request is the SP's error
        return HttpResponseBadRequest("AADSTS7500529: the SAML request is not valid")
    if request.method == "POST" and (user := _picked(request, users)) is not None:
        return _post_form(request, standin, user, in_response_to=authn.id, relay_state=relay_state)
    login_hint = request.GET.get("login_hint", "").lower()
    return render(request, "thoropass_sso_standin/sign_in.html", {
        "tenant": tenant, "users": list(enumerate(users)), "saml_request": saml_request,
        "relay_state": relay_state, "issuer": authn.issuer, "login_hint": login_hint,
    })


@csrf_exempt
@only_where_allowed
def my_apps(request: HttpRequest) -> HttpResponse:
    tenants = ensure_tenants()
    if request.method == "POST":
        # "tenant" names one (default: the first); "user" is the index of its user.
        name = request.POST.get("tenant") or tenants[0].name
        tenant = next((t for t in tenants if t.name == name), None)
        users = entra_users(tenant) if tenant else []
        if tenant is not None and (user := _picked(request, users)) is not None:
            return _post_form(request, standin_for(tenant), user, in_response_to=None,
                              relay_state=request.POST.get("relay_state", ""))
    return render(request, "thoropass_sso_standin/my_apps.html", {
        "tenants": [(t, list(enumerate(entra_users(t)))) for t in tenants]})


@only_where_allowed
def metadata(request: HttpRequest, name: str) -> HttpResponse:
    ensure_tenants()
    tenant = get_object_or_404(StandInTenant, name=name)
    return HttpResponse(metadata_document(tenant), content_type="application/samlmetadata+xml")
