"""Sign in with Microsoft Entra ID (SAML 2.0) for Django."""

__version__ = "0.2.0"
