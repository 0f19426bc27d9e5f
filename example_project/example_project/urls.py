from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("whoami/", views.whoami, name="whoami"),
    path("private/", views.private, name="private"),
    path("saml2/", include("thoropass_sso.urls")),
    path("admin/", admin.site.urls),
    # The local Entra stand-in (404 whenever a real tenant is configured).
    path("entra-standin/", include("thoropass_sso.standin.urls")),
]
