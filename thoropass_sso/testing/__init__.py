"""Testing tools: an Entra ID stand-in that signs real SAML responses.

The stand-in is pysaml2's IdP ``Server`` configured the way Entra behaves
(see ENTRA.md): issuer ``https://sts.windows.net/{tenant}/``, assertion signed
with RSA-SHA256 and exclusive c14n by default, Entra's claim URIs. Tests and
the demo use it to sign users in through the real SAML path.
"""

from .certificates import SigningKeyPair, make_signing_key_pair
from .entra import EntraStandIn, EntraUser

__all__ = ["EntraStandIn", "EntraUser", "SigningKeyPair", "make_signing_key_pair"]
