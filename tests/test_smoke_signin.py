import pytest
from django.contrib.auth import get_user_model

from thoropass_sso.testing.flows import sign_in

pytestmark = pytest.mark.django_db


def test_sp_initiated_sign_in_creates_user(client, entra, ada, stored_metadata):
    response = sign_in(client, entra, ada, next_path="/deep/link/")
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"] == "/deep/link/"
    user = get_user_model().objects.get()
    assert user.email == "ada.lovelace@contoso.example"
