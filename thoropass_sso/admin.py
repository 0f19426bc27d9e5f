"""The Django admin: connections (add, edit, refresh, pause, test, audit) and Entra identities.

Adding a connection takes the pasted App Federation Metadata URL and fetches,
validates and stores it before anything is saved (a bad URL is a form error,
never a half-made connection). Identities stay read-only: they change only by
signing in. A connection users signed in through cannot be deleted (disable
it instead), so no user or identity is ever lost with one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from . import connections
from .conf import get_settings
from .connections import Actor
from .exceptions import ConnectionNotFound, MetadataNotStored, ThoropassSSOError
from .metadata.parse import parse_stored_metadata
from .models import Connection, ConnectionDomain, ConnectionEvent, EntraIdentity
from .pending import PURPOSE_TEST
from .policy import POLICY_FIELDS

IDENTITY_FIELDS = ("tenant_id", "object_id", "upn", "connection", "created_at", "last_sign_in")


class _ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EntraIdentity)
class EntraIdentityAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("upn", "user", "connection", "tenant_id", "object_id", "last_sign_in",
                    "created_at")
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


class DomainInline(admin.TabularInline):
    model = ConnectionDomain
    extra = 0
    fields = ("domain",)
    verbose_name_plural = _("email domains (people with these addresses sign in here)")


class EventInline(_ReadOnly, admin.TabularInline):
    model = ConnectionEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "actor", "detail")
    readonly_fields = fields
    ordering = ("-at", "-pk")
    verbose_name_plural = _("audit trail")


class AddConnectionForm(forms.ModelForm):
    """Paste the metadata URL: it is fetched and validated before the connection exists."""

    domains = forms.CharField(
        label=_("email domains"), required=False,
        help_text=_("Comma-separated, e.g. contoso.com, contoso.co.uk. Sub-domains only when "
                    "listed; consumer domains (outlook.com, gmail.com...) cannot be claimed."))

    class Meta:
        model = Connection
        fields = ("name", "display_name", "metadata_url", "status")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        conf = get_settings()
        try:
            self.domain_list = connections.claimable_domains(
                [d for d in (cleaned.get("domains") or "").replace(";", ",").split(",") if d.strip()],
                conf=conf)
        except ThoropassSSOError as exc:
            self.add_error("domains", str(exc))
        if cleaned.get("metadata_url") and not self.errors:
            try:
                self.fetched = connections.fetch_and_parse(cleaned["metadata_url"], conf=conf,
                                                           settings_connection=False)
            except ThoropassSSOError as exc:
                self.add_error("metadata_url", str(exc))
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "status", "tenant_id", "domain_list",
                    "certificates_expire_at", "metadata_checked_at", "refresh_failed", "users")
    list_filter = ("status",)
    search_fields = ("name", "display_name", "tenant_id", "domains__domain")
    inlines = (DomainInline, EventInline)
    actions = ("refresh_now", "disable", "enable")
    change_form_template = "thoropass_sso/admin/connection_change_form.html"
    readonly_fields = ("name", "tenant_id", "idp_entity_id", "metadata_sha256", "certificates",
                       "metadata_checked_at", "metadata_changed_at", "last_error", "last_error_at",
                       "identities_link", "policy_source")
    fieldsets = (
        (None, {"fields": ("name", "display_name", "status", "identities_link")}),
        (_("Metadata"), {"fields": ("metadata_url", "tenant_id", "idp_entity_id", "metadata_sha256",
                                    "certificates",
                                    "metadata_checked_at", "metadata_changed_at", "last_error",
                                    "last_error_at")}),
        (_("Policy"), {"fields": ("policy_source", *POLICY_FIELDS)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connection]:
        return (super().get_queryset(request).prefetch_related("domains")
                .annotate(identity_count=Count("identities")))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AddConnectionForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("name", "display_name", "metadata_url", "domains", "status"),
                            "description": _("Paste the customer's App Federation Metadata Url "
                                             "(Entra admin center > Enterprise applications > the "
                                             "app > Single sign-on > SAML Certificates). A draft "
                                             "serves only test sign-ins until you activate it.")}),)
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fields = list(self.readonly_fields)
        if connections.is_settings_connection(obj.name):
            fields += [*POLICY_FIELDS, "metadata_url"]
        return fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"status": Connection.Status.DRAFT}

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    # -- list columns -------------------------------------------------------------------
    @admin.display(description=_("domains"))
    def domain_list(self, obj: Connection) -> str:
        return ", ".join(d.domain for d in obj.domains.all())

    @admin.display(boolean=True, description=_("last refresh failed"))
    def refresh_failed(self, obj: Connection) -> bool:
        return bool(obj.last_error)

    @admin.display(description=_("users"), ordering="identity_count")
    def users(self, obj: Connection) -> str:
        count = getattr(obj, "identity_count", None)
        return "-" if count is None else str(count)

    @admin.display(description=_("users who signed in"))
    def identities_link(self, obj: Connection) -> str:
        url = reverse("admin:thoropass_sso_entraidentity_changelist")
        count = obj.identities.count()
        return format_html('<a href="{}?connection__id__exact={}">{} identit{}</a>', url, obj.pk,
                           count, "y" if count == 1 else "ies")

    @admin.display(description=_("policy"))
    def policy_source(self, obj: Connection) -> str:
        if connections.is_settings_connection(obj.name):
            return _("Defined in settings (THOROPASS_SSO): the fields below are not used.")
        return _("Held here, for this connection only.")

    @admin.display(description=_("signing certificates"))
    def certificates(self, obj: Connection) -> str:
        if not obj.has_metadata:
            return "-"
        try:
            metadata = parse_stored_metadata(obj.metadata_xml)
        except ThoropassSSOError as exc:
            return str(exc)
        return format_html_join(
            mark_safe("<br>"), "{} — {} (expires {})",  # noqa: S308 - a constant
            ((c.short_fingerprint, c.subject, f"{c.not_after:%Y-%m-%d}")
             for c in metadata.signing_certificates))

    # -- saving ----------------------------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: Connection, form, change: bool) -> None:
        actor = Actor.for_user(request.user)
        if not change:
            data, metadata = form.fetched
            connection, _outcome = connections.add_fetched(
                obj.name, obj.metadata_url, data, metadata, domains=form.domain_list,
                display_name=obj.display_name, status=obj.status, actor=actor)
            obj.pk = connection.pk
            obj.refresh_from_db()
            return
        changed = [f for f in form.changed_data if f != "status"]
        status_changed = "status" in form.changed_data
        if status_changed:
            new_status = obj.status
            obj.status = Connection.objects.get(pk=obj.pk).status
        super().save_model(request, obj, form, change)
        if changed:
            connections.record(obj, "changed", actor, ", ".join(changed))
        if status_changed:
            try:
                connections.set_status(obj, new_status, actor=actor)
            except ThoropassSSOError as exc:
                messages.error(request, str(exc))
        if "metadata_url" in changed:
            self._refresh(request, obj)

    def save_formset(self, request, form, formset, change) -> None:
        instances = formset.save()
        if formset.model is ConnectionDomain and (instances or formset.deleted_objects):
            actor = Actor.for_user(request.user)
            detail = ", ".join([*(d.domain for d in instances),
                                *(f"-{d.domain}" for d in formset.deleted_objects)])
            connections.record(form.instance, "domains changed", actor, detail)

    # -- deleting ------------------------------------------------------------------------
    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.identities.exists():
            return False  # disable it instead: users and identities are never deleted with it
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Connection) -> None:
        connections.remove(obj, actor=Actor.for_user(request.user))

    # -- actions ---------------------------------------------------------------------------
    def _refresh(self, request: HttpRequest, connection: Connection) -> None:
        try:
            outcome = connections.refresh(connection.name, actor=Actor.for_user(request.user))
        except ThoropassSSOError as exc:
            messages.error(request, _("%(name)s: refresh failed: %(error)s")
                           % {"name": connection.name, "error": exc})
            return
        state = _("unchanged") if not outcome.changed else _("updated")
        messages.success(request, _("%(name)s: metadata %(state)s.")
                         % {"name": connection.name, "state": state})

    @admin.action(description=_("Refresh metadata now"), permissions=["change"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            self._refresh(request, connection)

    def _set_status(self, request, queryset, status: str) -> None:
        actor = Actor.for_user(request.user)
        for connection in queryset:
            try:
                if connections.set_status(connection, status, actor=actor):
                    messages.success(request, _("%(name)s is now %(status)s.")
                                     % {"name": connection.name, "status": status})
            except ThoropassSSOError as exc:
                messages.error(request, str(exc))

    @admin.action(description=_("Disable (pause sign-ins; users are kept)"), permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        self._set_status(request, queryset, Connection.Status.DISABLED)

    @admin.action(description=_("Enable / activate"), permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        self._set_status(request, queryset, Connection.Status.ACTIVE)

    # -- the test sign-in ------------------------------------------------------------------
    def get_urls(self):
        return [
            path("<int:object_id>/test/", self.admin_site.admin_view(self.test_view),
                 name="thoropass_sso_connection_test"),
            *super().get_urls(),
        ]

    def test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        connection = get_object_or_404(Connection, pk=object_id)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        back = reverse("admin:thoropass_sso_connection_change", args=[connection.pk])
        if request.method == "POST":
            from .registry import registry
            from .views.login import begin_sign_in

            try:
                runtime = registry.for_name(connection.name)
            except (ConnectionNotFound, MetadataNotStored):
                messages.error(request, _("No metadata is stored for this connection yet."))
                return HttpResponseRedirect(back)
            try:
                return begin_sign_in(request, runtime, back, purpose=PURPOSE_TEST,
                                     actor_id=str(request.user.pk))
            except ThoropassSSOError as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect(back)
        return TemplateResponse(request, "thoropass_sso/admin/test_sign_in_start.html", {
            **self.admin_site.each_context(request),
            "title": _("Test sign-in through %(name)s") % {"name": connection},
            "connection": connection,
            "opts": self.model._meta,
            "back": back,
        })


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
