"""The checks of a presence audit, and its score (docs/presence.md).

Each check looks at what was read of the scope's channels and returns findings: a stable
``code`` for the API, a ``severity`` and its ``weight``, the channels concerned, a sentence in
French for the people who fix it, and the fix. The score is ``100 - sum(weights)``, floored
at 0: a presence with nothing to fix scores 100.

A channel that could not be read gives one finding (``unreachable``) and is left out of the
other checks: nothing is known of it.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from nextwork.monitoring.presence import Reading, same_avatar

SILENT_MONTHS = 6  # no post for this many months or more is a finding
WEIGHTS = {
    "unreachable": 15,
    "names_differ": 15,
    "no_website": 10,
    "no_link_to_website": 10,
    "avatars_differ": 10,
    "silent": 10,
    "website_missing_link": 5,
    "not_reciprocal": 5,
    "description_missing": 5,
    "avatar_missing": 5,
    "avatar_unreadable": 5,
    "not_entered": 5,
}
SEVERITY = {15: "high", 10: "medium", 5: "low"}
NUMBERS = {2: "Deux", 3: "Trois", 4: "Quatre", 5: "Cinq", 6: "Six", 7: "Sept", 8: "Huit"}
# Where a channel is, in a sentence: the network's name, and "your … on it".
KIND_NAMES = {
    "website": ("site web", "le site"),
    "facebook": ("Facebook", "votre page Facebook"),
    "x": ("X", "votre compte X"),
    "instagram": ("Instagram", "votre compte Instagram"),
    "linkedin": ("LinkedIn", "votre page LinkedIn"),
    "youtube": ("YouTube", "votre chaîne YouTube"),
    "tiktok": ("TikTok", "votre compte TikTok"),
    "mastodon": ("Mastodon", "votre compte Mastodon"),
    "bluesky": ("Bluesky", "votre compte Bluesky"),
    "peertube": ("PeerTube", "votre chaîne PeerTube"),
    "other": ("", "votre canal"),
}
HOST_ALIASES = {"twitter.com": "x.com", "fb.com": "facebook.com", "youtu.be": "youtube.com"}


@dataclass
class Read:
    """A channel and what the audit knows of it (``reading`` is None: nothing entered)."""

    channel: object  # models.Channel
    reading: Reading | None


def normalise_name(name: str) -> str:
    """Case, accents, spaces and punctuation aside: « Next-Work ! » is « nextwork »."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(c for c in decomposed.casefold() if c.isalnum())


def _host(netloc: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1]
    for default in (":80", ":443"):
        host = host.removesuffix(default)
    for prefix in ("www.", "m.", "mobile."):
        host = host.removeprefix(prefix)
    return HOST_ALIASES.get(host, host)


def url_key(url: str) -> tuple[str, str]:
    """What two addresses of the same page share: host (no www., no default port, aliases
    such as twitter.com → x.com) and path (case and trailing slash aside)."""
    parts = urlsplit((url or "").strip())
    return _host(parts.netloc), parts.path.rstrip("/").lower()


def points_to(link: str, target: str) -> bool:
    """Does ``link`` lead to ``target`` or a page under it?"""
    host, path = url_key(link)
    target_host, target_path = url_key(target)
    if not host or host != target_host:
        return False
    return path == target_path or path.startswith(target_path + "/")


def points_to_channel(link: str, channel) -> bool:
    if points_to(link, channel.url):
        return True
    if channel.kind == "mastodon":  # the same account as /users/name (ActivityPub id)
        host, path = url_key(channel.url)
        name = path.removeprefix("/@").split("@")[0]
        return points_to(link, f"https://{host}/users/{name}")
    return False


def _who(channel) -> str:
    name, _ = KIND_NAMES.get(channel.kind, ("", ""))
    return name or channel.label or url_key(channel.url)[0]


def _phrase(channel) -> str:
    name, phrase = KIND_NAMES.get(channel.kind, ("", "votre canal"))
    if not name:
        return f"votre canal « {channel.label or channel.url} »"
    return phrase


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _finding(code: str, channels, message: str, fix: str) -> dict:
    weight = WEIGHTS[code]
    return {
        "code": code, "severity": SEVERITY[weight], "weight": weight,
        "channels": sorted(c.pk for c in channels), "message": message, "fix": fix,
    }  # fmt: skip


