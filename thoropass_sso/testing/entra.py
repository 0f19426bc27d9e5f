"""An Entra ID stand-in: pysaml2's IdP ``Server`` configured and shaped like Entra.

It issues the responses Entra issues (ENTRA.md): Issuer
``https://sts.windows.net/{tenant}/`` on Response and Assertion, NameID in
emailAddress format holding the UPN, a bearer confirmation to the ACS,
Conditions starting five minutes early, Entra's claim URIs, and the assertion
signed with RSA-SHA256 / exclusive c14n (or the response, or both, or SHA-1,
as Entra's signing options allow). Signatures are made by pysaml2's IdP
security context with the stand-in's private key: really signed, so the
service provider really verifies them.

Tests that need a hostile variant pass ``mutate``, which edits the XML before
it is signed, so the attack is validly signed and only the intended check can
refuse it.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from ..claims import (
    CLAIM_AUTH_METHODS,
    CLAIM_DISPLAY_NAME,
    CLAIM_EMAIL,
    CLAIM_GIVEN_NAME,
    CLAIM_GROUPS,
    CLAIM_GROUPS_OVERAGE,
    CLAIM_IDENTITY_PROVIDER,
    CLAIM_NAME,
    CLAIM_OBJECT_ID,
    CLAIM_ROLES,
    CLAIM_SURNAME,
    CLAIM_TENANT_ID,
)
from ..saml.pysaml2 import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DIGEST_SHA1,
    DIGEST_SHA256,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    IdPConfig,
    Server,
    saml,
    samlp,
)
from ..saml.timestamps import format_instant
from .certificates import SigningKeyPair, make_signing_key_pair

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"

Mutation = Callable[[etree._Element], None]


@dataclass(frozen=True)
class EntraUser:
    """A user of the stand-in tenant and the claims Entra would send for them."""

    upn: str
    given_name: str = ""
    surname: str = ""
    email: str = ""
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    display_name: str = ""
    groups: Sequence[str] = ()
    roles: Sequence[str] = ()
    guest_identity_provider: str = ""
    groups_overage: bool = False
    extra_claims: dict[str, Sequence[str]] = field(default_factory=dict)

    def claims(self, tenant_id: str) -> dict[str, list[str]]:
        issuer = f"https://sts.windows.net/{tenant_id}/"
        claims: dict[str, list[str]] = {
            CLAIM_TENANT_ID: [tenant_id],
            CLAIM_OBJECT_ID: [self.object_id],
            CLAIM_IDENTITY_PROVIDER: [self.guest_identity_provider or issuer],
            CLAIM_AUTH_METHODS: ["http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password"],
            CLAIM_NAME: [self.upn],
        }
        optional = {
            CLAIM_DISPLAY_NAME: self.display_name or f"{self.given_name} {self.surname}".strip(),
            CLAIM_GIVEN_NAME: self.given_name,
            CLAIM_SURNAME: self.surname,
            CLAIM_EMAIL: self.email,
        }
        claims.update({uri: [value] for uri, value in optional.items() if value})
        if self.groups_overage:
            claims[CLAIM_GROUPS_OVERAGE] = [
                f"https://graph.windows.net/{tenant_id}/users/{self.object_id}/getMemberObjects"
            ]
        elif self.groups:
            claims[CLAIM_GROUPS] = list(self.groups)
        if self.roles:
            claims[CLAIM_ROLES] = list(self.roles)
        for uri, values in self.extra_claims.items():
            claims[uri] = list(values)
        return claims


@dataclass(frozen=True)
class AuthnRequestInfo:
    """What the stand-in read from an SP's AuthnRequest (HTTP-Redirect binding)."""

    id: str
    issuer: str
    acs_url: str
    relay_state: str
    xml: bytes


class _EntraServer(Server):
    """pysaml2's IdP, answering SPs it has no metadata for (Entra is configured per app)."""

    def has_encrypt_cert_in_metadata(self, sp_entity_id: str | None) -> bool:
        # The stand-in encrypts by itself (encrypt_assertion), not through pysaml2.
        return False


