"""Signals thoropass_sso sends. Each is really sent; tests/test_signals.py proves it.

Every ``claims`` argument is a typed :class:`~thoropass_sso.claims.EntraClaims`,
never a raw attribute dict. Receivers run inside the request: keep them quick,
and never log the claims.

``user_created``: a Django user was created just in time (first Entra sign-in).
    Sent by the ACS view after ``django.contrib.auth.login``, before ``user_signed_in``.
    kwargs: ``request``, ``user``, ``claims``.
``user_signed_in``: a user signed in through Entra (after ``django.contrib.auth.login``,
    groups and roles already applied).
    kwargs: ``request``, ``user``, ``claims``, ``created`` (bool).
``sign_in_rejected``: a SAML message or sign-in was refused (4xx/5xx page shown).
    Sender: :class:`~thoropass_sso.exceptions.SignInRejected`.
    kwargs: ``request``, ``reason`` (:class:`~thoropass_sso.reasons.Reason`),
    ``reference`` (str shown to the user and logged), ``claims`` (EntraClaims or
    None: only set when the response itself verified and a policy refused it).
    Also sent for refused single-logout messages (``claims`` is then None).
"""

from django.dispatch import Signal

user_created = Signal()
user_signed_in = Signal()
sign_in_rejected = Signal()
