"""The visitor's address behind a reverse proxy (common/proxies.py): believed only from the
proxies listed in NEXTWORK_TRUSTED_PROXIES, read from the right of X-Forwarded-For."""

import re
import subprocess
import sys

import pytest

from nextwork.common.proxies import client_address, trusted_networks

PROXIES = trusted_networks(["10.0.0.5", "10.1.0.0/16", "::1"])


@pytest.mark.parametrize(
    ("remote", "header", "expected"),
    [
        # No proxy in front: the header is whatever the client wrote, never believed.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # One trusted proxy: the address it saw.
        ("10.0.0.5", "203.0.113.7", "203.0.113.7"),
        # Two trusted proxies, and a client forging addresses on the left.
        ("10.0.0.5", "1.2.3.4, 5.6.7.8, 203.0.113.7, 10.1.2.3", "203.0.113.7"),
        # Ports and IPv6 brackets, as some proxies write them.
        ("10.0.0.5", "203.0.113.7:51234", "203.0.113.7"),
        ("::1", "[2001:db8::7]:443", "2001:db8::7"),
        # A trusted proxy without the header: the proxy itself.
        ("10.0.0.5", "", "10.0.0.5"),
        # Garbage where the client's address should be: the proxy's address, counted as one.
        ("10.0.0.5", "203.0.113.7, not-an-address", "10.0.0.5"),
        # Only trusted hops: the leftmost (a request from inside).
        ("10.0.0.5", "10.1.0.9", "10.1.0.9"),
    ],
)
def test_client_address(remote, header, expected):
    assert client_address(remote, header, PROXIES) == expected


def test_a_bad_proxy_value_is_named():
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300' is not an IP address")):
        trusted_networks(["10.0.0.5", "10.0.0.300"])


def test_a_bad_proxy_value_stops_the_start_with_its_name(tmp_path):
    env = {"NEXTWORK_HOME": str(tmp_path), "NEXTWORK_TRUSTED_PROXIES": "proxy.local",
           "DJANGO_SETTINGS_MODULE": "nextwork.settings.base", "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "NEXTWORK_TRUSTED_PROXIES: 'proxy.local' is not an IP address" in done.stderr


def _signup(client, address, forwarded, n):
    return client.post(
        "/api/v1/members",
        {
            "email": f"visitor{n}@example.org",
            "first_name": "Ana",
            "last_name": "Lima",
            "postcode": "75002",
            "consent_version": 1,
        },
        content_type="application/json",
        REMOTE_ADDR=address,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_a_trusted_proxy_the_signup_limit_counts_visitors(client, registry, settings):
    settings.NEXTWORK_TRUSTED_PROXIES = ["10.0.0.5"]
    settings.NEXTWORK_SIGNUP_RATE = 2
    # Through the proxy, two visitors each get their own count of two.
    statuses = [_signup(client, "10.0.0.5", "203.0.113.1", n).status_code for n in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    other = _signup(client, "10.0.0.5", "203.0.113.2", 10)
    assert other.status_code != 429
    # A client talking to the site directly cannot pick another address by the header.
    direct = [_signup(client, "198.51.100.9", f"192.0.2.{n}", 20 + n).status_code
              for n in range(3)]  # fmt: skip
    assert direct[2] == 429