class EntraStandIn:
    """One stand-in Entra tenant with one enterprise application.

    Several signing keys may be listed in metadata; ``active_key`` signs, like
    Entra's active certificate. ``workdir`` is accepted for compatibility and no
    longer used: nothing is written to disk.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        tenant_id: str | None = None,
        app_id: str | None = None,
        base_url: str = "https://login.microsoftonline.com",
        signing_keys: Sequence[SigningKeyPair] | None = None,
    ) -> None:
        self.workdir = Path(workdir) if workdir is not None else None
        self.tenant_id = (tenant_id or str(uuid.uuid4())).lower()
        self.app_id = app_id or str(uuid.uuid4())
        self.base_url = base_url.rstrip("/")
        self.signing_keys: list[SigningKeyPair] = list(signing_keys or [make_signing_key_pair()])
        self.active_key = 0
        self._idp: Server | None = None
        self._lock = threading.Lock()

    # -- identifiers --------------------------------------------------------
    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/saml2"

    @property
    def metadata_path(self) -> str:
        return (f"/{self.tenant_id}/federationmetadata/2007-06/federationmetadata.xml"
                f"?appid={self.app_id}")

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}{self.metadata_path}"

    # -- metadata -----------------------------------------------------------
    def metadata_xml(self, *, certificates: Sequence[SigningKeyPair] | None = None,
                     entity_id: str | None = None,
                     signed_by: SigningKeyPair | None = None) -> bytes:
        """Federation metadata in Entra's shape, listing every signing certificate.

        ``signed_by`` signs the whole EntityDescriptor the way Entra does
        (enveloped, exclusive c14n, RSA-SHA256, the certificate in KeyInfo).
        """
        certs = self.signing_keys if certificates is None else certificates
        key_descriptors = "".join(
            '<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">'
            f"<X509Data><X509Certificate>{pair.cert_b64}</X509Certificate></X509Data>"
            "</KeyInfo></KeyDescriptor>"
            for pair in certs
        )
        sso = escape(self.sso_url)
        entity = quoteattr(entity_id or self.issuer)
        document = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EntityDescriptor ID="_{uuid.uuid4()}" entityID={entity} '
            'xmlns="urn:oasis:names:tc:SAML:2.0:metadata">'
            '<RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" '
            'xsi:type="fed:SecurityTokenServiceType" '
            'protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706">'
            f"{key_descriptors}</RoleDescriptor>"
            '<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{key_descriptors}"
            f'<SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="{sso}"/>'
            f'<SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{sso}"/>'
            f'<SingleSignOnService Binding="{BINDING_HTTP_POST}" Location="{sso}"/>'
            "</IDPSSODescriptor></EntityDescriptor>"
        )
        if signed_by is not None:
            return sign_metadata(document.encode("utf-8"), signed_by)
        return document.encode("utf-8")

    # -- the IdP ------------------------------------------------------------
    def _server(self) -> Server:
        with self._lock:
            if self._idp is None:
                config = IdPConfig().load({
                    "entityid": self.issuer,
                    # pysaml2 only builds responses here; it signs nothing, so its
                    # python-xmlsec backend needs no key files and no xmlsec1 program.
                    "crypto_backend": "XMLSecurity",
                    "allow_unknown_attributes": True,
                    # No SP metadata: the stand-in answers whoever asks, like a test IdP.
                    "metadata": {"inline": []},
                    "service": {"idp": {
                        "endpoints": {"single_sign_on_service": [
                            (self.sso_url, BINDING_HTTP_REDIRECT), (self.sso_url, BINDING_HTTP_POST)
                        ]},
                        "name_id_format": [saml.NAMEID_FORMAT_EMAILADDRESS],
                        "policy": {"default": {"lifetime": {"minutes": 75},
                                               "attribute_restrictions": None}},
                    }},
                })
                self._idp = _EntraServer(config=config)
            return self._idp

    def request_signature_valid(self, location: str, sp_certificate_pem: bytes) -> bool:
        """Does the Redirect-binding signature of ``location`` verify with the SP's certificate?

        What Entra checks when the app's "Require verification certificates" is on.
        """
        from ..exceptions import SignInRejected
        from ..saml.redirect_binding import (
            load_public_keys,
            parse_redirect_query,
            verify_redirect_signature,
        )

        try:
            message = parse_redirect_query(urlsplit(location).query, max_bytes=1024 * 1024)
            verify_redirect_signature(message, load_public_keys([sp_certificate_pem]),
                                      allow_sha1=False)
        except SignInRejected:
            return False
        return True

    def read_authn_request(self, location: str) -> AuthnRequestInfo:
        """Decode the AuthnRequest an SP sent with the HTTP-Redirect binding."""
        query = parse_qs(urlsplit(location).query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        return AuthnRequestInfo(
            id=root.get("ID", ""),
            issuer="".join(root.find(f"{{{NS_SAML}}}Issuer").itertext()),
            acs_url=root.get("AssertionConsumerServiceURL", ""),
            relay_state=query.get("RelayState", [""])[0],
            xml=xml,
        )

    def response_xml(
        self,
        user: EntraUser,
        *,
        acs_url: str,
        audience: str,
        in_response_to: str | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
        sha1: bool = False,
        issued_at: datetime | None = None,
        lifetime: timedelta = timedelta(minutes=75),
        mutate: Mutation | None = None,
        encrypt_for: bytes | None = None,
        key_transport: str = "rsa-oaep",
        content_encryption: str = "aes256-gcm",
        mutate_encrypted: Mutation | None = None,
    ) -> bytes:
        """A signed SAML Response for ``user`` as Entra would send it.

        ``encrypt_for`` (the SP's certificate, PEM) turns on Entra's token encryption:
        the assertion is signed, then encrypted (``key_transport`` "rsa-oaep" or
        "rsa-1_5"; ``content_encryption`` "aes256-gcm", "aes128-cbc", ...), then the
        response is signed if asked. ``mutate_encrypted`` edits the result before the
        response signature (tampering with the ciphertext, say).
        """
        server = self._server()
        now = issued_at or datetime.now(UTC)
        name_id = saml.NameID(format=saml.NAMEID_FORMAT_EMAILADDRESS, text=user.upn)
        response = server.create_authn_response(
            identity=user.claims(self.tenant_id),
            in_response_to=in_response_to,
            destination=acs_url,
            sp_entity_id=audience,
            name_id=name_id,
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
                   "authn_auth": self.issuer},
            sign_assertion=False,
            sign_response=False,
        )
        root = etree.fromstring(str(response).encode())
        self._entraize(root, now=now, lifetime=lifetime)
        if mutate is not None:
            mutate(root)
        sign_alg, digest_alg = (SIG_RSA_SHA1, DIGEST_SHA1) if sha1 else (SIG_RSA_SHA256, DIGEST_SHA256)
        xml = etree.tostring(root)
        if sign_assertion:
            xml = self.sign(xml, "Assertion", sign_alg=sign_alg, digest_alg=digest_alg)
        if encrypt_for is not None:
            root = etree.fromstring(xml)
            encrypt_element(root.find(f"{{{NS_SAML}}}Assertion"), encrypt_for,
                            container=f"{{{NS_SAML}}}EncryptedAssertion",
                            key_transport=key_transport, content=content_encryption)
            if mutate_encrypted is not None:
                mutate_encrypted(root)
            xml = etree.tostring(root)
        if sign_response:
            xml = self.sign(xml, "Response", sign_alg=sign_alg, digest_alg=digest_alg)
        return xml

    def sign(self, xml: bytes, element: str, *, sign_alg: str = SIG_RSA_SHA256,
             digest_alg: str = DIGEST_SHA256, element_id: str | None = None) -> bytes:
        """Sign the (first) Assertion or the Response in ``xml`` with the active key.

        Entra's shape: an enveloped signature right after the element's Issuer,
        exclusive c14n, the certificate in KeyInfo.
        """
        root = etree.fromstring(xml)
        target = root if element == "Response" else root.find(f".//{{{NS_SAML}}}Assertion")
        if element_id is not None:
            target = root.xpath("//*[@ID=$id]", id=element_id)[0]
        issuer = target.find(f"{{{NS_SAML}}}Issuer")
        position = list(target).index(issuer) + 1 if issuer is not None else 0
        sign_element(target, self.signing_keys[self.active_key], position=position,
                     sha1=(sign_alg == SIG_RSA_SHA1 or digest_alg == DIGEST_SHA1))
        return etree.tostring(root)

    def _entraize(self, root: etree._Element, *, now: datetime, lifetime: timedelta) -> None:
        """Reshape pysaml2's output into Entra's: ids, times, issuer form."""
        stamp = format_instant(now)
        root.set("ID", f"_{uuid.uuid4()}")
        root.set("IssueInstant", stamp)
        for issuer in root.iter(f"{{{NS_SAML}}}Issuer"):
            issuer.attrib.pop("Format", None)
        assertion = root.find(f"{{{NS_SAML}}}Assertion")
        assertion.set("ID", f"_{uuid.uuid4()}")
        assertion.set("IssueInstant", stamp)
        conditions = assertion.find(f"{{{NS_SAML}}}Conditions")
        conditions.set("NotBefore", format_instant(now - timedelta(minutes=5)))
        conditions.set("NotOnOrAfter", format_instant(now + lifetime))
        for data in assertion.iter(f"{{{NS_SAML}}}SubjectConfirmationData"):
            data.set("NotOnOrAfter", format_instant(now + timedelta(minutes=5)))
        statement = assertion.find(f"{{{NS_SAML}}}AuthnStatement")
        statement.set("AuthnInstant", stamp)
        statement.set("SessionIndex", f"_{uuid.uuid4()}")
        for attribute in assertion.iter(f"{{{NS_SAML}}}Attribute"):
            attribute.attrib.pop("NameFormat", None)

    def post_binding_value(self, xml: bytes) -> str:
        """The SAMLResponse form field for ``xml`` (HTTP-POST binding: base64, not deflated)."""
        return base64.b64encode(xml).decode("ascii")

    # -- single logout (HTTP-Redirect, like Entra) ----------------------------
    def logout_request_url(
        self,
        sp_logout_url: str,
        *,
        name_id: str = "",
        session_index: str = "",
        relay_state: str | None = None,
        destination: str | None = None,
        issuer: str | None = None,
        issued_at: datetime | None = None,
        message_id: str | None = None,
        sign: bool = True,
        sha1: bool = False,
        mutate: Mutation | None = None,
    ) -> str:
        """A LogoutRequest from Entra to ``sp_logout_url`` (the user signed out elsewhere).

        Signed over the query string with Entra's lower-case percent-encoding.
        """
        now = issued_at or datetime.now(UTC)
        request = samlp.LogoutRequest(
            id=message_id or f"_{uuid.uuid4()}",
            version="2.0",
            issue_instant=format_instant(now),
            destination=sp_logout_url if destination is None else destination or None,
            issuer=saml.Issuer(text=issuer or self.issuer),
            name_id=saml.NameID(format=saml.NAMEID_FORMAT_EMAILADDRESS, text=name_id or "unknown"),
            session_index=[samlp.SessionIndex(text=session_index)] if session_index else None,
        )
        return self._redirect(sp_logout_url, "SAMLRequest", request.to_string(), mutate=mutate,
                              relay_state=relay_state, sign=sign, sha1=sha1)

    def logout_response_url(
        self,
        sp_logout_url: str,
        *,
        in_response_to: str,
        status: str = "urn:oasis:names:tc:SAML:2.0:status:Success",
        relay_state: str | None = None,
        destination: str | None = None,
        issuer: str | None = None,
        issued_at: datetime | None = None,
        sign: bool = True,
        sha1: bool = False,
        mutate: Mutation | None = None,
    ) -> str:
        """Entra's LogoutResponse to an SP's LogoutRequest, signed like Entra signs it."""
        now = issued_at or datetime.now(UTC)
        response = samlp.LogoutResponse(
            id=f"_{uuid.uuid4()}",
            version="2.0",
            issue_instant=format_instant(now),
            destination=sp_logout_url if destination is None else destination or None,
            in_response_to=in_response_to,
            issuer=saml.Issuer(text=issuer or self.issuer),
            status=samlp.Status(status_code=samlp.StatusCode(value=status)),
        )
        return self._redirect(sp_logout_url, "SAMLResponse", response.to_string(), mutate=mutate,
                              relay_state=relay_state, sign=sign, sha1=sha1)

    def _redirect(self, url: str, kind: str, xml: bytes, *, relay_state: str | None,
                  sign: bool, sha1: bool, mutate: Mutation | None) -> str:
        if mutate is not None:
            root = etree.fromstring(xml)
            mutate(root)
            xml = etree.tostring(root)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = compressor.compress(xml) + compressor.flush()
        parts = [f"{kind}={entra_quote(base64.b64encode(deflated).decode('ascii'))}"]
        if relay_state is not None:
            parts.append(f"RelayState={entra_quote(relay_state)}")
        if sign:
            parts.append(f"SigAlg={entra_quote(SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256)}")
            signature = self.sign_redirect_octets("&".join(parts).encode("ascii"), sha1=sha1)
            parts.append(f"Signature={entra_quote(base64.b64encode(signature).decode('ascii'))}")
        return f"{url}{'&' if '?' in url else '?'}{'&'.join(parts)}"

    def sign_redirect_octets(self, octets: bytes, *, sha1: bool = False) -> bytes:
        """RSA-sign Redirect-binding octets with the active key (as Entra does)."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        key = serialization.load_pem_private_key(self.signing_keys[self.active_key].key_pem, None)
        return key.sign(octets, padding.PKCS1v15(), hashes.SHA1() if sha1 else hashes.SHA256())  # noqa: S303

    def read_logout_message(self, location: str) -> LogoutMessageInfo:
        """Decode a LogoutRequest or LogoutResponse an SP sent with the HTTP-Redirect binding."""
        query = parse_qs(urlsplit(location).query)
        kind = "SAMLRequest" if "SAMLRequest" in query else "SAMLResponse"
        xml = zlib.decompress(base64.b64decode(query[kind][0]), -15)
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        status = root.find(f"{{{NS_SAMLP}}}Status/{{{NS_SAMLP}}}StatusCode")
        name_id = root.find(f"{{{NS_SAML}}}NameID")
        return LogoutMessageInfo(
            kind=etree.QName(root).localname,
            id=root.get("ID", ""),
            issuer="".join(root.find(f"{{{NS_SAML}}}Issuer").itertext()),
            destination=root.get("Destination", ""),
            in_response_to=root.get("InResponseTo", ""),
            name_id="".join(name_id.itertext()) if name_id is not None else "",
            session_indexes=tuple("".join(e.itertext())
                                  for e in root.findall(f"{{{NS_SAMLP}}}SessionIndex")),
            status=status.get("Value", "") if status is not None else "",
            relay_state=query.get("RelayState", [""])[0],
            signed="Signature" in query,
            xml=xml,
        )


@dataclass(frozen=True)
class LogoutMessageInfo:
    """What the stand-in read from an SP's LogoutRequest or LogoutResponse."""

    kind: str  # "LogoutRequest" or "LogoutResponse"
    id: str
    issuer: str
    destination: str
    in_response_to: str
    name_id: str
    session_indexes: tuple[str, ...]
    status: str
    relay_state: str
    signed: bool
    xml: bytes


def entra_quote(value: str) -> str:
    """Percent-encode like Entra: everything but unreserved characters, LOWER-case hex."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(value, safe=""))


def sign_element(target: etree._Element, pair: SigningKeyPair, *, position: int = 0,
                 sha1: bool = False) -> None:
    """Add an enveloped signature over ``target`` (by its ID), in-process with python-xmlsec.

    RSA-SHA256 (RSA-SHA1 and a SHA-1 digest with ``sha1``), exclusive c14n, the
    certificate in KeyInfo: the shape Entra signs assertions, responses and metadata in.
    """
    import xmlsec

    constants = xmlsec.constants
    signature = xmlsec.template.create(
        target, constants.TransformExclC14N,
        constants.TransformRsaSha1 if sha1 else constants.TransformRsaSha256, ns="ds")
    target.insert(position, signature)
    reference = xmlsec.template.add_reference(
        signature, constants.TransformSha1 if sha1 else constants.TransformSha256,
        uri=f"#{target.get('ID')}")
    xmlsec.template.add_transform(reference, constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, constants.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(target.getroottree().getroot(), ["ID"])
    context = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(pair.key_pem, constants.KeyDataFormatPem, None)
    key.load_cert_from_memory(pair.cert_pem, constants.KeyDataFormatPem)
    context.key = key
    context.sign(signature)


_KEY_TRANSPORTS = {"rsa-oaep": "TransformRsaOaep", "rsa-1_5": "TransformRsaPkcs1"}
_CONTENT = {"aes128-cbc": ("TransformAes128Cbc", 128), "aes192-cbc": ("TransformAes192Cbc", 192),
            "aes256-cbc": ("TransformAes256Cbc", 256), "aes128-gcm": ("TransformAes128Gcm", 128),
            "aes256-gcm": ("TransformAes256Gcm", 256)}


def encrypt_element(target: etree._Element, recipient_cert_pem: bytes, *, container: str,
                    key_transport: str = "rsa-oaep", content: str = "aes256-gcm") -> etree._Element:
    """Replace ``target`` by ``<container><xenc:EncryptedData>`` for the recipient, as Entra does.

    A fresh AES key encrypts the element; the recipient's RSA key (from its certificate)
    encrypts the AES key, carried in the EncryptedData's KeyInfo.
    """
    import xmlsec

    constants = xmlsec.constants
    # Entra's plaintext declares its own namespaces; make the element stand on its own.
    standalone = etree.fromstring(etree.tostring(target))
    target.getparent().replace(target, standalone)
    target = standalone
    parent = target.getparent()
    wrapper = etree.Element(container)
    parent.replace(target, wrapper)
    wrapper.append(target)
    transform, bits = _CONTENT[content]
    data = xmlsec.template.encrypted_data_create(
        wrapper, getattr(constants, transform), type=constants.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(
        info, getattr(constants, _KEY_TRANSPORTS[key_transport]))
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(recipient_cert_pem, constants.KeyDataFormatCertPem, None))
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(constants.KeyDataAes, bits, constants.KeyDataTypeSession)
    encrypted = context.encrypt_xml(data, target)
    if encrypted.getparent() is None:
        wrapper.append(encrypted)
    return wrapper


def sign_metadata(document: bytes, pair: SigningKeyPair) -> bytes:
    """Sign an EntityDescriptor (by its ID) with python-xmlsec, as Entra signs its metadata."""
    root = etree.fromstring(document)
    # Entra places the Signature first inside EntityDescriptor.
    sign_element(root, pair, position=0)
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root)


__all__ = ["AuthnRequestInfo", "EntraStandIn", "EntraUser", "LogoutMessageInfo", "entra_quote",
           "encrypt_element", "sign_element", "sign_metadata"]
