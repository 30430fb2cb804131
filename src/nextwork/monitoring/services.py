"""Writes of monitoring: storing what sources saw, watch rules, sources (docs/monitoring.md).

Promises:
- a post is stored once, whoever saw it and however often (``post_key``); only the posts this
  call inserted are matched and counted, decided by the database (``INSERT … ON CONFLICT DO
  NOTHING RETURNING``), so two workers storing the same post at once count it once;
- the mentions and the minute counts are written in the transaction that stores the posts:
  the series never counts a post that is not there, nor misses one that is;
- a rule's terms are checked (``matcher.check_term``) before anything is stored; a bad one is
  refused with its position and the reason.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.monitoring.models import (
    Mention,
    MinuteCount,
    Post,
    RuleKind,
    Source,
    SourceKind,
    WatchRule,
)
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

MAX_TEXT = 10_000  # characters of a post kept (a long article's first screens)
MAX_TERMS = 50
LANGUAGE_CODES = 2, 3  # ISO 639-1 or 639-3 lengths
INSERT_CHUNK = 200
# Query parameters that only say where a link was clicked, not what it points to.
TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "xtor")


@dataclass(frozen=True)
class PostIn:
    """A post as a source plugin or the ingestion endpoint hands it over."""

    network: str
    external_id: str
    text: str
    published_at: datetime.datetime | None = None
    url: str = ""
    author: str = ""
    author_handle: str = ""
    lang: str = ""


@dataclass
class Stored:
    new: int = 0
    duplicates: int = 0
    mentions: int = 0


def canonical_url(url: str) -> str:
    """The address of a post without what varies between two sightings of it: scheme and
    host case, the fragment, tracking parameters, a trailing slash."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PARAMS)
    ]  # fmt: skip
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), path, urlencode(sorted(query)), "")
    )


def post_key(post: PostIn) -> str:
    """The identity of a post: its canonical address when it has one (the same Mastodon post
    seen from two instances, the same article in two feeds), else its id on its network."""
    address = canonical_url(post.url)
    identity = f"url\n{address}" if address else f"{post.network}\n{post.external_id}"
    return hashlib.sha256(identity.encode()).hexdigest()


def _minute(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(second=0, microsecond=0)


def _when(post: PostIn, now: datetime.datetime) -> datetime.datetime:
    """When it was said: the source's date, never in the future (a wrong clock somewhere),
    and now when the source gives none."""
    moment = post.published_at
    if moment is None:
        return now
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return min(moment, now)


# -- storing posts --------------------------------------------------------------------------


def store_posts(*, source: Source | None, posts: Sequence[PostIn]) -> Stored:
    """Store the posts not seen before, match them against the active rules and count them."""
    from nextwork.monitoring.rules import current_matcher

    now = timezone.now()
    fresh: dict[str, PostIn] = {}
    for post in posts:
        fresh.setdefault(post_key(post), post)
    result = Stored(duplicates=len(posts) - len(fresh))
    if not fresh:
        return result
    matcher = current_matcher()
    with transaction.atomic():
        inserted = _insert_new(fresh, source=source, now=now)
        result.new = len(inserted)
        result.duplicates += len(fresh) - len(inserted)
        mentions, counts = [], Counter()
        for pk, key in inserted:
            post = fresh[key]
            when = _when(post, now)
            for rule_id in matcher.match(post.text, post.lang):
                mentions.append(Mention(rule_id=rule_id, post_id=pk, published_at=when))
                counts[(rule_id, _minute(when))] += 1
        Mention.objects.bulk_create(mentions, batch_size=1000)
        _add_counts(counts)
        result.mentions = len(mentions)
        if source is not None and inserted:
            Source.objects.filter(pk=source.pk).update(
                posts_stored=F("posts_stored") + len(inserted)
            )
    return result


def _clean(value: str, limit: int) -> str:
    """PostgreSQL refuses NUL characters in text; one in a feed must not lose the batch."""
    return (value or "").replace("\x00", "")[:limit]


def _insert_new(
    fresh: dict[str, PostIn], *, source: Source | None, now: datetime.datetime
) -> list[tuple[int, str]]:
    """Insert the posts whose key is not stored yet; the database says which ones it took."""
    table = Post._meta.db_table
    columns = ["key", "source_id", "network", "external_id", "url", "author", "author_handle",
               "text", "lang", "published_at", "seen_at"]  # fmt: skip
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        [
            key, source.pk if source else None, _clean(post.network, 30),
            _clean(post.external_id, 500), _clean(post.url, 1000), _clean(post.author, 200),
            _clean(post.author_handle, 200), _clean(post.text, MAX_TEXT), _clean(post.lang, 12),
            adapt(_when(post, now)), adapt(now),
        ]
        for key, post in sorted(fresh.items())  # a fixed order: no deadlock between batches
    ]  # fmt: skip
    inserted: list[tuple[int, str]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} "  # noqa: S608
                f"ON CONFLICT (key) DO NOTHING RETURNING id, key",
                [value for row in chunk for value in row],
            )
            inserted += [(pk, key) for pk, key in cursor.fetchall()]
    return inserted


