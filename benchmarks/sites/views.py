"""Reference views: what a POST costs through the same middleware, and what Django's login costs.

``noop``: reads the form and redirects; no session, no database.
``login_floor``: what any sign-in through Django must do at least, whatever
the protocol: look one user up by key and call ``django.contrib.auth.login``
(new session row, ``last_login`` update, session save). No SAML.
"""

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt

FLOOR_USERNAME = "login-floor"


@csrf_exempt  # like both ACS views (a cross-site POST from the IdP)
def noop(request):
    request.POST.get("SAMLResponse")  # read the body, as an ACS does
    return HttpResponseRedirect("/home/")


@csrf_exempt
def login_floor(request):
    request.POST.get("SAMLResponse")
    user, _ = get_user_model().objects.get_or_create(username=FLOOR_USERNAME)
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect("/home/")


def home(request):
    return HttpResponse("ok")
