"""Sign in with Microsoft Entra ID (SAML 2.0) for Django."""

import warnings

__version__ = "0.1.0"

# pysaml2 touches a cipher mode that cryptography has moved; the notice is
# about pysaml2's code, not something a site can act on, so keep it out of
# every manage.py run.
warnings.filterwarnings("ignore", message="CFB has been moved", module=r"saml2\.cryptography")
