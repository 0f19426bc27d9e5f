from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from thoropass_sso.models import EntraIdentity
from thoropass_sso.slo import SESSION_KEY as SLO_SESSION_KEY


def _identity(user) -> EntraIdentity | None:
    return (EntraIdentity.objects.filter(user=user).select_related("connection")
            .order_by("-last_sign_in").first())


def home(request: HttpRequest) -> HttpResponse:
    identity = _identity(request.user) if request.user.is_authenticated else None
    claims = sorted(request.session.get("demo_claims", {}).items())
    return render(request, "demo/home.html", {
        "identity": identity,
        "claims": claims,
        "standin": settings.STANDIN_ENABLED,
    })


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/private.html")


def whoami(request: HttpRequest) -> JsonResponse:
    """The black-box contract other test suites read over HTTP; keep its shape."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"authenticated": False}, status=401)
    identity = _identity(user)
    return JsonResponse({
        "authenticated": True,
        "user_id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "upn": identity.upn if identity else "",
        "tenant_id": identity.tenant_id if identity else "",
        "object_id": identity.object_id if identity else "",
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        # The connection this session signed in through (a user could have several).
        "connection": (request.session.get(SLO_SESSION_KEY) or {}).get("connection")
        or (identity.connection.name if identity else ""),
    })
