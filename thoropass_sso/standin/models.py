"""The stand-in's tenants and demo users, kept so that sign-in survives restarts.

The signing key is a throwaway key of a pretend tenant on a developer's machine:
the stand-in refuses to run anywhere else (standin/conf.py), and only the
stand-in's own connection trusts it.
"""

from __future__ import annotations

from django.db import models


class StandInTenant(models.Model):
    name = models.SlugField(max_length=64, unique=True)  # the connection it stands in for
    display_name = models.CharField(max_length=200, blank=True)
    tenant_id = models.CharField(max_length=36, unique=True)
    app_id = models.CharField(max_length=36)
    domain = models.CharField(max_length=253, blank=True)
    key_pem = models.TextField()
    cert_pem = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "pk")
        verbose_name = "stand-in tenant"

    def __str__(self) -> str:
        return self.display_name or self.name


class StandInUser(models.Model):
    tenant = models.ForeignKey(StandInTenant, on_delete=models.CASCADE, related_name="users")
    upn = models.CharField(max_length=255)
    given_name = models.CharField(max_length=100, blank=True)
    surname = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=255, blank=True)
    object_id = models.CharField(max_length=36)
    groups = models.JSONField(default=list, blank=True)
    roles = models.JSONField(default=list, blank=True)
    guest_identity_provider = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "pk")
        verbose_name = "stand-in user"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "upn"], name="thoropass_sso_standin_one_upn"),
        ]

    def __str__(self) -> str:
        return self.upn
