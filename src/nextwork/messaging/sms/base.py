"""SMS providers: a small plugin interface and its registry.

A provider hands one text to one number and answers the provider's message id::

    class MyProvider(SmsProvider):
        name = "myprovider"

        def send(self, *, to: str, body: str, reference: str) -> str:
            ...  # raise TemporaryFailure / PermanentFailure when it fails
            return message_id

    register(MyProvider)

``NEXTWORK_SMS_PROVIDER`` names a registered provider ("console", "file", "twilio") or gives
the dotted path of an ``SmsProvider`` subclass, so an organisation can plug its own in without
touching nextwork. ``get_provider()`` builds it once per process (providers keep their HTTP
connections open between sends) and again when the settings change.

Rules every provider keeps (DESIGN.md §8): ``to`` is E.164; failures raise
``nextwork.messaging.errors.TemporaryFailure`` (worth retrying: HTTP 429/5xx, timeouts, lost
connections, with ``retry_after`` when the provider said when) or ``PermanentFailure`` (never
for this number: invalid number, other refusals); and no phone number nor text ever goes into
a log line or an exception's text — use ``redact()``.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from nextwork.common.errors import InvalidInput
from nextwork.messaging.errors import PermanentFailure
from nextwork.network.signup import clean_phone


class SmsProvider:
    """One way of handing SMS over. Subclasses set ``name`` and implement ``send``."""

    name: ClassVar[str] = ""

    @classmethod
    def from_settings(cls) -> SmsProvider:
        """Build the provider from Django settings (override when it needs some)."""
        return cls()

    def send(self, *, to: str, body: str, reference: str) -> str:
        """Hand ``body`` to the number ``to`` (E.164); return the provider's message id.

        ``reference`` is the sender's own id of the hand-over (one delivery): providers that
        keep a client reference store it, and it may appear in logs (it names no person)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the provider is not used afterwards."""


_REGISTRY: dict[str, type[SmsProvider]] = {}
_INSTANCES: dict[str, SmsProvider] = {}
_LOCK = threading.Lock()


def register(provider: type[SmsProvider]) -> type[SmsProvider]:
    """Make a provider class available under its ``name`` (usable as a class decorator)."""
    if not (isinstance(provider, type) and issubclass(provider, SmsProvider)):
        raise TypeError(f"{provider!r} is not an SmsProvider subclass.")
    if not provider.name:
        raise ValueError(f"{provider.__name__} has no name.")
    _REGISTRY[provider.name] = provider
    return provider


def providers() -> dict[str, type[SmsProvider]]:
    _load_builtins()
    return dict(_REGISTRY)


def _load_builtins() -> None:
    # Imported here, not at the top: the built-ins import this module to register.
    from nextwork.messaging.sms import local, twilio  # noqa: F401


def _resolve(name: str) -> type[SmsProvider]:
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if "." in name:
        try:
            provider = import_string(name)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"NEXTWORK_SMS_PROVIDER={name!r} cannot be imported: {exc}"
            ) from exc
        if isinstance(provider, type) and issubclass(provider, SmsProvider):
            return provider
        raise ImproperlyConfigured(
            f"NEXTWORK_SMS_PROVIDER={name!r} is not an SmsProvider subclass."
        )
    raise ImproperlyConfigured(
        f"NEXTWORK_SMS_PROVIDER={name!r} is unknown; the providers are "
        f"{', '.join(sorted(_REGISTRY))}, or give the dotted path of an SmsProvider class."
    )


def get_provider(name: str | None = None) -> SmsProvider:
    """The configured provider (``NEXTWORK_SMS_PROVIDER``, "console" by default), built once
    per process and kept, so its connections are reused."""
    name = name or getattr(settings, "NEXTWORK_SMS_PROVIDER", None) or "console"
    with _LOCK:
        provider = _INSTANCES.get(name)
        if provider is None:
            provider = _INSTANCES[name] = _resolve(name).from_settings()
        return provider


def reset_providers() -> None:
    """Close and forget the built providers (settings changed, or a worker shuts down)."""
    with _LOCK:
        built = list(_INSTANCES.values())
        _INSTANCES.clear()
    for provider in built:
        provider.close()


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith(("NEXTWORK_SMS_", "TWILIO_")) or setting == "NEXTWORK_SITE_URL":
        reset_providers()


setting_changed.connect(_on_setting_changed, dispatch_uid="nextwork-sms-providers")


# -- helpers for providers ----------------------------------------------------------------------


def redact(number: str) -> str:
    """What a log may say about a number: its last two digits."""
    digits = [c for c in number or "" if c.isdigit()]
    return "…" + "".join(digits[-2:]) if len(digits) >= 2 else "…"


def e164(number: str) -> str:
    """The number in E.164, or ``PermanentFailure`` (it will never become valid)."""
    try:
        cleaned = clean_phone(number)
    except InvalidInput as exc:
        raise PermanentFailure("invalid-number", "the number is not a valid phone number") from exc
    if not cleaned:
        raise PermanentFailure("invalid-number", "no phone number")
    return cleaned
