"""``{% load thoropass_sso %}{% entra_sign_in_button %}``: a "Sign in with Microsoft" button.

In Microsoft's own style (the four-square logo, #5e5e5e on white, a #8c8c8c border), linking
to the Sign-on URL. ``next`` defaults to the current page; ``connection`` or ``email`` skip
the email page; ``label`` replaces the text.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

register = template.Library()


@register.inclusion_tag("thoropass_sso/sign_in_button.html", takes_context=True)
def entra_sign_in_button(context, next: str | None = None, connection: str = "",  # noqa: A002
                         email: str = "", label: str = "") -> dict:
    request = context.get("request")
    if next is None:
        next = request.get_full_path() if request is not None else ""
    params = {k: v for k, v in (("next", next), ("connection", connection), ("email", email)) if v}
    url = reverse("thoropass_sso:login") + (f"?{urlencode(params)}" if params else "")
    return {"url": url, "label": label or _("Sign in with Microsoft")}