def months_between(earlier: datetime.datetime, later: datetime.datetime) -> int:
    """Whole calendar months from ``earlier`` to ``later`` (20 Sept → 27 Nov next year: 14)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day:
        months -= 1
    return max(months, 0)


def run(reads: list[Read], *, sites: list[str], now: datetime.datetime) -> list[dict]:
    """Every check over the scope's channels. ``sites`` are the addresses of the website(s)
    the channels should link to: the scope's, else the organisation's."""
    findings: list[dict] = []
    known = []
    for item in reads:
        channel, reading = item.channel, item.reading
        if reading is None:
            findings.append(_finding(
                "not_entered", [channel],
                f"Impossible de comparer {_phrase(channel)} : son profil n'a pas été saisi.",
                "Recopiez son nom, sa description et la date de sa dernière publication "
                "(« Saisir ce que montre le profil » sur la page Présence).",
            ))  # fmt: skip
        elif not reading.ok:
            findings.append(_finding(
                "unreachable", [channel],
                f"Impossible de lire {_phrase(channel)} ({channel.url}) : {reading.error}.",
                "Vérifiez l'adresse : si le compte a changé d'adresse, mettez le canal à "
                "jour ; s'il est fermé, désactivez le canal.",
            ))  # fmt: skip
        else:
            known.append(item)
    findings += _names(known)
    findings += _links(known, reads, sites)
    findings += _avatars(known)
    findings += _descriptions(known)
    findings += _silence(known, now)
    findings.sort(key=lambda f: (-f["weight"], f["code"], f["channels"]))
    return findings


def score(findings: list[dict]) -> int:
    return max(0, 100 - sum(f["weight"] for f in findings))


def _names(known: list[Read]) -> list[dict]:
    named = [r for r in known if normalise_name(r.reading.name)]
    groups: dict[str, list[Read]] = {}
    for item in named:
        groups.setdefault(normalise_name(item.reading.name), []).append(item)
    if len(groups) < 2:
        return []
    parts = []
    for members in groups.values():
        where = ", ".join(dict.fromkeys(_who(m.channel) for m in members))
        parts.append(f"« {members[0].reading.name} » ({where})")
    site = next((r for r in named if r.channel.kind == "website"), None)
    if site is not None:
        advice = f"celui du site : « {site.reading.name} »"
    else:
        common = Counter(normalise_name(r.reading.name) for r in named).most_common(1)[0][0]
        advice = f"par exemple « {groups[common][0].reading.name} »"
    count = NUMBERS.get(len(groups), str(len(groups)))
    return [_finding(
        "names_differ", [r.channel for r in named],
        f"{count} noms différents : {', '.join(parts)}.",
        f"Utilisez le même nom partout, {advice}.",
    )]  # fmt: skip


def _links(known: list[Read], reads: list[Read], sites: list[str]) -> list[dict]:
    findings = []
    others = [r for r in reads if r.channel.kind != "website"]
    if not sites:
        if others:
            findings.append(_finding(
                "no_website", [r.channel for r in others],
                "Aucun site web n'est enregistré : rien ne relie vos comptes entre eux.",
                "Enregistrez le site web comme canal (type « website ») et faites-le pointer "
                "vers chaque compte.",
            ))  # fmt: skip
        return findings
    site = sites[0]
    for item in known:
        channel, reading = item.channel, item.reading
        if channel.kind == "website":
            continue
        if not any(points_to(link, s) for link in [reading.website, *reading.links]
                   for s in sites):  # fmt: skip
            where = " ou un champ de profil" if channel.kind == "mastodon" else ""
            findings.append(_finding(
                "no_link_to_website", [channel],
                f"Votre bio {_who(channel)} ne renvoie pas vers le site.",
                f"Ajoutez l'adresse du site ({site}) dans la bio{where} de {_phrase(channel)}.",
            ))  # fmt: skip
    for item in known:
        website, page = item.channel, item.reading
        if website.kind != "website":
            continue
        for other in others:
            channel = other.channel
            if not any(points_to_channel(link, channel) for link in page.links + page.me_links):
                rel = ' avec rel="me"' if channel.kind == "mastodon" else ""
                findings.append(_finding(
                    "website_missing_link", [website, channel],
                    f"Le site ne renvoie pas vers {_phrase(channel)} ({channel.url}).",
                    f"Ajoutez un lien vers {channel.url}{rel} dans le pied de page ou la page "
                    "contact du site.",
                ))  # fmt: skip
            elif channel.kind == "mastodon":
                findings += _verification(website, page, other)
    return findings


def _verification(website, page: Reading, mastodon: Read) -> list[dict]:
    """Mastodon shows a profile link as verified when the linked page links back with
    rel="me": the site must say rel="me", and the profile must link to the site."""
    channel, profile = mastodon.channel, mastodon.reading
    if not any(points_to_channel(link, channel) for link in page.me_links):
        return [_finding(
            "not_reciprocal", [website, channel],
            'Le lien du site vers votre compte Mastodon n\'a pas rel="me" : Mastodon ne peut '
            "pas vérifier que le site est le vôtre.",
            f'Écrivez le lien ainsi : <a rel="me" href="{channel.url}">Mastodon</a>, puis '
            "enregistrez à nouveau le profil Mastodon pour relancer la vérification.",
        )]  # fmt: skip
    if profile is None or profile.entered_by_hand or not profile.ok:
        return []
    links_site = [link for link in profile.links if points_to(link, website.url)]
    verified = [link for link in profile.me_links if points_to(link, website.url)]
    if links_site and not verified:
        return [_finding(
            "not_reciprocal", [website, channel],
            "Mastodon n'a pas vérifié le lien de votre profil vers le site.",
            "Mettez l'adresse du site dans un champ de profil Mastodon (pas seulement dans la "
            "bio) et enregistrez le profil : l'instance vérifie le lien rel=\"me\" à ce moment.",
        )]  # fmt: skip
    return []


def _avatars(known: list[Read]) -> list[dict]:
    findings = []
    hashed = [r for r in known if r.reading.avatar_hash]
    for item in known:
        channel, reading = item.channel, item.reading
        if reading.avatar_error:
            findings.append(_finding(
                "avatar_unreadable", [channel],
                f"L'image de profil de {_phrase(channel)} n'a pas pu être lue : "
                f"{reading.avatar_error}.",
                "Utilisez une image PNG ou JPEG de moins de 1 Mo.",
            ))  # fmt: skip
        elif not reading.avatar_url and channel.kind != "website" and not reading.entered_by_hand:
            findings.append(_finding(
                "avatar_missing", [channel],
                f"{_cap(_phrase(channel))} n'a pas d'image de profil.",
                "Mettez le logo de l'organisation, le même que sur le site.",
            ))  # fmt: skip
    if len(hashed) < 2:
        return findings
    reference = next((r for r in hashed if r.channel.kind == "website"), None)
    if reference is None:  # the image most channels share

        def shared(item: Read) -> int:
            return sum(same_avatar(item.reading.avatar_hash, o.reading.avatar_hash) for o in hashed)

        reference = max(hashed, key=shared)
    differ = [
        r for r in hashed
        if not same_avatar(r.reading.avatar_hash, reference.reading.avatar_hash)
    ]  # fmt: skip
    if differ:
        names = ", ".join(dict.fromkeys(_who(r.channel) for r in differ))
        findings.append(_finding(
            "avatars_differ", [r.channel for r in differ],
            f"L'image de profil diffère de celle de {_who(reference.channel)} sur : {names}.",
            f"Utilisez partout la même image que sur {_who(reference.channel)} "
            f"({reference.reading.avatar_url}).",
        ))  # fmt: skip
    return findings


def _descriptions(known: list[Read]) -> list[dict]:
    findings = []
    for item in known:
        channel, reading = item.channel, item.reading
        if reading.description.strip():
            continue
        if channel.kind == "website":
            fix = 'Ajoutez <meta name="description" content="…"> à la page d\'accueil.'
        else:
            fix = "Écrivez une ou deux phrases : qui vous êtes, ce que vous faites, le site."
        findings.append(_finding(
            "description_missing", [channel],
            f"{_cap(_phrase(channel))} n'a pas de description.", fix,
        ))  # fmt: skip
    return findings


def _silence(known: list[Read], now: datetime.datetime) -> list[dict]:
    findings = []
    fix = (
        "Publiez au moins une fois par mois, ou désactivez ce canal et retirez les liens vers "
        "lui s'il est abandonné : un compte muet dessert l'organisation."
    )
    for item in known:
        channel, reading = item.channel, item.reading
        if channel.kind == "website":
            continue
        where = _who(channel)
        if reading.last_post_at is None:
            if not reading.entered_by_hand:  # typed by hand without a date: unknown
                findings.append(_finding(
                    "silent", [channel], f"Aucune publication sur {where}.", fix
                ))  # fmt: skip
            continue
        months = months_between(reading.last_post_at, now)
        if months >= SILENT_MONTHS:
            findings.append(_finding(
                "silent", [channel], f"Aucune publication sur {where} depuis {months} mois.", fix
            ))  # fmt: skip
    return findings