def _add_counts(counts: Counter) -> None:
    if not counts:
        return
    table = MinuteCount._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (rule_id, minute, count) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (rule_id, minute) DO UPDATE SET count = {table}.count + excluded.count",
            [(rule, adapt(minute), n) for (rule, minute), n in sorted(counts.items())],
        )


# -- watch rules ----------------------------------------------------------------------------


def _require_staff(by: Member) -> None:
    if not is_staff(by):
        raise Forbidden("Only staff manage monitoring.")


def _terms(values: Iterable[str] | None, *, field: str, required: bool) -> list[str]:
    from nextwork.monitoring.matcher import TermError, check_term

    if isinstance(values, str):
        values = [values]
    kept: list[str] = []
    for i, raw in enumerate(values or []):
        if not isinstance(raw, str):
            raise InvalidInput(f"{field}[{i}]: a text.", field=field)
        term = raw.strip()
        try:
            check_term(term)
        except TermError as exc:
            raise InvalidInput(f"{field}[{i}]: {exc}", field=field) from None
        if term not in kept:
            kept.append(term)
    if required and not kept:
        raise InvalidInput("Give at least one term to listen for.", field=field)
    if len(kept) > MAX_TERMS:
        raise InvalidInput(f"{MAX_TERMS} {field} at most per rule.", field=field)
    return kept


def _languages(values: Iterable[str] | None) -> list[str]:
    kept: list[str] = []
    for raw in values or []:
        code = str(raw).strip().lower()
        if len(code) not in LANGUAGE_CODES or not code.isalpha() or not code.isascii():
            raise InvalidInput(
                f"languages: {str(raw)[:20]!r} is not a language code (fr, en, br…).",
                field="languages",
            )
        if code not in kept:
            kept.append(code)
    return kept


def _name(value: str) -> str:
    name = (value or "").strip()
    if not name:
        raise InvalidInput("Name the rule.", field="name")
    if len(name) > 200:
        raise InvalidInput("200 characters at most for the name.", field="name")
    return name


@transaction.atomic
def rule_create(
    *,
    by: Member,
    name: str,
    terms: Iterable[str],
    exclusions: Iterable[str] = (),
    languages: Iterable[str] = (),
    min_count: int = 10,
    cooldown_minutes: int = 60,
    kind: str = RuleKind.CUSTOM,
) -> WatchRule:
    _require_staff(by)
    if kind not in (RuleKind.CUSTOM, RuleKind.ORGANISATION):
        raise InvalidInput("kind: custom or organisation.", field="kind")
    rule = WatchRule.objects.create(
        name=_name(name), kind=kind,
        terms=_terms(terms, field="terms", required=True),
        exclusions=_terms(exclusions, field="exclusions", required=False),
        languages=_languages(languages),
        min_count=_bounded(min_count, "min_count", 1, 100_000),
        cooldown_minutes=_bounded(cooldown_minutes, "cooldown_minutes", 1, 10_080),
        created_by=by,
    )  # fmt: skip
    rule.followers.add(by)
    audit_record(actor=by, action="monitoring.rule_create", details={"rule": rule.pk})
    return rule


def _bounded(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field}: a whole number from {low} to {high}.", field=field)
    return value


@transaction.atomic
def rule_update(*, by: Member, rule_id: int, **changes) -> WatchRule:
    _require_staff(by)
    rule = WatchRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"No watch rule {rule_id}.", field="rule")
    if "name" in changes:
        rule.name = _name(changes["name"])
    if "terms" in changes:
        rule.terms = _terms(changes["terms"], field="terms", required=True)
    if "exclusions" in changes:
        rule.exclusions = _terms(changes["exclusions"], field="exclusions", required=False)
    if "languages" in changes:
        rule.languages = _languages(changes["languages"])
    if "min_count" in changes:
        rule.min_count = _bounded(changes["min_count"], "min_count", 1, 100_000)
    if "cooldown_minutes" in changes:
        rule.cooldown_minutes = _bounded(changes["cooldown_minutes"], "cooldown_minutes", 1,
                                         10_080)  # fmt: skip
    if "active" in changes:
        rule.active = bool(changes["active"])
    rule.updated_at = timezone.now()
    rule.save()
    audit_record(actor=by, action="monitoring.rule_update", details={"rule": rule.pk})
    return rule


