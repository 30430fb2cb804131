"""The time zone an event is shown in: its department's, unless the organiser chose another."""

from __future__ import annotations

import datetime
import zoneinfo
from functools import lru_cache

DEFAULT_ZONE = "Europe/Paris"
# Overseas departments and collectivities, by code. French Polynesia spans three zones
# (Marquesas, Gambier): Tahiti's is the default, the organiser can choose another.
OVERSEAS_ZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "975": "America/Miquelon",
    "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy",
    "978": "America/Marigot",
    "986": "Pacific/Wallis",
    "987": "Pacific/Tahiti",
    "988": "Pacific/Noumea",
}
# Offered first in the form's list (the French abroad pick any IANA zone).
COMMON_ZONES = [DEFAULT_ZONE, *dict.fromkeys(OVERSEAS_ZONES.values()), "Pacific/Marquesas"]


def default_time_zone(department_code: str | None) -> str:
    """The zone of a department or collectivity (``971``); Paris for the others and for 99."""
    return OVERSEAS_ZONES.get((department_code or "").strip().upper(), DEFAULT_ZONE)


@lru_cache(maxsize=1)
def available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid(name: str) -> bool:
    return name in available()


# How a zone is named next to a time ("18:00, Nouméa, UTC+11").
ZONE_PLACES = {
    "Europe/Paris": "Paris",
    "America/Guadeloupe": "Guadeloupe",
    "America/Martinique": "Martinique",
    "America/Cayenne": "Guyane",
    "Indian/Reunion": "La Réunion",
    "America/Miquelon": "Saint-Pierre-et-Miquelon",
    "Indian/Mayotte": "Mayotte",
    "America/St_Barthelemy": "Saint-Barthélemy",
    "America/Marigot": "Saint-Martin",
    "Pacific/Wallis": "Wallis-et-Futuna",
    "Pacific/Tahiti": "Tahiti",
    "Pacific/Marquesas": "Marquises",
    "Pacific/Noumea": "Nouméa",
}


def zone_label(name: str, moment: datetime.datetime | None = None) -> str:
    """'Nouméa, UTC+11': the place of the zone and its offset at ``moment``."""
    place = ZONE_PLACES.get(name) or name.rsplit("/", 1)[-1].replace("_", " ")
    if moment is None:
        return place
    offset = moment.astimezone(zoneinfo.ZoneInfo(name)).utcoffset() or datetime.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"{place}, UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
