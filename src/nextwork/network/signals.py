"""What other parts of the platform can hook on in a member's life."""

from django.dispatch import Signal

# Sent inside the registration's transaction, right after a new member and their sign-up
# ``Consent`` were recorded, with ``member``, ``text`` (the sign-up ConsentText), ``source``
# (site, api or import) and ``sms_opt_in`` (the optional SMS box, only ever True with a phone).
# Messaging records the channel consents from it; raising rolls the registration back.
member_registered = Signal()

# Sent inside the writing transaction whenever a member's phone number changes — their profile
# (``member_update_profile``), the admin, or an import that brings another number — with
# ``member``, ``previous`` (the old number, E.164, or "") and ``by``: "member", "staff" or
# "import". An SMS consent was given for a number: messaging withdraws it, so a new (perhaps
# recycled) number never gets SMS unasked. Network only sends it: it never imports messaging.
phone_changed = Signal()
