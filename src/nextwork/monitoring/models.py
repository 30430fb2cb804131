"""Buzz monitoring: what is said where (sources and their posts), what the organisation listens
for (watch rules), when it suddenly rises (minute counts and spikes).

- A ``Source`` is one place read by a plugin (an RSS/Atom feed, a Mastodon timeline, the
  Bluesky firehose, or the ingestion endpoint fed by anything else), with its health: last
  success, last error, consecutive failures, lag.
- A ``Post`` is stored once whoever saw it (``key``: a hash of its network and its id there,
  or of its canonical address), with only what a public post shows: author's name and handle,
  text, language, times. Posts are public speech, not members' data; their retention is a
  setting (docs/monitoring.md).
- A ``WatchRule`` lists terms (words, phrases, hashtags, handles), exclusions and languages;
  ``matcher.Matcher`` applies every rule in one pass. A ``Mention`` ties a post to a rule
  it matched, once; ``MinuteCount`` keeps the rule's count per minute, upserted with the
  mentions, for the series and the spike detection (``spikes``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMBER = settings.AUTH_USER_MODEL


class SourceKind(models.TextChoices):
    RSS = "rss", _("flux RSS ou Atom")
    MASTODON = "mastodon", _("Mastodon")
    BLUESKY = "bluesky", _("Bluesky")
    INGEST = "ingest", _("point d'entrée (JSON lines)")


class Source(models.Model):
    """A place the platform listens to, and how that went last time."""

    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    name = models.CharField(max_length=200, unique=True)
    # What the plugin needs: {"url": …} for a feed; {"instance": …, "hashtags": […]} for
    # Mastodon; see each plugin's docstring.
    config = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    interval_seconds = models.PositiveIntegerField(default=900)
    # The ingestion endpoint's token, as a SHA-256 hex digest (the token is shown once).
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Health: what the page of sources shows.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    failures = models.PositiveIntegerField(default=0)  # consecutive
    next_run_at = models.DateTimeField(null=True, blank=True)
    lag_seconds = models.FloatField(null=True, blank=True)
    posts_stored = models.PositiveBigIntegerField(default=0)
    # Politeness and resumption: HTTP validators of the last answer, the stream's position.
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    cursor = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Post(models.Model):
    """One public post, stored once however many sources saw it."""

    key = models.CharField(max_length=64, unique=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts"
    )
    network = models.CharField(max_length=30)
    external_id = models.CharField(max_length=500)
    url = models.URLField(max_length=1000, blank=True)
    author = models.CharField(max_length=200, blank=True)
    author_handle = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    lang = models.CharField(max_length=12, blank=True)
    published_at = models.DateTimeField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["published_at"], name="post_published")]

    def __str__(self) -> str:
        return f"post #{self.pk} ({self.network})"


class RuleKind(models.TextChoices):
    CUSTOM = "custom", _("règle saisie")
    ORGANISATION = "organisation", _("noms de l'organisation")
    REPRESENTATIVE = "representative", _("élu·e")


class WatchRule(models.Model):
    """What to listen for. Representatives' rules are generated from the registry and keyed
    by the official identifier of the person, which outlives a re-import of the registry."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=RuleKind.choices, default=RuleKind.CUSTOM)
    terms = models.JSONField(default=list)
    exclusions = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    chamber = models.CharField(max_length=10, blank=True)
    person_id = models.CharField(max_length=30, blank=True)
    active = models.BooleanField(default=True)
    # Spike alerts: at least this many posts in the detection window, and then at most one
    # alert per cool-down.
    min_count = models.PositiveIntegerField(default=10)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    followers = models.ManyToManyField(MEMBER, blank=True, related_name="watch_rules_followed")
    # Spikes are also POSTed here, signed with the secret (encrypted at rest, ``webhooks``).
    webhook_url = models.URLField(max_length=1000, blank=True)
    webhook_secret = models.TextField(blank=True)
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chamber", "person_id"],
                condition=Q(kind="representative"),
                name="one_rule_per_representative",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Mention(models.Model):
    """A post matched a rule (once)."""

    rule = models.ForeignKey(WatchRule, on_delete=models.CASCADE, related_name="mentions")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="mentions")
    published_at = models.DateTimeField()  # the post's, for the rule's lists without a join

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "post"], name="one_mention_per_rule_post")
        ]
        indexes = [models.Index(fields=["rule", "-published_at"], name="mention_rule_recent")]

    def __str__(self) -> str:
        return f"rule #{self.rule_id} in post #{self.post_id}"


