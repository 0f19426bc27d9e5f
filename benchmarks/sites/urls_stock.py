from django.urls import include, path

from .views import home, login_floor, noop

urlpatterns = [
    path("saml2/", include("djangosaml2.urls")),
    path("noop/", noop),
    path("login-floor/", login_floor),
    path("home/", home),
]
