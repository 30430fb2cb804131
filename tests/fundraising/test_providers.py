"""The payment provider registry: built-ins and third-party providers alike."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from nextwork.common.errors import NotFound
from nextwork.fundraising import providers
from nextwork.fundraising.providers import Provider, register


class ThirdParty(Provider):
    """What an organisation's own package would ship."""

    name = "caisse"
    methods = ("card",)

    def start(self, *, donation, success_url, cancel_url) -> dict:
        return {"kind": "redirect", "url": f"https://caisse.example/pay/{donation.pk}"}


def test_defaults_and_the_test_switch(settings):
    settings.NEXTWORK_PAYMENT_PROVIDERS = []
    settings.NEXTWORK_TEST_PAYMENTS = False
    assert providers.available() == ["manual", "stripe"]
    settings.NEXTWORK_TEST_PAYMENTS = True
    assert providers.available() == ["manual", "stripe", "test"]
    # Listed but switched off: still not offered.
    settings.NEXTWORK_PAYMENT_PROVIDERS = ["test", "manual"]
    settings.NEXTWORK_TEST_PAYMENTS = False
    assert providers.available() == ["manual"]
    with pytest.raises(NotFound):
        providers.get("test")


def test_a_third_party_provider_by_dotted_path(settings):
    settings.NEXTWORK_PAYMENT_PROVIDERS = ["manual", "tests.fundraising.test_providers.ThirdParty"]
    settings.NEXTWORK_TEST_PAYMENTS = False
    assert providers.available() == ["manual", "caisse"]
    assert isinstance(providers.get("caisse"), ThirdParty)
    with pytest.raises(NotFound, match="stripe"):
        providers.get("stripe")  # not offered here


def test_misconfiguration_is_clear(settings):
    settings.NEXTWORK_PAYMENT_PROVIDERS = ["paypal"]
    with pytest.raises(ImproperlyConfigured, match="unknown provider 'paypal'"):
        providers.available()
    settings.NEXTWORK_PAYMENT_PROVIDERS = ["nextwork.fundraising.models.Donation"]
    with pytest.raises(ImproperlyConfigured, match="not a named Provider subclass"):
        providers.available()
    settings.NEXTWORK_PAYMENT_PROVIDERS = ["nowhere.Provider"]
    with pytest.raises(ImproperlyConfigured, match="cannot import"):
        providers.available()


def test_register_checks_what_it_is_given():
    with pytest.raises(TypeError):
        register(object)  # type: ignore[arg-type]

    class Nameless(Provider):
        pass

    with pytest.raises(ValueError, match="no name"):
        register(Nameless)


def test_builtins_are_registered_like_any_provider():
    providers.available()
    from nextwork.fundraising.providers import _REGISTRY

    assert {"manual", "stripe", "test"} <= set(_REGISTRY)
    assert all(issubclass(cls, Provider) for cls in _REGISTRY.values())


def test_stripe_signature_check_is_exact():
    from nextwork.fundraising.providers import BadSignature
    from nextwork.fundraising.providers.stripe import sign, verify

    body, secret, now = b'{"id":"evt_1"}', "whsec_x", 1_800_000_000
    header = sign(body, secret, now)
    verify(body, header, secret, tolerance=300, now=now + 300)
    # Several v1 signatures (while Stripe rolls the secret): one matching is enough.
    mac = header.split("v1=")[1]
    verify(body, f"t={now},v1={'0' * 64},v1={mac}", secret, tolerance=300, now=now)
    for bad_body, bad_now in ((body + b" ", now), (body, now + 301), (body, now - 301)):
        with pytest.raises(BadSignature):
            verify(bad_body, header, secret, tolerance=300, now=bad_now)
    with pytest.raises(BadSignature):
        verify(body, header.replace("v1=", "v0="), secret, tolerance=300, now=now)
