"""The pieces of pysaml2 thoropass_sso uses, imported in one place.

pysaml2's ``saml2.cryptography.symmetric`` touches a cipher mode that
``cryptography`` has moved, which prints a CryptographyDeprecationWarning on
every ``manage.py`` run. The notice is about pysaml2's code, not anything a site
can act on, so it is silenced here, for this import only -- no process-wide
warnings filter is installed.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="CFB has been moved")
    import saml2
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp
    from saml2.config import IdPConfig
    from saml2.pack import http_redirect_message
    from saml2.server import Server
    from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

__all__ = ["BINDING_HTTP_POST", "BINDING_HTTP_REDIRECT", "DIGEST_SHA1", "DIGEST_SHA256", "IdPConfig",
           "SIG_RSA_SHA1", "SIG_RSA_SHA256", "Server", "http_redirect_message", "saml", "saml2",
           "samlp"]
