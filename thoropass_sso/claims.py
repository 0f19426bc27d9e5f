"""Entra's claim URIs and the typed claims object handed to policy code and signals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .entra import (  # noqa: F401  (re-exported: sites import the claim URIs from here)
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
    CLAIM_WIDS,
    GUEST_UPN_MARKER,
    issuer_for,
)

# Claims are read by their full URIs, exactly as Entra names them. pysaml2's
# attribute maps would rename some (emailaddress -> emailAddress, surname -> sn);
# the verifier does not use them, and friendly-name aliases are deliberately not
# accepted: a custom claim literally named "groups" or "role" must not feed
# group mapping or access rules.
Attributes = Mapping[str, tuple[str, ...]]


def _values(attributes: Attributes, uri: str) -> tuple[str, ...]:
    return tuple(attributes.get(uri, ()))


def _first(attributes: Attributes, uri: str) -> str:
    values = _values(attributes, uri)
    return values[0].strip() if values else ""


@dataclass(frozen=True)
class EntraClaims:
    """What Entra said about the user in one verified assertion.

    ``email`` is not verified by Entra: never use it as a key or for
    authorization. ``tenant_id`` + ``object_id`` identify the user.
    """

    tenant_id: str
    object_id: str
    name_id: str
    name_id_format: str = ""
    upn: str = ""
    email: str = ""
    given_name: str = ""
    surname: str = ""
    display_name: str = ""
    identity_provider: str = ""
    auth_methods: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    directory_roles: tuple[str, ...] = ()
    groups_overage: bool = False
    session_index: str = ""
    attributes: Attributes = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __repr__(self) -> str:  # pragma: no cover - keeps claims out of tracebacks
        return f"EntraClaims(tenant_id={self.tenant_id!r}, object_id={self.object_id!r})"

    @property
    def issuer(self) -> str:
        return issuer_for(self.tenant_id)

    @property
    def is_guest(self) -> bool:
        """True for B2B guests: their identity provider is not this tenant's issuer,
        or their UPN has Entra's ``#EXT#`` guest marker."""
        foreign_idp = bool(self.identity_provider) and self.identity_provider != self.issuer
        return foreign_idp or GUEST_UPN_MARKER in self.upn.lower()

    @classmethod
    def from_attributes(
        cls,
        attributes: Mapping[str, list[str] | tuple[str, ...]],
        *,
        name_id: str,
        name_id_format: str = "",
        session_index: str = "",
    ) -> EntraClaims:
        attrs: Attributes = MappingProxyType({k: tuple(v) for k, v in attributes.items()})
        return cls(
            tenant_id=_first(attrs, CLAIM_TENANT_ID).lower(),
            object_id=_first(attrs, CLAIM_OBJECT_ID).lower(),
            name_id=name_id,
            name_id_format=name_id_format,
            upn=_first(attrs, CLAIM_NAME) or name_id,
            email=_first(attrs, CLAIM_EMAIL),
            given_name=_first(attrs, CLAIM_GIVEN_NAME),
            surname=_first(attrs, CLAIM_SURNAME),
            display_name=_first(attrs, CLAIM_DISPLAY_NAME),
            identity_provider=_first(attrs, CLAIM_IDENTITY_PROVIDER),
            auth_methods=_values(attrs, CLAIM_AUTH_METHODS),
            groups=_values(attrs, CLAIM_GROUPS),
            roles=_values(attrs, CLAIM_ROLES),
            directory_roles=_values(attrs, CLAIM_WIDS),
            groups_overage=bool(_values(attrs, CLAIM_GROUPS_OVERAGE)),
            session_index=session_index,
            attributes=attrs,
        )
