"""What thoropass_sso stores.

- :class:`Connection`: one customer's Entra tenant -- its metadata, its state
  (draft, active, disabled) and its policy. The unit of configuration and of trust.
- :class:`ConnectionDomain`: the email domains that lead to a connection at the
  Sign-on URL (each domain belongs to at most one connection).
- :class:`ConnectionEvent`: the audit trail of a connection (who did what, when).
- :class:`EntraIdentity`: the immutable Entra key (tenant id + object id) behind a user.
- :class:`UsedMessageId`: SAML message ids already used (the default replay store).

A site configured in settings (``THOROPASS_SSO['METADATA_URL']``) has one
connection, named ``THOROPASS_SSO['CONNECTION']`` ("default"), whose policy
comes from the settings; every other connection's policy is held here, on its row.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_revision() -> str:
    return secrets.token_hex(8)


def db_datetime(moment):
    """An aware datetime as a DateTimeField takes it: naive local time when USE_TZ is False."""
    return moment if settings.USE_TZ else timezone.make_naive(moment)


class Connection(models.Model):
    """One Entra tenant's identity provider, its last good metadata, its state and policy."""

    class Status(models.TextChoices):
        # Drafts are being onboarded: only a test sign-in by staff goes through them.
        DRAFT = "draft", _("draft (test sign-ins only)")
        ACTIVE = "active", _("active")
        DISABLED = "disabled", _("disabled")

    name = models.SlugField(_("name"), max_length=64, unique=True,
                            help_text=_("Short, permanent name, used in URLs (?connection=NAME) "
                                        "and commands."))
    display_name = models.CharField(_("display name"), max_length=200, blank=True,
                                    help_text=_("The customer's name, as staff and users see it."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.ACTIVE)

    # -- metadata and its refresh state ------------------------------------------
    metadata_url = models.CharField(_("App Federation Metadata URL"), max_length=2048, blank=True)
    # Pinned when metadata is first stored; a refresh never changes it (docs/many-customers.md).
    tenant_id = models.CharField(_("tenant id"), max_length=36, blank=True)
    idp_entity_id = models.CharField(_("IdP entity id"), max_length=255, blank=True)
    metadata_xml = models.TextField(_("metadata document"), blank=True)
    metadata_sha256 = models.CharField(_("metadata SHA-256"), max_length=64, blank=True)
    # When the stored document was last confirmed good (fetched, even unchanged).
    metadata_checked_at = models.DateTimeField(_("metadata last checked"), null=True, blank=True)
    # When the stored document last changed.
    metadata_changed_at = models.DateTimeField(_("metadata last changed"), null=True, blank=True)
    # The newest signing certificate's expiry, so checks and lists need not parse documents.
    certificates_expire_at = models.DateTimeField(_("newest certificate expires"), null=True,
                                                  blank=True)
    last_error = models.TextField(_("last refresh error"), blank=True)
    last_error_at = models.DateTimeField(_("last refresh error at"), null=True, blank=True)

    # -- this customer's policy (docs/groups-and-policy.md) -------------------------
    create_users = models.BooleanField(_("create users just in time"), default=True)
    allow_guests = models.BooleanField(_("allow B2B guests"), default=True)
    allow_idp_initiated = models.BooleanField(
        _("allow IdP-initiated sign-in"), default=True,
        help_text=_("The My Apps tile and Entra's 'Test this application' button."))
    landing_path = models.CharField(
        _("default landing path"), max_length=2048, blank=True,
        help_text=_("Where users go after sign-in when no page was asked for, e.g. /reports/. "
                    "Empty: the site's LOGIN_REDIRECT_URL."))
    group_map = models.JSONField(_("group map"), default=dict, blank=True,
                                 help_text=_('Entra group object id to Django group name(s), '
                                             'e.g. {"<group id>": "Editors"}.'))
    role_map = models.JSONField(_("app role map"), default=dict, blank=True,
                                help_text=_('App role value to Django group name(s), '
                                            'e.g. {"Admin": "Administrators"}.'))
    staff_groups = models.JSONField(_("staff groups"), default=list, blank=True)
    staff_roles = models.JSONField(_("staff app roles"), default=list, blank=True)
    superuser_groups = models.JSONField(_("superuser groups"), default=list, blank=True)
    superuser_roles = models.JSONField(_("superuser app roles"), default=list, blank=True)
    mirror_groups = models.BooleanField(
        _("mirror groups"), default=True,
        help_text=_("Remove mapped groups and flags the user no longer has in Entra."))
    allowed_groups = models.JSONField(_("allowed groups"), default=list, blank=True,
                                      help_text=_("When set (or allowed roles), only members "
                                                  "may sign in."))
    allowed_roles = models.JSONField(_("allowed app roles"), default=list, blank=True)
    restrict_email_domains = models.BooleanField(
        _("only emails in the connection's domains"), default=False,
        help_text=_("Refuse a sign-in whose email is outside this connection's domains, so this "
                    "tenant cannot create accounts that look like another company's staff."))
    sso_required = models.BooleanField(
        _("SSO required for these domains"), default=False,
        help_text=_("The site's password login refuses emails of this connection's domains."))
    require_encryption = models.BooleanField(
        _("require encrypted assertions"), default=False,
        help_text=_("On once the customer switched Token encryption on in Entra: an assertion in "
                    "the clear is then refused."))
    sign_requests = models.BooleanField(
        _("sign requests"), default=False,
        help_text=_("Sign AuthnRequests and logout messages to this tenant (Entra's 'Require "
                    "verification certificates'). Entra then disables IdP-initiated sign-in and "
                    "its Test button."))

    # Changes whenever the row is saved; every worker compares it at most every
    # METADATA_RELOAD_INTERVAL seconds and rebuilds what it cached (registry.py).
    revision = models.CharField(_("revision"), max_length=16, default=new_revision, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Entra connection")
        verbose_name_plural = _("Entra connections")
        ordering = ("name",)
        constraints = [
            # Routing is by the signed issuer, which names the tenant: one tenant, one connection.
            models.UniqueConstraint(fields=["tenant_id"], condition=~models.Q(tenant_id=""),
                                    name="thoropass_sso_one_connection_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.name

    def save(self, *args, **kwargs) -> None:
        self.revision = new_revision()
        self.updated_at = timezone.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "revision", "updated_at"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from .policy import validate_row_policy

        errors = validate_row_policy(self)
        if errors:
            raise ValidationError(errors)

    @property
    def has_metadata(self) -> bool:
        return bool(self.metadata_xml)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ConnectionDomain(models.Model):
    """An email domain whose people sign in through ``connection``.

    Stored lower-case, IDNA-encoded; unique across connections. Sub-domains
    match only when listed themselves.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="domains",
                                   verbose_name=_("connection"))
    domain = models.CharField(_("domain"), max_length=253, unique=True)

    class Meta:
        verbose_name = _("email domain")
        verbose_name_plural = _("email domains")
        ordering = ("domain",)

    def __str__(self) -> str:
        return self.domain

    def clean(self) -> None:
        from .domains import DomainError, normalize_claimable_domain

        try:
            self.domain = normalize_claimable_domain(self.domain)
        except DomainError as exc:
            raise ValidationError({"domain": str(exc)}) from None


class ConnectionEvent(models.Model):
    """One step in a connection's life, for the customer's audit trail.

    Never holds claims, assertions or tokens: who acted, what happened, when.
    Kept when the connection is removed (``connection_name`` says which it was).
    """

    connection = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="events", verbose_name=_("connection"))
    connection_name = models.CharField(_("connection name"), max_length=64)
    action = models.CharField(_("action"), max_length=40)
    # "user:<pk> <username>" for the admin, "command:<os user>" for management commands.
    actor = models.CharField(_("by"), max_length=200)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("connection event")
        verbose_name_plural = _("connection events")
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.connection_name}: {self.action}"


class EntraIdentity(models.Model):
    """The immutable Entra key (tenant id + object id) behind a Django user.

    Users are looked up by this pair only, never by email or UPN: both are
    mutable and reusable in Entra, and keying on them enables account takeover.
    The same UPN in two tenants is two identities, and two users.
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


@receiver([post_save, post_delete], sender=ConnectionDomain,
          dispatch_uid="thoropass_sso.domain_changes_connection")
def _domain_changed(sender: type, instance: ConnectionDomain, **kwargs: object) -> None:
    # A connection's domains are part of what workers cache (registry.py): changing
    # one is a change of the connection, however it was made (admin inline, shell).
    Connection.objects.filter(pk=instance.connection_id).update(revision=new_revision())
