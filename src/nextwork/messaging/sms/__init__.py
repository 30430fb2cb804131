"""The SMS channel: providers (``base``, ``local``, ``twilio``), encoding and cost
(``encoding``), STOP replies (``stop``) and Twilio's webhooks (``webhooks``).

The delivery engine calls ``get_provider().send(to=..., body=..., reference=...)``.
"""

from nextwork.messaging.sms.base import SmsProvider, get_provider, register, reset_providers

__all__ = ["SmsProvider", "get_provider", "register", "reset_providers"]
