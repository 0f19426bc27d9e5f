"""Decrypting what Entra encrypts for this site: EncryptedAssertion, EncryptedID, EncryptedAttribute.

In-process with python-xmlsec, with this site's own keys (THOROPASS_SSO['ENCRYPTION_KEYS'];
either key of a rollover decrypts). Only what Entra can send is accepted:

- key transport RSA-OAEP (``xmlenc#rsa-oaep-mgf1p`` or ``xmlenc11#rsa-oaep``). RSA PKCS#1 v1.5
  (``xmlenc#rsa-1_5``) is refused before any decryption is tried: its error behaviour is a
  Bleichenbacher oracle that lets an attacker decrypt captured tokens;
- content AES-128/192/256 in GCM or CBC mode, inline (CipherValue; never CipherReference);
- exactly one EncryptedData and one EncryptedKey, whose own KeyInfo is ignored (the key is
  always one of ours, whatever the message names).

Every failure -- no key fits, bad padding, a GCM tag that does not verify, decrypted bytes
that are not the one element expected -- is the same refusal (``decryption_failed``), so the
answer tells an attacker nothing about why: that is what keeps AES-CBC's padding from becoming
an oracle. Decryption only ever recovers content; trust comes from the signatures, checked by
the caller (the assertion's own after decryption, the response's before).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from lxml import etree

from ..exceptions import SignInRejected
from ..keys import SPKeyPair
from ..reasons import Reason
from .signature import import_xmlsec
from .xml import NS, MalformedXML, UnsafeXML, parse_untrusted

XENC = NS["xenc"]
DS = NS["ds"]
ELEMENT_TYPE = "http://www.w3.org/2001/04/xmlenc#Element"
RSA_1_5 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
KEY_TRANSPORT = frozenset({
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
})
CONTENT = frozenset({
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
})


def _failed(detail: str) -> SignInRejected:
    # The detail only reaches the log; every decryption failure is one refusal to the sender.
    return SignInRejected(Reason.DECRYPTION_FAILED, detail)  # pragma: no mutate


def _algorithm(element: etree._Element) -> str | None:
    methods = element.findall(f"{{{XENC}}}EncryptionMethod")
    if len(methods) != 1:
        what = etree.QName(element).localname  # pragma: no mutate (only in the detail)
        raise SignInRejected(Reason.MALFORMED, f"{what} has {len(methods)} EncryptionMethod")
    return methods[0].get("Algorithm")


def _has_inline_cipher(element: etree._Element) -> bool:
    data = element.findall(f"{{{XENC}}}CipherData")
    return len(data) == 1 and len(data[0]) == 1 and data[0][0].tag == f"{{{XENC}}}CipherValue"


class Decrypter:
    """This site's decryption keys, loaded once (a process's worth of sign-ins share them)."""

    def __init__(self, pairs: Sequence[SPKeyPair]) -> None:
        xmlsec = import_xmlsec()
        self._xmlsec = xmlsec
        # One keys manager per key, made here: adding a key to a manager copies it, which for
        # RSA costs ~20 ms -- twenty times the decryption itself.
        self._managers = []
        for pair in pairs:
            manager = xmlsec.KeysManager()
            manager.add_key(xmlsec.Key.from_memory(pair.key_pem, xmlsec.constants.KeyDataFormatPem))
            self._managers.append(manager)

    def __bool__(self) -> bool:
        return bool(self._managers)

    def decrypt(self, container: etree._Element, expected: str) -> etree._Element:
        """The element ``container`` (e.g. saml:EncryptedAssertion) holds, decrypted and parsed.

        ``expected`` is the Clark name the plaintext must be (one element, nothing else).
        Raises SignInRejected: ``weak_encryption`` for an algorithm not accepted,
        ``malformed`` for a shape Entra never sends, ``decryption_failed`` otherwise.
        """
        data, key = self._parts(container)
        # lxml's copy.copy() copies an element's whole subtree too: the "copy" mutants of
        # these lines are equivalent (docs/mutation-testing.md), so they are not mutated.
        clean = copy.deepcopy(data)  # pragma: no mutate
        for info in clean.findall(f"{{{DS}}}KeyInfo"):
            clean.remove(info)
        key_copy = copy.deepcopy(key)  # pragma: no mutate
        for info in key_copy.findall(f"{{{DS}}}KeyInfo"):
            key_copy.remove(info)  # the key is ours; never what the message names
        info = etree.SubElement(clean, f"{{{DS}}}KeyInfo")
        info.append(key_copy)
        # KeyInfo comes right after EncryptionMethod in the schema's order.
        clean.remove(info)
        clean.insert(1, info)
        xmlsec = self._xmlsec
        # The plaintext is parsed where it stood (XML Encryption 4.4.3): prefixes declared on
        # the Response stay resolvable.
        in_scope = {prefix: uri for prefix, uri in container.nsmap.items()}
        for manager in self._managers:
            # The holder's own name is never read: only its one child is.
            holder = etree.Element("holder", nsmap=in_scope)  # pragma: no mutate
            holder.append(copy.deepcopy(clean))  # pragma: no mutate
            context = xmlsec.EncryptionContext(manager)
            try:
                context.decrypt(holder[0])
            except xmlsec.Error:
                continue
            return self._plaintext(holder, expected)
        raise _failed("no decryption key of this site decrypts it")

    def _parts(self, container: etree._Element) -> tuple[etree._Element, etree._Element]:
        what = etree.QName(container).localname  # pragma: no mutate (only in the details)
        datas = container.findall(f"{{{XENC}}}EncryptedData")
        if len(datas) != 1 or any(child.tag not in (f"{{{XENC}}}EncryptedData",
                                                    f"{{{XENC}}}EncryptedKey") for child in container):
            raise SignInRejected(Reason.MALFORMED, f"{what} is not one EncryptedData")
        data = datas[0]
        if data.get("Type") not in (None, ELEMENT_TYPE):
            raise SignInRejected(Reason.MALFORMED, f"{what} EncryptedData is not of Type Element")
        if _algorithm(data) not in CONTENT:
            raise SignInRejected(Reason.WEAK_ENCRYPTION, "content encryption algorithm not accepted")
        if not _has_inline_cipher(data):
            raise SignInRejected(Reason.MALFORMED, "EncryptedData without one inline CipherValue")
        keys = data.findall(f"{{{DS}}}KeyInfo/{{{XENC}}}EncryptedKey")
        keys += container.findall(f"{{{XENC}}}EncryptedKey")
        if len(keys) != 1:
            raise SignInRejected(Reason.MALFORMED, f"{len(keys)} EncryptedKey elements")
        key = keys[0]
        transport = _algorithm(key)
        if transport == RSA_1_5:
            raise SignInRejected(Reason.WEAK_ENCRYPTION, "rsa-1_5 key transport (Bleichenbacher)")
        if transport not in KEY_TRANSPORT:
            raise SignInRejected(Reason.WEAK_ENCRYPTION, "key transport algorithm not accepted")
        if not _has_inline_cipher(key):
            raise SignInRejected(Reason.MALFORMED, "EncryptedKey without one inline CipherValue")
        return data, key

    @staticmethod
    def _plaintext(holder: etree._Element, expected: str) -> etree._Element:
        elements = [child for child in holder if isinstance(child.tag, str)]
        if len(elements) != 1 or (holder.text or "").strip() or any(
                (child.tail or "").strip() for child in holder):
            raise _failed("the plaintext is not one element")
        if elements[0].tag != expected:
            raise _failed("the plaintext is not the element expected")
        # Re-read with the hardened parser, as if it had arrived in the clear.
        try:
            return parse_untrusted(etree.tostring(elements[0]))
        except (UnsafeXML, MalformedXML):
            raise _failed("the plaintext is not acceptable XML") from None
