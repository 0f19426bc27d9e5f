"""Email domains: normalizing them, and which ones a connection may claim.

A domain leads everyone whose address ends in it to one customer's tenant at
the Sign-on URL, so claiming one is a statement about who works where. Consumer
mail domains (anyone can have an address there) can never be claimed, and a
domain is matched exactly: ``eu.contoso.com`` is not ``contoso.com``'s unless
it is listed too.
"""

from __future__ import annotations

import re

# Domains where anyone can open a mailbox: no company owns their users.
CONSUMER_DOMAINS = frozenset({
    "aol.com", "gmail.com", "googlemail.com", "gmx.com", "gmx.de", "gmx.net", "hey.com",
    "hotmail.co.uk", "hotmail.com", "hotmail.de", "hotmail.fr", "icloud.com", "live.com",
    "live.co.uk", "mac.com", "mail.com", "mail.ru", "me.com", "msn.com", "outlook.com",
    "outlook.de", "outlook.fr", "proton.me", "protonmail.com", "qq.com", "web.de",
    "yahoo.co.uk", "yahoo.com", "yahoo.de", "yahoo.fr", "yandex.com", "yandex.ru",
    "zoho.com", "163.com", "126.com",
    # Entra's own: every tenant has <name>.onmicrosoft.com; the bare domain belongs to no one.
    "onmicrosoft.com",
})

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class DomainError(ValueError):
    """The value is not a domain a connection may claim; the message says why."""


def normalize_domain(value: str) -> str:
    """``value`` as a lower-case, IDNA-encoded host name; raises DomainError if it is not one."""
    text = value.strip().rstrip(".").lower()
    if text.startswith("@"):
        text = text[1:]
    try:
        encoded = text.encode("idna").decode("ascii") if text else ""
    except UnicodeError:
        raise DomainError(f"{value!r} is not a domain name") from None
    labels = encoded.split(".")
    if len(encoded) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise DomainError(f"{value!r} is not a domain name (like contoso.com)")
    if labels[-1].isdigit():
        raise DomainError(f"{value!r} is an IP address, not a domain name")
    return encoded


def normalize_claimable_domain(value: str) -> str:
    """Like :func:`normalize_domain`, and refuses domains no company can claim."""
    domain = normalize_domain(value)
    if domain in CONSUMER_DOMAINS:
        raise DomainError(f"{domain} is a consumer mail domain: anyone can have an address there, "
                          "so it cannot lead to one company's sign-in")
    return domain


def domain_of_email(email: str) -> str:
    """The normalized domain of an email address, or '' when it is not an address."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or len(email) > 320:
        return ""
    try:
        return normalize_domain(domain)
    except DomainError:
        return ""
