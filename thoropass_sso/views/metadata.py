"""``GET /saml2/metadata/``: this site's SP metadata (Entra can import it; the same for every customer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import View

from ..conf import get_settings
from ..saml.sp_metadata import sp_metadata_xml


class MetadataView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        conf = get_settings()
        signing = conf.signing_key
        document = sp_metadata_xml(
            conf.sp_identity,
            signing_certificates=[signing.cert_b64] if signing is not None else [],
            # Every key listed: during a rollover Entra may encrypt with either.
            encryption_certificates=[pair.cert_b64 for pair in conf.encryption_keys],
            authn_requests_signed=signing is not None and conf.connection_policy.sign_requests)
        return HttpResponse(document, content_type="application/samlmetadata+xml")
