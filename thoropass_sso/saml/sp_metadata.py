"""This site's SP metadata: what Entra's "Upload metadata file" reads.

Written with the conventional ``md:`` and ``ds:`` prefixes (pysaml2 writes
``ns0:``/``ns1:``, which tools accept but people reading the file do not
expect), in the element order the SAML metadata schema requires.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from .sp import SPIdentity
from .xml import NS

MD = NS["md"]
DS = NS["ds"]
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"


def _key_descriptor(parent: etree._Element, use: str, certificate_b64: str) -> None:
    key = etree.SubElement(parent, f"{{{MD}}}KeyDescriptor", use=use)
    info = etree.SubElement(key, f"{{{DS}}}KeyInfo")
    data = etree.SubElement(info, f"{{{DS}}}X509Data")
    etree.SubElement(data, f"{{{DS}}}X509Certificate").text = certificate_b64


def sp_metadata_xml(sp: SPIdentity, *, signing_certificates: Sequence[str] = (),
                    encryption_certificates: Sequence[str] = (),
                    authn_requests_signed: bool = False) -> bytes:
    """The EntityDescriptor of this SP; certificates are base64 DER (one line each)."""
    root = etree.Element(f"{{{MD}}}EntityDescriptor", nsmap={"md": MD, "ds": DS},
                         entityID=sp.entity_id)
    descriptor = etree.SubElement(
        root, f"{{{MD}}}SPSSODescriptor",
        AuthnRequestsSigned="true" if authn_requests_signed else "false",
        # Entra's default signs the assertion; a signed response alone is accepted too.
        WantAssertionsSigned="true",
        protocolSupportEnumeration=PROTOCOL)
    for certificate in signing_certificates:
        _key_descriptor(descriptor, "signing", certificate)
    for certificate in encryption_certificates:
        _key_descriptor(descriptor, "encryption", certificate)
    etree.SubElement(descriptor, f"{{{MD}}}SingleLogoutService", Binding=BINDING_REDIRECT,
                     Location=sp.logout_url)
    etree.SubElement(descriptor, f"{{{MD}}}NameIDFormat").text = sp.name_id_format
    etree.SubElement(descriptor, f"{{{MD}}}AssertionConsumerService", Binding=BINDING_POST,
                     Location=sp.acs_url, index="0", isDefault="true")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
