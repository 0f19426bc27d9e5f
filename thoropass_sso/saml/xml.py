"""Parsing XML that arrived from outside, with every dangerous feature off.

SAML messages and federation metadata are attacker-reachable input. They are
parsed without DTDs, entities, network access or XInclude, and any document
that declares a DOCTYPE is refused outright: SAML never needs one.
"""

from __future__ import annotations

from lxml import etree

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}

# libxml2 knows XInclude under both namespaces; refuse either.
_XINCLUDE_NAMESPACES = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
_FORBIDDEN_MARKERS = (b"<!doctype", b"<!entity",
                      *(ns.lower().encode() for ns in _XINCLUDE_NAMESPACES))


class UnsafeXML(ValueError):
    """The document uses a construct we refuse (DOCTYPE, entities, XInclude)."""


class MalformedXML(ValueError):
    """The document is not well-formed XML."""


def _parser() -> etree.XMLParser:
    # Comments and processing instructions are dropped at parse time: exclusive
    # c14n ignores them anyway, so a comment cannot change what was signed but
    # could otherwise split a text node and truncate a NameID.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse ``data`` (UTF-8 XML) into an element tree, refusing unsafe constructs."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lowered = data.lower()
    if b"\x00" in data:
        # UTF-16/32 documents could hide a DOCTYPE from the scan below.
        raise UnsafeXML("non-UTF-8 encoding")
    for marker in _FORBIDDEN_MARKERS:
        if marker in lowered:
            raise UnsafeXML(marker.decode().strip("<!"))
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(str(exc.msg)) from None
    if root is None:
        raise MalformedXML("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXML("doctype")
    if (docinfo.encoding or "UTF-8").upper() not in ("UTF-8", "US-ASCII"):
        # An encoding declaration such as UTF-7 hides markup from the byte scan
        # above; SAML messages are UTF-8, so nothing else is accepted.
        raise UnsafeXML("non-UTF-8 encoding")
    for element in root.iter():
        if etree.QName(element).namespace in _XINCLUDE_NAMESPACES:
            raise UnsafeXML("xinclude")
    return root


def text_of(element: etree._Element | None) -> str:
    """The whole text content of an element (never just the part before a child)."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()