@transaction.atomic
def rule_follow(*, member: Member, rule_id: int, follow: bool = True) -> WatchRule:
    """Staff follow a rule to get its spike alerts (``alerts``), or stop."""
    _require_staff(member)
    rule = WatchRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"No watch rule {rule_id}.", field="rule")
    (rule.followers.add if follow else rule.followers.remove)(member)
    return rule


@transaction.atomic
def representative_rules_sync(*, by: Member | None = None) -> dict:
    """One rule per current deputy and senator, on their full name, from the registry:
    created for newcomers, renamed when the registry spells a name differently, switched
    off for those whose mandate ended (their mentions stay)."""
    from nextwork.territories.lookup import get_engine
    from nextwork.territories.models import Mandate

    if by is not None:
        _require_staff(by)
    engine = get_engine()
    current = {
        (m.chamber, m.person_id): f"{m.first_name} {m.last_name}".strip()
        for m in Mandate.objects.filter(boundary_set_id=engine.boundary_set_id, end__isnull=True)
    }
    existing = {
        (r.chamber, r.person_id): r for r in WatchRule.objects.filter(kind=RuleKind.REPRESENTATIVE)
    }
    now = timezone.now()
    created = updated = ended = 0
    new_rules = []
    for key, name in sorted(current.items()):
        rule = existing.get(key)
        if rule is None:
            new_rules.append(WatchRule(
                name=name, kind=RuleKind.REPRESENTATIVE, terms=[name], chamber=key[0],
                person_id=key[1], created_by=by, created_at=now, updated_at=now,
            ))  # fmt: skip
        elif rule.terms != [name] or not rule.active:
            rule.name, rule.terms, rule.active, rule.updated_at = name, [name], True, now
            rule.save(update_fields=["name", "terms", "active", "updated_at"])
            updated += 1
    WatchRule.objects.bulk_create(new_rules)
    created = len(new_rules)
    for key, rule in existing.items():
        if key not in current and rule.active:
            rule.active, rule.updated_at = False, now
            rule.save(update_fields=["active", "updated_at"])
            ended += 1
    if by is not None:
        audit_record(actor=by, action="monitoring.representatives_sync",
                     details={"created": created, "updated": updated, "ended": ended})  # fmt: skip
    return {"created": created, "updated": updated, "ended": ended}


def rules_version() -> tuple:
    """Changes whenever a rule is added, edited, switched or deleted (the matcher's cache)."""
    found = WatchRule.objects.aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
    return (found["n"], found["last"], found["top"])


# -- sources --------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def source_create(
    *, by: Member, kind: str, name: str, config: dict | None = None, interval_seconds: int = 900
) -> tuple[Source, str]:
    """A new source; for the ingestion endpoint, its token (returned once, stored hashed)."""
    from nextwork.monitoring.sources import plugin_for

    _require_staff(by)
    if kind not in SourceKind.values:
        raise InvalidInput(f"kind: one of {', '.join(SourceKind.values)}.", field="kind")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("Name the source (200 characters at most).", field="name")
    if Source.objects.filter(name=name).exists():
        raise InvalidInput(f"A source is already named {name!r}.", field="name")
    plugin = plugin_for(kind)
    cleaned = plugin.check_config(config or {})
    interval = _bounded(interval_seconds, "interval_seconds", plugin.min_interval, 86_400)
    token = secrets.token_urlsafe(32) if kind == SourceKind.INGEST else ""
    source = Source.objects.create(
        kind=kind, name=name, config=cleaned, interval_seconds=interval,
        token_hash=token_hash(token) if token else "", created_by=by,
        next_run_at=timezone.now(),
    )  # fmt: skip
    audit_record(actor=by, action="monitoring.source_create", details={"source": source.pk})
    return source, token


def source_for_token(token: str) -> Source | None:
    if not token:
        return None
    return Source.objects.filter(
        kind=SourceKind.INGEST, active=True, token_hash=token_hash(token)
    ).first()