class MinuteCount(models.Model):
    """How many posts matched a rule in one minute (rows exist for minutes with posts only)."""

    rule = models.ForeignKey(WatchRule, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "minute"], name="one_count_per_rule_minute")
        ]

    def __str__(self) -> str:
        return f"rule #{self.rule_id} at {self.minute:%Y-%m-%d %H:%M}: {self.count}"


class Spike(models.Model):
    """A sudden rise of a rule's count (``spikes.detect``), and the alert it raised."""

    rule = models.ForeignKey(WatchRule, on_delete=models.CASCADE, related_name="spikes")
    start = models.DateTimeField()
    peak = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField()
    expected = models.FloatField()
    score = models.FloatField()
    detected_at = models.DateTimeField(default=timezone.now)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "start"], name="one_spike_per_rule_start")
        ]
        indexes = [models.Index(fields=["-start"], name="spike_recent")]

    def __str__(self) -> str:
        return f"spike of rule #{self.rule_id} at {self.start:%Y-%m-%d %H:%M}"


# -- presence audit --
# Is the organisation's presence consistent everywhere (docs/presence.md)? A ``Channel`` is
# one place where it speaks (its website, a Mastodon account, a YouTube channel…), of the
# organisation (no area) or of a local group or relay (an area, and possibly its member). An
# audit reads every active channel of one scope into a ``ChannelSnapshot`` and writes a
# ``PresenceReport``: a score and findings with their fixes, kept over time so progress shows.


class ChannelKind(models.TextChoices):
    WEBSITE = "website", _("site web")
    FACEBOOK = "facebook", _("Facebook")
    X = "x", _("X (Twitter)")
    INSTAGRAM = "instagram", _("Instagram")
    LINKEDIN = "linkedin", _("LinkedIn")
    YOUTUBE = "youtube", _("YouTube")
    TIKTOK = "tiktok", _("TikTok")
    MASTODON = "mastodon", _("Mastodon")
    BLUESKY = "bluesky", _("Bluesky")
    PEERTUBE = "peertube", _("PeerTube")
    OTHER = "other", _("autre")


class Channel(models.Model):
    """A place where the organisation, a local group or a relay speaks in public."""

    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    url = models.URLField(max_length=1000)
    # What the URL names on its network (@name@instance, name.bsky.social), derived on save.
    handle = models.CharField(max_length=200, blank=True)
    label = models.CharField(max_length=200, blank=True)
    # Whose it is: no area is the organisation's; an area is a local group's or a relay's
    # (a constituency, a department), and ``member`` the person who holds it, if any.
    area = models.ForeignKey(
        "territories.Area",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="channels",
    )
    member = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="channels"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["area", "active"], name="channel_scope")]

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"


class PresenceReport(models.Model):
    """One audit of a scope (the organisation, or an area): its score and what to fix."""

    area = models.ForeignKey(
        "territories.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    score = models.PositiveSmallIntegerField()  # 0–100, presence.checks.score
    # [{"code", "severity", "weight", "channels": [ids], "message", "fix"}], messages in French.
    findings = models.JSONField(default=list)
    # The scope's report before this one, for the progress ("72 → 85").
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["area", "-created_at"], name="presence_report_scope")]

    def __str__(self) -> str:
        return f"presence report #{self.pk}: {self.score}"


