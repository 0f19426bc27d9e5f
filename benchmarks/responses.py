"""Fresh, really-signed, Entra-shaped responses, many per second.

The stand-in (:class:`thoropass_sso.testing.EntraStandIn`) builds each user's
response once; every sign-in then gets a copy with new IDs, new SessionIndex
and current timestamps (the stand-in's own ``_entraize``), and the Assertion
is signed the way Entra signs it (RSA-SHA256, exclusive c14n, enveloped, the
certificate in KeyInfo) with python-xmlsec in-process: ~1-2 ms per response
instead of ~60 ms through pysaml2 and the xmlsec1 program. Nothing about the
verification side changes: both ACS views verify a real signature.

Responses are IdP-initiated (no InResponseTo), as from the My Apps portal, so
stock djangosaml2 needs ``allow_unsolicited`` and ours applies its replay cache.

``python -m benchmarks.responses DIR COUNT`` writes COUNT responses to stdout,
one base64 SAMLResponse a line (COUNT 0: forever), for the memory run.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import xmlsec
from lxml import etree

from thoropass_sso.testing import EntraStandIn, EntraUser, SigningKeyPair

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
USERS = 50  # distinct users: the first sign-in of each creates it, the rest update it


def bench_users(count: int = USERS) -> list[EntraUser]:
    return [
        EntraUser(upn=f"user{i:04d}@contoso.example", given_name="Bench", surname=f"User{i}",
                  email=f"user{i:04d}@contoso.example",
                  object_id=f"00000000-0000-4000-8000-{i:012d}")
        for i in range(count)
    ]


def standin_for(directory: Path) -> EntraStandIn:
    """The run's stand-in tenant (its key pair and tenant id live in ``directory``)."""
    pair = SigningKeyPair.read(directory, "idp")
    tenant_id = (directory / "tenant_id").read_text().strip()
    return EntraStandIn(directory / "standin", tenant_id=tenant_id, signing_keys=[pair])


class ResponseFactory:
    def __init__(self, standin: EntraStandIn, *, acs_url: str, audience: str,
                 users: list[EntraUser] | None = None, encrypt_for: bytes | None = None) -> None:
        self.standin = standin
        # The SP's certificate: responses then come with token encryption, as from Entra.
        self.encrypt_for = encrypt_for
        # The stand-in builds one unsigned response per user (pysaml2, no signing).
        self.templates = [
            etree.fromstring(standin.response_xml(user, acs_url=acs_url, audience=audience,
                                                  sign_assertion=False))
            for user in (users or bench_users())
        ]
        pair = standin.signing_keys[standin.active_key]
        self.key = xmlsec.Key.from_memory(pair.key_pem, xmlsec.constants.KeyDataFormatPem, None)
        self.key.load_cert_from_memory(pair.cert_pem, xmlsec.constants.KeyDataFormatPem)
        self.count = 0

    def xml(self, tenant_id: str | None = None) -> bytes:
        """A fresh signed response; ``tenant_id``: as if another tenant sharing the key sent it."""
        root = copy.deepcopy(self.templates[self.count % len(self.templates)])
        self.count += 1
        self.standin._entraize(root, now=datetime.now(UTC), lifetime=timedelta(minutes=75))
        if tenant_id is not None:
            retarget(root, self.standin.tenant_id, tenant_id)
        assertion = root.find(f"{{{NS_SAML}}}Assertion")
        signature = xmlsec.template.create(
            assertion, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256,
            ns="ds",
        )
        issuer = assertion.find(f"{{{NS_SAML}}}Issuer")
        assertion.insert(list(assertion).index(issuer) + 1, signature)
        reference = xmlsec.template.add_reference(
            signature, xmlsec.constants.TransformSha256, uri=f"#{assertion.get('ID')}")
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
        xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        context = xmlsec.SignatureContext()
        context.key = self.key
        context.register_id(assertion, "ID")
        context.sign(signature)
        if self.encrypt_for is not None:
            from thoropass_sso.testing.entra import encrypt_element

            encrypt_element(assertion, self.encrypt_for,
                            container=f"{{{NS_SAML}}}EncryptedAssertion")
        return etree.tostring(root)

    def post_value(self, tenant_id: str | None = None) -> str:
        return self.standin.post_binding_value(self.xml(tenant_id))

    def lines(self, count: int) -> Iterator[str]:
        produced = 0
        while count <= 0 or produced < count:
            yield self.post_value()
            produced += 1

    def write(self, path: Path, count: int) -> Path:
        with path.open("w") as out:
            for value in self.lines(count):
                out.write(value + "\n")
        return path


def retarget(root: etree._Element, old_tenant: str, new_tenant: str) -> None:
    """Rewrite every mention of ``old_tenant`` (issuers, claims) to ``new_tenant``, before signing."""
    for element in root.iter():
        if isinstance(element.text, str) and old_tenant in element.text:
            element.text = element.text.replace(old_tenant, new_tenant)


def read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


def main(argv: list[str]) -> None:
    directory, count, acs_url, audience = Path(argv[0]), int(argv[1]), argv[2], argv[3]
    factory = ResponseFactory(standin_for(directory), acs_url=acs_url, audience=audience)
    try:
        for value in factory.lines(count):
            sys.stdout.write(value + "\n")
            sys.stdout.flush()
    except BrokenPipeError:  # the reader has had enough
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
