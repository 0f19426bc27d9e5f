"""The SAML endpoints, one module each: the Sign-on URL (login), the ACS, SP metadata, logout."""

from ..slo import LogoutView
from .acs import AssertionConsumerServiceView
from .login import LoginView
from .metadata import MetadataView
from .signed_out import SignedOutView

__all__ = ["AssertionConsumerServiceView", "LoginView", "LogoutView", "MetadataView",
           "SignedOutView"]
