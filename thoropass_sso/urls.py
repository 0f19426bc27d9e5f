"""Include with ``path("saml2/", include("thoropass_sso.urls"))``."""

from django.urls import path

from . import views

app_name = "thoropass_sso"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("acs/", views.AssertionConsumerServiceView.as_view(), name="acs"),
    path("metadata/", views.MetadataView.as_view(), name="metadata"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signed-out/", views.SignedOutView.as_view(), name="signed_out"),
]
