"""What thoropass_sso stores: one row per connection (an Entra tenant's IdP)
and one row per Entra identity linked to a Django user.

A *connection* is the unit of trust. Today a site has one (named by
``THOROPASS_SSO['CONNECTION']``, "default"); a multi-tenant SaaS will have one per
customer tenant, which is why metadata and identities hang off it rather than
off the settings.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Connection(models.Model):
    """One Entra tenant's identity provider, and its last good federation metadata."""

    name = models.SlugField(_("name"), max_length=64, unique=True)
    tenant_id = models.CharField(_("tenant id"), max_length=36, blank=True)
    idp_entity_id = models.CharField(_("IdP entity id"), max_length=255, blank=True)
    metadata_url = models.CharField(_("metadata URL"), max_length=2048, blank=True)
    metadata_xml = models.TextField(_("metadata document"), blank=True)
    metadata_sha256 = models.CharField(_("metadata SHA-256"), max_length=64, blank=True)
    # When the stored document was last confirmed good (fetched, even unchanged).
    metadata_checked_at = models.DateTimeField(_("metadata last checked"), null=True, blank=True)
    # When the stored document last changed.
    metadata_changed_at = models.DateTimeField(_("metadata last changed"), null=True, blank=True)

    class Meta:
        verbose_name = _("Entra connection")
        verbose_name_plural = _("Entra connections")

    def __str__(self) -> str:
        return self.name

    @property
    def has_metadata(self) -> bool:
        return bool(self.metadata_xml)


class EntraIdentity(models.Model):
    """The immutable Entra key (tenant id + object id) behind a Django user.

    Users are looked up by this pair only, never by email or UPN: both are
    mutable and reusable in Entra, and keying on them enables account takeover.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="entra_identities",
        verbose_name=_("user"),
    )
    connection = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="identities",
        verbose_name=_("connection"),
    )
    tenant_id = models.CharField(_("tenant id"), max_length=36)
    object_id = models.CharField(_("object id"), max_length=36)
    upn = models.CharField(_("user principal name"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("first sign-in"), auto_now_add=True)
    last_sign_in = models.DateTimeField(_("last sign-in"), null=True, blank=True)

    class Meta:
        verbose_name = _("Entra identity")
        verbose_name_plural = _("Entra identities")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "object_id"], name="thoropass_sso_unique_entra_identity"
            ),
        ]

    def __str__(self) -> str:
        return self.upn or f"{self.tenant_id}/{self.object_id}"


class UsedMessageId(models.Model):
    """A SAML message id (assertion, answered AuthnRequest, LogoutRequest) already used.

    The default replay store (``THOROPASS_SSO['REPLAY_CACHE']`` left empty): one
    INSERT per sign-in, in the sign-in's own transaction, seen by every worker
    that shares the database. Rows are never culled before they expire, unlike
    a database cache's ``MAX_ENTRIES``; expired rows are purged by
    :func:`thoropass_sso.replay.purge_expired`.
    """

    # "<kind>:<sha256 of the id>": ids are attacker-chosen, so they are hashed.
    key = models.CharField(_("key"), max_length=80, primary_key=True)
    expires = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("used SAML message id")
        verbose_name_plural = _("used SAML message ids")

    def __str__(self) -> str:
        return self.key
