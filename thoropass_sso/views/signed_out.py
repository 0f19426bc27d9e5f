"""``/saml2/signed-out/``: "You are signed out", where logout lands when the site names no page."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import View

from ..conf import get_settings


@method_decorator(never_cache, name="dispatch")
class SignedOutView(View):
    http_method_names = ["get", "head"]

    def get(self, request, *args, **kwargs):
        return render(request, "thoropass_sso/signed_out.html", {
            "still_signed_in": request.user.is_authenticated,
            "login_url": get_settings().login_url,
            "home": settings.LOGIN_REDIRECT_URL if str(settings.LOGIN_REDIRECT_URL).startswith("/")
            else "/",
        })
