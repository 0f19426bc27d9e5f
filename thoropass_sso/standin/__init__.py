"""A local Entra ID stand-in: try "Sign in with Microsoft" in your own site without a tenant.

Add ``"thoropass_sso.standin"`` to ``INSTALLED_APPS`` and
``path("entra-standin/", include("thoropass_sso.standin.urls"))`` to your URLs,
leave ``THOROPASS_SSO['METADATA_URL']`` unset, and run ``migrate`` and
``refresh_entra_metadata``: the stand-in becomes the site's connection. Its
signing key and its demo users (with their object ids) live in the database, so
sign-in survives restarts and autoreloads and a user stays one user. It signs in
anyone who clicks, so it runs only with ``DEBUG`` on or on a localhost site
(standin/conf.py); never deploy it.
"""
