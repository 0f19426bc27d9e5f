"""Signals thoropass_sso sends. Each is really sent; tests prove it.

``user_created``: a Django user was created just in time.
    kwargs: ``request``, ``user``, ``claims`` (:class:`~thoropass_sso.claims.EntraClaims`).
``user_signed_in``: a user signed in through Entra (after ``django.contrib.auth.login``).
    kwargs: ``request``, ``user``, ``claims``, ``created`` (bool).
``sign_in_rejected``: a SAML response or sign-in was refused.
    kwargs: ``request``, ``reason`` (:class:`~thoropass_sso.reasons.Reason`),
    ``reference`` (str shown to the user), ``claims`` (EntraClaims or None: only
    set when the response itself verified and a policy refused it).
"""

from django.dispatch import Signal

user_created = Signal()
user_signed_in = Signal()
sign_in_rejected = Signal()
