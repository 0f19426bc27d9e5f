"""Read-only admin pages: Entra identities (own list + inline on the user) and connections.

Nothing here edits what Entra owns: identities and metadata change only by
signing in and by ``refresh_entra_metadata``. Deleting a user still deletes
its identities (delete is allowed, so the user's delete page works); an
admin may also unlink an identity, after which the next sign-in of that
Entra user creates a new account.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .models import Connection, EntraIdentity

IDENTITY_FIELDS = ("tenant_id", "object_id", "upn", "connection", "created_at", "last_sign_in")


class _ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EntraIdentity)
class EntraIdentityAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("upn", "user", "tenant_id", "object_id", "last_sign_in", "created_at")
    list_filter = ("connection", "tenant_id")
    search_fields = ("upn", "object_id", "user__username", "user__email")
    list_select_related = ("user", "connection")
    ordering = ("-last_sign_in",)
    date_hierarchy = "last_sign_in"
    fields = ("user", *IDENTITY_FIELDS)
    readonly_fields = fields


class EntraIdentityInline(_ReadOnly, admin.TabularInline):
    """Add to your own UserAdmin's ``inlines`` if your user model's admin is custom."""

    model = EntraIdentity
    fk_name = "user"
    extra = 0
    can_delete = False
    fields = IDENTITY_FIELDS
    readonly_fields = IDENTITY_FIELDS
    verbose_name_plural = _("Entra identities (read-only)")


@admin.register(Connection)
class ConnectionAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("name", "tenant_id", "idp_entity_id", "metadata_checked_at",
                    "metadata_changed_at", "has_metadata_document")
    # The metadata XML is never rendered in the list; the detail page shows its hash
    # and dates (the document itself is what refresh_entra_metadata stored).
    fields = ("name", "tenant_id", "idp_entity_id", "metadata_url", "metadata_sha256",
              "metadata_checked_at", "metadata_changed_at")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # identities hang off a connection (PROTECT)

    @admin.display(boolean=True, description=_("metadata stored"))
    def has_metadata_document(self, obj: Connection) -> bool:
        return obj.has_metadata


def _add_inline_to_user_admin(site: admin.AdminSite = admin.site) -> None:
    """Show the identities on the user's admin page, whatever ModelAdmin the site uses.

    Runs when admin autodiscovery imports this module; the user model's admin
    must already be registered (``django.contrib.auth`` listed before
    ``thoropass_sso``). Otherwise add :class:`EntraIdentityInline` yourself.
    """
    user_model = get_user_model()
    current = site._registry.get(user_model)
    if current is None or EntraIdentityInline in (current.inlines or ()):
        return
    base = type(current)
    patched = type(base.__name__, (base,), {
        "__module__": base.__module__,
        "inlines": [*base.inlines, EntraIdentityInline],
    })
    site.unregister(user_model)
    site.register(user_model, patched)


_add_inline_to_user_admin()
