"""Geocoder plugins. The built-in one speaks the BAN API format (api-adresse, addok).

A plugin turns free text into places with coordinates. Register another one with
``register("name", Class)`` and select it with the ``NEXTWORK_GEOCODER`` setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from django.conf import settings


class GeocoderUnavailable(Exception):
    """The geocoder is not configured, not reachable, or answered nonsense."""


@dataclass(frozen=True)
class Place:
    label: str
    lat: float
    lon: float
    score: float
    kind: str  # housenumber, street, locality, municipality
    citycode: str | None
    postcode: str | None


class Geocoder(Protocol):
    name: str

    def geocode(self, query: str, *, limit: int = 5) -> list[Place]: ...


class BanGeocoder:
    """Client of ``GET {url}/search/?q=…&limit=…`` returning a GeoJSON FeatureCollection."""

    name = "ban"

    def __init__(self, url: str, timeout: float = 3.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def geocode(self, query: str, *, limit: int = 5) -> list[Place]:
        try:
            response = httpx.get(
                f"{self.url}/search/",
                params={"q": query, "limit": limit},
                timeout=self.timeout,
                headers={"User-Agent": "nextwork"},
            )
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise GeocoderUnavailable(f"{type(exc).__name__}") from exc
        places = []
        try:
            for feature in payload.get("features") or []:
                lon, lat = feature["geometry"]["coordinates"][:2]
                props = feature.get("properties") or {}
                places.append(
                    Place(
                        label=str(props.get("label") or ""),
                        lat=float(lat),
                        lon=float(lon),
                        score=float(props.get("score") or 0),
                        kind=str(props.get("type") or ""),
                        citycode=props.get("citycode"),
                        postcode=props.get("postcode"),
                    )
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GeocoderUnavailable("malformed answer") from exc
        return places


REGISTRY: dict[str, type] = {"ban": BanGeocoder}


def register(name: str, cls: type) -> None:
    REGISTRY[name] = cls


def get_geocoder() -> Geocoder | None:
    url = getattr(settings, "NEXTWORK_GEOCODER_URL", None)
    if not url:
        return None
    cls = REGISTRY[getattr(settings, "NEXTWORK_GEOCODER", "ban")]
    return cls(url, timeout=getattr(settings, "NEXTWORK_GEOCODER_TIMEOUT", 3.0))
