from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.http import HttpResponse
from django.urls import include, path

from thoropass_sso.sso_required import SSORequiredAuthenticationForm


def home(request):
    return HttpResponse(f"home of {request.user.get_username() or 'anonymous'}")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("saml2/", include("thoropass_sso.urls")),
    path("home/", home),
    path("deep/link/", home),
    # A site's own password login, told about SSO-required domains (thoropass_sso.sso_required).
    path("accounts/login/", LoginView.as_view(authentication_form=SSORequiredAuthenticationForm,
                                              template_name="tests/login.html")),
]
