from django.dispatch import receiver

from thoropass_sso.signals import user_signed_in


@receiver(user_signed_in)
def remember_claims(sender, request, user, claims, **kwargs) -> None:
    # Demo only: show the newcomer which claims arrived. A real site would not
    # keep claims in the session.
    request.session["demo_claims"] = {name: list(values) for name, values in claims.attributes.items()}
