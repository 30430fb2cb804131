"""What other parts of the platform can hook on in the registry's life."""

from django.dispatch import Signal

# Sent inside the import's transaction right after another boundary set became active, with
# ``boundary_set``. Receivers move what they keep onto the new set and return
# ``(name, summary dict)`` for the import report; raising rolls the whole import back.
boundary_set_activated = Signal()
