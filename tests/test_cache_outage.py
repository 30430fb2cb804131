"""Redis (NEXTWORK_REDIS_URL) down: a write cannot be counted against its rate limit, so it is
refused with a 503 and Retry-After, like a database outage, never a 500 and never let through."""

import socket

import pytest
from django.core.cache import caches
from django.test import Client

from nextwork.network.models import Member


@pytest.fixture
def redis_down(settings):
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    yield
    caches["default"].close()


@pytest.fixture
def client():
    # What a visitor gets: the test client would re-raise the error the site turns into a 503.
    return Client(raise_request_exception=False)


def test_a_signup_while_redis_is_down_is_a_503_and_stores_nothing(client, registry, redis_down):
    answer = client.post(
        "/api/v1/members",
        {"email": "ana@example.org", "first_name": "Ana", "last_name": "Lima",
         "postcode": "75002", "consent_version": 1},
        content_type="application/json",
    )  # fmt: skip
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert answer.json()["error"]["code"] == "unavailable"
    assert not Member.objects.filter(email="ana@example.org").exists()


def test_a_page_write_while_redis_is_down_is_the_french_503_page(client, registry, redis_down):
    answer = client.post("/connexion/", {"username": "ana@example.org", "password": "x"})
    assert answer.status_code == 503
    assert "text/html" in answer["Content-Type"]
