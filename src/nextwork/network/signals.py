"""What other parts of the platform can hook on in a member's life."""

from django.dispatch import Signal

# Sent inside the registration's transaction, right after a new member and their sign-up
# ``Consent`` were recorded, with ``member``, ``text`` (the sign-up ConsentText), ``source``
# (site, api or import) and ``sms_opt_in`` (the optional SMS box, only ever True with a phone).
# Messaging records the channel consents from it; raising rolls the registration back.
member_registered = Signal()

# Sent inside the profile update's transaction when a member's phone number changed, with
# ``member`` and ``previous`` (the old number, E.164, or ""). An SMS consent was given for a
# number: messaging withdraws it, so a new (perhaps recycled) number never gets SMS unasked.
phone_changed = Signal()