class ChannelSnapshot(models.Model):
    """What was read of one channel at one time (or typed by hand where nothing can be read)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="snapshots")
    # The audit that read it; empty for what staff typed by hand, until an audit uses it.
    report = models.ForeignKey(
        PresenceReport,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="snapshots",
    )
    read_at = models.DateTimeField(default=timezone.now)
    name = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    avatar_url = models.URLField(max_length=1000, blank=True)
    avatar_hash = models.CharField(max_length=64, blank=True)  # hex of imagehash.phash
    website = models.URLField(max_length=1000, blank=True)
    links = models.JSONField(default=list, blank=True)  # every link found, absolute URLs
    # Links that prove identity: rel="me" on a page, fields Mastodon verified.
    me_links = models.JSONField(default=list, blank=True)
    last_post_at = models.DateTimeField(null=True, blank=True)
    read_ok = models.BooleanField(default=True)
    error = models.CharField(max_length=300, blank=True)
    entered_by_hand = models.BooleanField(default=False)
    entered_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["channel", "-read_at"], name="snapshot_recent")]

    def __str__(self) -> str:
        return f"snapshot of channel #{self.channel_id} at {self.read_at:%Y-%m-%d %H:%M}"


# -- publishing --
# Compose once, publish everywhere (docs/presence.md, "Publishing"). A ``PublishingAccount``
# holds the credentials that let the platform post on a Mastodon or Bluesky channel, encrypted
# at rest (``publishers.secrets``). A ``Publication`` is one text with its optional link; each
# of its ``PublicationTarget`` rows is one channel, with the text adapted to that network and
# what became of it: published through the network's API, prepared for copying by hand where
# there is no API, or failed. Together they are the log of what was published where.


class PublishingAccount(models.Model):
    """How the platform posts on one channel. The secret is never shown again once set."""

    channel = models.OneToOneField(
        Channel, on_delete=models.CASCADE, related_name="publishing_account"
    )
    # Bluesky: the login handle; Mastodon: the account as the instance names it (display only).
    handle = models.CharField(max_length=200, blank=True)
    # Bluesky: the PDS that holds the account (https://bsky.social by default); Mastodon: empty,
    # the instance is the channel's own host.
    endpoint = models.URLField(max_length=300, blank=True)
    # Mastodon: an instance that allows more than 500 characters; empty: 500.
    max_length = models.PositiveIntegerField(null=True, blank=True)
    # Fernet token of {"token": …} (Mastodon) or {"password": …} (Bluesky app password).
    secret = models.TextField()
    set_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"publishing account of channel #{self.channel_id}"

    def __repr__(self) -> str:  # never the secret, even encrypted
        return f"<PublishingAccount channel={self.channel_id} handle={self.handle!r}>"


class PublicationStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("programmée")
    PUBLISHING = "publishing", _("en cours de publication")
    DONE = "done", _("publiée")
    PARTIAL = "partial", _("publiée en partie")
    FAILED = "failed", _("échec")


class Publication(models.Model):
    """One text composed once, for several channels."""

    text = models.TextField()
    link = models.URLField(max_length=1000, blank=True)
    language = models.CharField(max_length=12, default="fr")
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    scheduled_at = models.DateTimeField(null=True, blank=True)  # null: at once
    status = models.CharField(
        max_length=12, choices=PublicationStatus.choices, default=PublicationStatus.SCHEDULED
    )

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="publication_recent")]

    def __str__(self) -> str:
        return f"publication #{self.pk} ({self.status})"


class TargetStatus(models.TextChoices):
    PENDING = "pending", _("à publier")
    PUBLISHED = "published", _("publié")
    FAILED = "failed", _("échec")
    PREPARED = "prepared", _("texte prêt à copier")


class PublicationTarget(models.Model):
    """One channel of a publication: the text adapted for it and what became of it."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="targets")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="publications")
    text = models.TextField()  # adapted for the channel: what is (or is to be) published
    # Bluesky: the links and hashtags of ``text`` as facets (UTF-8 byte ranges), as sent.
    facets = models.JSONField(default=list, blank=True)
    # Warnings found when composing: [{"code", "severity", "message"}], messages in French.
    problems = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=TargetStatus.choices, default=TargetStatus.PENDING
    )
    # When a pending target is due; a worker that claims it moves this forward (a lease).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    remote_id = models.CharField(max_length=300, blank=True)
    remote_url = models.URLField(max_length=1000, blank=True)
    error = models.CharField(max_length=300, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "channel"], name="one_target_per_publication_channel"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="target_due")]

    def __str__(self) -> str:
        return f"publication #{self.publication_id} on channel #{self.channel_id}: {self.status}"


# -- spike webhooks --


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("à envoyer")
    SENT = "sent", _("reçu")
    FAILED = "failed", _("échec")


class WebhookDelivery(models.Model):
    """A spike POSTed to its rule's webhook: one per spike, retried until the receiver answers
    2xx or the attempts run out (``webhooks``)."""

    spike = models.OneToOneField(Spike, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=1000)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook of spike #{self.spike_id}: {self.status}"
