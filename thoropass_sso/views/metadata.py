"""``GET /saml2/metadata/``: this site's SP metadata (Entra can import it; the same for every customer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import View

from ..conf import get_settings
from ..saml.sp_metadata import sp_metadata_xml


class MetadataView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        document = sp_metadata_xml(get_settings().sp_identity)
        return HttpResponse(document, content_type="application/samlmetadata+xml")
