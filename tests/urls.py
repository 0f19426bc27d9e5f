from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def home(request):
    return HttpResponse(f"home of {request.user.get_username() or 'anonymous'}")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("saml2/", include("thoropass_sso.urls")),
    path("home/", home),
    path("deep/link/", home),
]
