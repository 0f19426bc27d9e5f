"""The signals are really sent, with a typed EntraClaims (never a raw dict)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from thoropass_sso.claims import EntraClaims
from thoropass_sso.exceptions import SignInRejected
from thoropass_sso.reasons import Reason
from thoropass_sso.signals import sign_in_rejected, user_created, user_signed_in
from thoropass_sso.testing import EntraUser
from thoropass_sso.testing.flows import sign_in

pytestmark = pytest.mark.django_db


class Recorder:
    def __init__(self, signal):
        self.calls: list[dict] = []
        self.signal = signal

    def __call__(self, sender, **kwargs):
        self.calls.append({"sender": sender, **kwargs})

    def __enter__(self):
        self.signal.connect(self, weak=False)
        return self

    def __exit__(self, *exc):
        self.signal.disconnect(self)


def test_first_sign_in_sends_user_created_then_user_signed_in(client, entra, ada, stored_metadata):
    order: list[str] = []
    with Recorder(user_created) as created, Recorder(user_signed_in) as signed_in:
        user_created.connect(lambda **kw: order.append("created"), weak=False,
                             dispatch_uid="order-created")
        user_signed_in.connect(lambda **kw: order.append("signed_in"), weak=False,
                               dispatch_uid="order-signed-in")
        try:
            sign_in(client, entra, ada)
        finally:
            user_created.disconnect(dispatch_uid="order-created")
            user_signed_in.disconnect(dispatch_uid="order-signed-in")

    assert order == ["created", "signed_in"]
    user = get_user_model().objects.get()
    (call,) = created.calls
    assert set(call) == {"sender", "signal", "request", "user", "claims", "connection", "sign_in"}
    assert call["user"].pk == user.pk
    assert isinstance(call["claims"], EntraClaims)
    assert (call["claims"].tenant_id, call["claims"].object_id) == (entra.tenant_id, ada.object_id)
    assert call["request"].path == "/saml2/acs/"
    (call,) = signed_in.calls
    assert set(call) == {"sender", "signal", "request", "user", "claims", "created", "connection",
                         "sign_in"}
    assert call["connection"].name == "default" and call["sign_in"].user.pk == user.pk
    assert call["created"] is True
    assert isinstance(call["claims"], EntraClaims)
    assert call["claims"].session_index  # what single logout needs
    assert call["request"].user.pk == user.pk  # sent after django.contrib.auth.login


def test_returning_user_sends_only_user_signed_in(client, entra, ada, stored_metadata):
    sign_in(client, entra, ada)
    client.logout()
    with Recorder(user_created) as created, Recorder(user_signed_in) as signed_in:
        sign_in(client, entra, ada)
    assert created.calls == []
    (call,) = signed_in.calls
    assert call["created"] is False
    assert call["claims"].upn == ada.upn


def test_policy_refusal_sends_sign_in_rejected_with_the_claims(client, entra, stored_metadata,
                                                               settings):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "ALLOWED_ROLES": ["Site.Access"]}
    outsider = EntraUser(upn="o@contoso.example", roles=["Other"])
    with Recorder(sign_in_rejected) as rejected, Recorder(user_created) as created:
        response = sign_in(client, entra, outsider)

    assert created.calls == []
    (call,) = rejected.calls
    assert set(call) == {"sender", "signal", "request", "reason", "reference", "claims",
                         "connection"}
    assert call["connection"].name == "default"
    assert call["sender"] is SignInRejected
    assert call["reason"] is Reason.ACCESS_RULE
    assert call["reference"] in response.content.decode()
    assert isinstance(call["claims"], EntraClaims)
    assert call["claims"].object_id == outsider.object_id


def test_an_unverifiable_response_sends_sign_in_rejected_without_claims(
        client, entra, ada, stored_metadata):
    with Recorder(sign_in_rejected) as rejected:
        response = sign_in(client, entra, ada, sign_assertion=False)
    assert response.status_code == 403
    (call,) = rejected.calls
    assert call["reason"] is Reason.UNSIGNED
    assert call["claims"] is None
