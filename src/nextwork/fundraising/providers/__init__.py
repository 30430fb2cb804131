"""Payment providers: a small plugin interface and its registry.

A provider takes the money of a donation (``start``, ``start_recurring``), gives it back
(``refund``), stops a monthly donation (``cancel_recurring``) and turns its webhooks into
``Event`` values (``parse_webhook``), which ``fundraising.webhooks`` applies, once per event
id::

    class MyProvider(Provider):
        name = "myprovider"
        methods = ("card",)

        def start(self, *, donation, success_url, cancel_url) -> dict:
            return {"kind": "redirect", "url": "...", "ref": "the provider's payment id"}

    register(MyProvider)

``NEXTWORK_PAYMENT_PROVIDERS`` lists the providers offered, by built-in name ("manual",
"stripe", "test") or by the dotted path of a ``Provider`` subclass, so an organisation plugs
its own in without touching nextwork. The built-ins register themselves the same way. The
``test`` provider is offered only while ``NEXTWORK_TEST_PAYMENTS`` is on.

Rules every provider keeps: amounts are integer cents in euros; a bad webhook signature raises
``BadSignature`` before anything is read from the body; secrets never appear in a log line or
an exception's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from nextwork.common.errors import DomainError, InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from nextwork.fundraising.models import Donation, Recurring


class BadSignature(DomainError):
    """A webhook whose signature or timestamp does not hold: refused, nothing stored."""

    code = "bad_signature"
    status = 400


class ProviderUnavailable(Unavailable):
    """The provider could not be reached or refused the call; nothing was taken."""


# What an event means for us, whatever the provider calls it.
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
RECURRING_STARTED = "recurring.started"
RECURRING_RENEWED = "recurring.renewed"
RECURRING_PAYMENT_FAILED = "recurring.payment_failed"
RECURRING_CANCELLED = "recurring.cancelled"
IGNORED = "ignored"


@dataclass(frozen=True)
class Event:
    """One webhook event, as the provider's parser understood it.

    ``donation_id`` is our id when the provider carried it back (metadata); ``ref`` is the
    provider's id of the payment (checkout session, invoice); ``recurring_ref`` its id of the
    subscription."""

    id: str
    kind: str
    provider_type: str = ""
    donation_id: int | None = None
    ref: str = ""
    recurring_ref: str = ""
    amount_cents: int | None = None
    note: str = ""


class Provider:
    """One way of taking money. Subclasses set ``name`` and ``methods`` and implement what
    they support; what they do not support raises ``InvalidInput``."""

    name: ClassVar[str] = ""
    # The donation methods (models.Method) a donor may choose with this provider.
    methods: ClassVar[tuple[str, ...]] = ()
    recurring: ClassVar[bool] = False

    @classmethod
    def from_settings(cls) -> Provider:
        return cls()

    def start(self, *, donation: Donation, success_url: str, cancel_url: str) -> dict:
        """The donor's next step: ``{"kind": "redirect", "url", "ref"?}`` or
        ``{"kind": "instructions", "text"}``. ``ref``, when given, becomes the donation's
        ``provider_ref``."""
        raise NotImplementedError

    def start_recurring(
        self, *, donation: Donation, recurring: Recurring, success_url: str, cancel_url: str
    ) -> dict:
        """Like ``start``, for the first payment of a monthly donation."""
        raise InvalidInput(f"{self.name}: no monthly donations.", field="frequency")

    def cancel_recurring(self, recurring: Recurring) -> None:
        """Stop the provider's future payments of this monthly donation."""

    def refund(self, donation: Donation) -> None:
        """Ask the provider to give the money back (its webhook then confirms)."""
        raise InvalidInput(f"{self.name}: refunds are made by hand.", field="provider")

    def parse_webhook(self, request_body: bytes, headers: Mapping[str, str]) -> list[Event]:
        raise NotFound(f"The {self.name} provider takes no webhooks.", field="provider")


_REGISTRY: dict[str, type[Provider]] = {}


def register(provider: type[Provider]) -> type[Provider]:
    """Make a provider class available under its ``name`` (usable as a class decorator)."""
    if not (isinstance(provider, type) and issubclass(provider, Provider)):
        raise TypeError(f"{provider!r} is not a Provider subclass.")
    if not provider.name:
        raise ValueError(f"{provider.__name__} has no name.")
    _REGISTRY[provider.name] = provider
    return provider


def _load_builtins() -> None:
    # Imported here: the built-ins import this module to register.
    from nextwork.fundraising.providers import manual, stripe, test  # noqa: F401


def _configured() -> dict[str, type[Provider]]:
    _load_builtins()
    names = list(getattr(settings, "NEXTWORK_PAYMENT_PROVIDERS", None) or ["manual", "stripe"])
    if getattr(settings, "NEXTWORK_TEST_PAYMENTS", False) and "test" not in names:
        names.append("test")
    found: dict[str, type[Provider]] = {}
    for entry in names:
        if entry in _REGISTRY:
            cls = _REGISTRY[entry]
        elif "." in entry:
            try:
                cls = import_string(entry)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"NEXTWORK_PAYMENT_PROVIDERS: cannot import {entry!r} ({exc})."
                ) from None
            if not (isinstance(cls, type) and issubclass(cls, Provider)) or not cls.name:
                raise ImproperlyConfigured(
                    f"NEXTWORK_PAYMENT_PROVIDERS: {entry!r} is not a named Provider subclass."
                )
        else:
            raise ImproperlyConfigured(
                f"NEXTWORK_PAYMENT_PROVIDERS: unknown provider {entry!r}; built-ins: "
                f"{', '.join(sorted(_REGISTRY))}."
            )
        if cls.name == "test" and not getattr(settings, "NEXTWORK_TEST_PAYMENTS", False):
            continue  # never without its switch, even when listed
        found[cls.name] = cls
    return found


def available() -> list[str]:
    """The names of the providers offered, in the configured order."""
    return list(_configured())


def get(name: str) -> Provider:
    """The provider called ``name`` if it is offered; ``NotFound`` otherwise."""
    cls = _configured().get(name)
    if cls is None:
        raise NotFound(f"No payment provider {name!r} here.", field="provider")
    return cls.from_settings()


__all__ = [
    "BadSignature",
    "Event",
    "Provider",
    "ProviderUnavailable",
    "available",
    "get",
    "register",
]
