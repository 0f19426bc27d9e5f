"""This site's identity as a SAML service provider: the same for every connection.

A gallery app's Identifier and Reply URL are preconfigured, so every customer
tenant sends the same Audience and posts to the same ACS (ENTRA.md). The SAML
layer is handed this object, never the settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SPIdentity:
    entity_id: str  # Entra's "Identifier (Entity ID)"; the Audience of every response
    acs_url: str  # Entra's "Reply URL"; every Recipient and Destination
    logout_url: str
    name_id_format: str
