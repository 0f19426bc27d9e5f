"""Bringing a customer on: a test sign-in through a connection, before anyone depends on it.

The customer's admin (or the vendor's support engineer) pastes the App
Federation Metadata URL, which creates the connection as a *draft*
(connections.py), then runs a test sign-in from the Django admin: the browser
goes to the customer's tenant with an AuthnRequest marked as a test in the
signed pending-request cookie, together with the staff member who started it.
The ACS verifies the response exactly as for a real sign-in -- signature,
audience, tenant, replay -- and then, instead of signing anyone in, shows what
arrived and what this site's policy would make of it. No user, identity or
group is created or changed; the step is recorded in the connection's audit
trail. A draft never serves a real sign-in (views/acs.py), so a mistake in
the customer's setup locks nobody out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .adapter import MappingPlan, get_adapter
from .claims import EntraClaims
from .connections import Actor, record
from .entra import CLAIM_EMAIL, CLAIM_GIVEN_NAME, CLAIM_NAME, CLAIM_SURNAME
from .exceptions import SignInRejected
from .flow import SignIn
from .models import Connection, EntraIdentity
from .pending import PendingRequest

REPORT_TEMPLATE = "thoropass_sso/test_sign_in.html"

# Which claim feeds which user field in the default adapter (shown next to the claims).
_FEEDS = {CLAIM_EMAIL: "email", CLAIM_GIVEN_NAME: "first_name", CLAIM_SURNAME: "last_name",
          CLAIM_NAME: "username (first sign-in) and UPN"}


@dataclass(frozen=True)
class SignInReport:
    connection: str
    claims: list[tuple[str, list[str], str]]  # (claim, values, what it feeds)
    user_fields: dict[str, Any]
    username: str
    existing_user: str
    groups: tuple[str, ...] | None
    roles: tuple[str, ...]
    overage: bool
    plan: MappingPlan | None
    refusal: str  # reason code a real sign-in would be refused with, or ""


def _actor(pending: PendingRequest) -> Actor:
    user = get_user_model()._default_manager.filter(pk=pending.actor_id).first() \
        if pending.actor_id else None
    return Actor.for_user(user) if user is not None else Actor(f"user:{pending.actor_id or '?'}")


def build_report(request: HttpRequest, sign_in: SignIn) -> SignInReport:
    """What a real sign-in through this connection would do, without doing any of it."""
    adapter = get_adapter()
    claims: EntraClaims = sign_in.claims
    refusal, groups, plan = "", None, None
    try:
        adapter.check_sign_in_allowed(request, sign_in)
        groups = adapter.entra_groups(request, sign_in)
        adapter.check_access(request, sign_in, groups)
        plan = adapter.plan_groups_and_roles(sign_in, groups)
    except SignInRejected as rejection:
        refusal = rejection.reason.code
    identity = (EntraIdentity.objects.filter(tenant_id=claims.tenant_id, object_id=claims.object_id)
                .select_related("user").first())
    if identity is None and not refusal and not adapter.may_create_user(request, sign_in):
        refusal = "unknown_user"
    return SignInReport(
        connection=sign_in.connection.name,
        claims=[(name, list(values), _FEEDS.get(name, ""))
                for name, values in sorted(claims.attributes.items())],
        user_fields=adapter.user_fields(sign_in),
        username=identity.user.get_username() if identity else adapter.new_username(sign_in),
        existing_user=identity.user.get_username() if identity else "",
        groups=groups,
        roles=claims.roles,
        overage=claims.groups_overage,
        plan=plan,
        refusal=refusal,
    )


def report_response(request: HttpRequest, sign_in: SignIn, pending: PendingRequest) -> HttpResponse:
    """The ACS's answer to a verified test sign-in: the report page, and an audit event."""
    report = build_report(request, sign_in)
    connection = Connection.objects.get(pk=sign_in.connection.id)
    outcome = f"would be refused: {report.refusal}" if report.refusal else "would sign in"
    record(connection, "test sign-in", _actor(pending),
           f"{outcome}; {len(report.claims)} claims"
           + ("; groups overage" if report.overage else ""))
    return render(request, REPORT_TEMPLATE, {
        "report": report,
        "connection": connection,
        "back": pending.next_path,
    })
