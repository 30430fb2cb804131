"""The visitor's address behind a reverse proxy.

Behind nginx or Caddy, ``REMOTE_ADDR`` is the proxy's address: every per-address limit (sign-ups
per hour, writes per minute, login lockouts) would count every visitor as one. When the request
comes from a proxy listed in ``NEXTWORK_TRUSTED_PROXIES``, this middleware (first in the chain)
replaces ``REMOTE_ADDR`` with the client's address read from ``X-Forwarded-For``: walking the
header from the right, each trusted proxy appended the address it saw, and the first address
that is not a trusted proxy is the client's. Whatever a client writes in the header itself
stays on the left of that and is never believed. Unset (the embedded default, no proxy), the
middleware is not used and the header is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(values: list[str]) -> list[Network]:
    """The proxies' networks; a value that is not an address or a network is a ValueError
    naming it (the settings turn it into a configuration error at start-up)."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(
                f"NEXTWORK_TRUSTED_PROXIES: {value!r} is not an IP address or network "
                "(such as 10.0.0.5 or 10.0.0.0/24)."
            ) from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:51234
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(remote: str, forwarded_for: str, networks: list[Network]) -> str:
    """The client's address: ``remote`` itself unless it is a trusted proxy, else the first
    address from the right of ``forwarded_for`` that is not one. A malformed hop where the
    client's address should be leaves the proxy's address (counted as one visitor: safe)."""

    def trusted(address) -> bool:
        return address is not None and any(address in network for network in networks)

    if not trusted(_address(remote)):
        return remote
    hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote
        if not trusted(address):
            return str(address)
    return str(_address(hops[0])) if hops else remote


class ForwardedForMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.networks = trusted_networks(settings.NEXTWORK_TRUSTED_PROXIES)
        if not self.networks:
            raise MiddlewareNotUsed

    def __call__(self, request):
        meta = request.META
        meta["REMOTE_ADDR"] = client_address(
            meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""), self.networks
        )
        return self.get_response(request)
