from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("whoami/", views.whoami, name="whoami"),
    path("private/", views.private, name="private"),
    path("saml2/", include("thoropass_sso.urls")),
    path("admin/", admin.site.urls),
]

if settings.STANDIN_ENABLED:
    from demo.standin import DEMO_USERS, get_demo_standin
    from thoropass_sso.testing.site import standin_urlpatterns

    urlpatterns.append(path("entra-standin/", include(standin_urlpatterns(get_demo_standin, DEMO_USERS))))
