"""Retention policies: what is kept how long, and the daily purge (docs/processing-register.md).

One function per policy, each ``(now, dry_run) -> PolicyResult``: it purges (or, dry, only
counts) what its setting says is too old, and reports how many rows of which table. A setting
of 0 days disables its policy (the donors' period is the law's, not a setting). ``apply_all``
runs them all; the worker does it every night (``privacy.tasks.apply_retention``) and
``nextwork retention`` does it by hand.

Nothing a member still needs goes: never a member holding a current grant or staff, never a
donation (accounting law keeps it: an erased member's donor record stays, see
docs/fundraising-privacy.md), never a delivery of a message still being sent, never a planned
task, never an unsealed audit event.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from nextwork.common.errors import DomainError
from nextwork.privacy.services import audit_record

logger = logging.getLogger(__name__)

# Rows deleted per statement: a purge of millions of posts never holds one huge transaction.
CHUNK = 2000


@dataclass
class PolicyResult:
    """What one policy purged (or, dry, would purge): rows per table."""

    name: str
    setting: str
    days: int
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def enabled(self) -> bool:
        return self.days > 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def as_dict(self) -> dict:
        return {**asdict(self), "enabled": self.enabled, "total": self.total}


def _days(setting: str) -> int:
    return int(getattr(settings, setting))


def _cutoff(now: datetime.datetime, days: int) -> datetime.datetime:
    return now - datetime.timedelta(days=days)


def _delete_in_chunks(queryset) -> int:
    """Delete the rows of ``queryset`` a chunk at a time; how many went (cascades not counted)."""
    model = queryset.model
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:CHUNK])
            if not ids:
                return deleted
            _total, per_model = model.objects.filter(pk__in=ids).delete()
        deleted += per_model.get(model._meta.label, 0)


# -- members -----------------------------------------------------------------------------------


def _protected_members() -> Q:
    """Members no policy ever removes: staff, and whoever holds a current role."""
    Grant = apps.get_model("network", "Grant")
    CommunityCoordinator = apps.get_model("messaging", "CommunityCoordinator")
    return (
        Q(is_staff=True)
        | Q(is_superuser=True)
        | Q(Exists(Grant.objects.filter(member=OuterRef("pk"), valid_to__isnull=True)))
        | Q(
            Exists(
                CommunityCoordinator.objects.filter(member=OuterRef("pk"), valid_to__isnull=True)
            )
        )
    )


def unconfirmed_candidates(now: datetime.datetime, days: int):
    """Sign-ups never confirmed, made more than ``days`` ago.

    A sign-up (site or API) creates the member with a consent of source ``site`` or ``api``
    and ``confirmed_at`` empty until the emailed link is followed. Not swept here: imported
    members (their consent was collected elsewhere, they are never confirmed until they opt in
    themselves: the inactive policy covers them), anyone who ever held a grant or made a
    donation, staff."""
    Member = apps.get_model("network", "Member")
    Consent = apps.get_model("network", "Consent")
    Grant = apps.get_model("network", "Grant")
    Donor = apps.get_model("fundraising", "Donor")
    signed_up = Consent.objects.filter(member=OuterRef("pk"), source__in=["site", "api"])
    imported = Consent.objects.filter(member=OuterRef("pk"), source="import")
    return (
        Member.objects.filter(
            confirmed_at__isnull=True,
            last_login__isnull=True,
            created_at__lt=_cutoff(now, days),
        )
        .filter(Exists(signed_up))
        .exclude(Exists(imported))
        .exclude(Exists(Grant.objects.filter(member=OuterRef("pk"))))
        .exclude(Exists(Donor.objects.filter(member=OuterRef("pk"))))
        .exclude(_protected_members())
    )


def purge_unconfirmed(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Delete the sign-ups never confirmed (the member and what cascades with it)."""
    setting = "NEXTWORK_RETENTION_UNCONFIRMED_DAYS"
    result = PolicyResult("unconfirmed", setting, _days(setting), dry_run)
    if not result.enabled:
        return result
    candidates = unconfirmed_candidates(now, result.days)
    label = "network.Member"
    result.rows[label] = candidates.count() if dry_run else _delete_in_chunks(candidates)
    return result


# Signs of life: (model, the member's field, the date). Opening an email is not one (a pixel
# is no act of the person, CNIL); clicking a link, changing a preference, answering, giving
# or moving home is. Consents recorded by an import or by staff are the organisation's acts.
SIGNS_OF_LIFE: list[tuple[str, str, str, dict]] = [
    ("network.Consent", "member", "given_at", {}),
    ("network.MemberLocation", "member", "valid_from", {}),
    ("network.RelayApplication", "member", "created_at", {}),
    ("messaging.ConsentEvent", "member", "at", {"how__in": ["import", "staff"]}),
    ("messaging.Preferences", "member", "last_clicked_at", {}),
    ("messaging.CommunityMembership", "member", "joined_at", {}),
    ("events.Rsvp", "member", "updated_at", {}),
    ("participation.Proposal", "author", "created_at", {}),
    ("participation.Comment", "author", "created_at", {}),
    ("participation.Support", "member", "created_at", {}),
    ("participation.Follow", "member", "created_at", {}),
    ("participation.Report", "reporter", "created_at", {}),
    ("mobilisation.VotingSituation", "member", "updated_at", {}),
    ("mobilisation.ProxyRequest", "member", "updated_at", {}),
    ("mobilisation.ProxyOffer", "member", "created_at", {}),
    ("mobilisation.ProxyMatch", "holder", "updated_at", {}),
    ("fundraising.Donor", "member", "created_at", {}),
]


def inactive_candidates(now: datetime.datetime, days: int):
    """Members with no sign of life for ``days``: created, confirmed and last logged in before
    the cut-off, and none of ``SIGNS_OF_LIFE`` since; never staff or a current role."""
    Member = apps.get_model("network", "Member")
    since = _cutoff(now, days)
    members = Member.objects.filter(created_at__lt=since).exclude(
        Q(confirmed_at__gte=since) | Q(last_login__gte=since) | _protected_members()
    )
    for label, member_field, date_field, excluded in SIGNS_OF_LIFE:
        rows = apps.get_model(label).objects.filter(
            **{member_field: OuterRef("pk"), f"{date_field}__gte": since}
        )
        if excluded:
            rows = rows.exclude(**excluded)
        members = members.exclude(Exists(rows))
    return members


# Members are told this many days before the inactive policy erases them; a notice older than
# twice this no longer counts (the policy was paused, or they came back and left again).
NOTICE_DAYS = 30
NOTICE_ACTION = "privacy.retention_notice"


def _noticed(since: datetime.datetime, until: datetime.datetime) -> set[int]:
    """The members told between ``since`` and ``until`` (the notices are audit events)."""
    AuditEvent = apps.get_model("privacy", "AuditEvent")
    told = AuditEvent.objects.filter(action=NOTICE_ACTION, at__gte=since, at__lte=until)
    return {int(pk) for pk in told.values_list("details__member", flat=True) if pk is not None}


def _send_notice(member, erase_on: datetime.date) -> None:
    from django.core.mail import send_mail
    from django.urls import reverse

    from nextwork.messaging.consent import is_suppressed
    from nextwork.network.signup import confirmation_url

    if is_suppressed("email", member.email):
        return  # bounced or reported as spam: never written to again, even for this
    organisation = settings.NEXTWORK_ORGANISATION
    site = settings.NEXTWORK_SITE_URL.rstrip("/")
    keep = (
        f"il suffit de vous connecter : {site}{reverse('network:login_link_request')}"
        if member.confirmed_at is not None
        else f"il suffit de confirmer votre adresse : {confirmation_url(member)}"
    )
    send_mail(
        f"Votre inscription — {organisation}",
        f"Bonjour {member.first_name},\n\n"
        f"Nous n'avons plus de nouvelles de vous depuis longtemps. Comme le prévoit notre "
        f"politique de conservation des données, votre compte et les données qui vous "
        f"concernent seront effacés le {erase_on:%d/%m/%Y}.\n\n"
        f"Pour garder votre inscription au réseau de {organisation}, {keep}\n\n"
        "Si vous ne souhaitez plus en faire partie, vous n'avez rien à faire.\n",
        None,
        [member.email],
    )


def _to_notify(now: datetime.datetime, days: int) -> list[int]:
    """The members inactive for ``days - NOTICE_DAYS`` not told within twice ``NOTICE_DAYS``."""
    due = inactive_candidates(now, days - NOTICE_DAYS).values_list("pk", flat=True)
    told = _noticed(now - datetime.timedelta(days=2 * NOTICE_DAYS), now)
    return sorted(set(due) - told)


def _notify(now: datetime.datetime, pks: list[int]) -> int:
    """Tell these members they will be erased in ``NOTICE_DAYS``: each notice is an audit event
    (the member's id only) and an email sent after its commit."""
    from nextwork.common.mail import send_after_commit

    Member = apps.get_model("network", "Member")
    erase_on = timezone.localdate(now + datetime.timedelta(days=NOTICE_DAYS))
    sent = 0
    for start in range(0, len(pks), CHUNK):
        for member in Member.objects.filter(pk__in=pks[start : start + CHUNK]).order_by("pk"):
            with transaction.atomic():
                audit_record(actor=None, action=NOTICE_ACTION, details={"member": member.pk})
                send_after_commit(
                    _send_notice, member, erase_on, what="retention notice",
                    ref=f"member #{member.pk}",
                )  # fmt: skip
            sent += 1
    return sent


def _erasable(now: datetime.datetime, days: int) -> list[int]:
    """The inactive members told between twice and once ``NOTICE_DAYS`` ago (everyone inactive
    when the setting leaves no room for a notice)."""
    candidates = set(inactive_candidates(now, days).values_list("pk", flat=True))
    if days > NOTICE_DAYS:
        notice = datetime.timedelta(days=NOTICE_DAYS)
        candidates &= _noticed(now - 2 * notice, now - notice)
    return sorted(candidates)


def purge_inactive(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Erase the members with no sign of life for the setting's days and told so by email
    ``NOTICE_DAYS`` before, through the erasure service (``privacy.erasure.member_erase``):
    what it keeps (donations for accounting law, suppression hashes) is kept. The members
    that will be due in ``NOTICE_DAYS`` are told now."""
    from nextwork.privacy.erasure import member_erase

    setting = "NEXTWORK_RETENTION_INACTIVE_DAYS"
    result = PolicyResult("inactive", setting, _days(setting), dry_run)
    if not result.enabled:
        return result
    label = "network.Member"
    erasable = _erasable(now, result.days)
    if dry_run:
        result.rows[label] = len(erasable)
        if result.days > NOTICE_DAYS:
            told = len(set(_to_notify(now, result.days)) - set(erasable))
            result.note = f"{told} members would be told they will be erased"
        return result
    erased = failed = 0
    for pk in erasable:
        try:
            with transaction.atomic():
                # Looked at again inside the transaction: a sign of life since the count wins.
                member = inactive_candidates(now, result.days).filter(pk=pk).first()
                if member is None:
                    continue
                member_erase(member=member, by=None, reason="retention")
            erased += 1
        except DomainError:
            logger.exception("retention: member #%s could not be erased", pk)
            failed += 1
    result.rows[label] = erased
    notes = []
    if result.days > NOTICE_DAYS:
        told = _notify(now, _to_notify(now, result.days))
        notes.append(f"{told} members told they will be erased in {NOTICE_DAYS} days")
    if failed:
        notes.append(f"{failed} members could not be erased (see the log), tried again tomorrow")
    result.note = "; ".join(notes)
    return result


# -- donors ------------------------------------------------------------------------------------


def donor_keys_past_retention(now: datetime.datetime):
    """The cap keys of donors who still hold an email or an identity and whose every gift,
    received, refunded or only attempted, and every record, is older than accounting law's
    period (``fundraising.erasure.RETENTION_YEARS``, counted as ``must_keep_identity`` does)."""
    from nextwork.fundraising.erasure import IDENTITY, RETENTION_YEARS

    Donor = apps.get_model("fundraising", "Donor")
    Donation = apps.get_model("fundraising", "Donation")
    limit = now - datetime.timedelta(days=365 * RETENTION_YEARS + RETENTION_YEARS // 4)
    emptied = Q(erased_at__isnull=False, **{name: "" for name in IDENTITY})
    recent_gifts = Donation.objects.filter(
        Q(created_at__gte=limit) | Q(succeeded_at__gte=limit) | Q(refunded_at__gte=limit)
    ).values("donor__key")
    recent_records = Donor.objects.filter(created_at__gte=limit).values("key")
    return (
        Donor.objects.exclude(emptied)
        .exclude(key__in=recent_gifts)
        .exclude(key__in=recent_records)
        .values_list("key", flat=True)
        .distinct()
    )


def purge_donors(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Erase the donors whose last gift is past accounting law's period: the email and the
    member link through ``fundraising.erasure.donor_erase``, and the identity (names, address)
    of those erased earlier while a gift still needed it. Amounts, dates and receipts stay."""
    from nextwork.fundraising.erasure import IDENTITY, RETENTION_YEARS, donor_erase

    result = PolicyResult("donors", "RETENTION_YEARS (law)", 365 * RETENTION_YEARS, dry_run)
    Donor = apps.get_model("fundraising", "Donor")
    keys = list(donor_keys_past_retention(now))
    label = "fundraising.Donor"
    if dry_run:
        result.rows[label] = Donor.objects.filter(key__in=keys).count()
        return result
    changed = 0
    for key in keys:
        with transaction.atomic():
            if Donor.objects.filter(key=key, erased_at__isnull=True).exists():
                changed += donor_erase(key=key, by=None)
            changed += (
                Donor.objects.filter(key=key, erased_at__isnull=False)
                .exclude(**{name: "" for name in IDENTITY})
                .update(**{name: "" for name in IDENTITY})
            )
    result.rows[label] = changed
    return result


# -- monitoring ------------------------------------------------------------------------------


def purge_posts(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Delete the monitored posts (and their mentions) published and seen before the cut-off.
    The per-minute counts and the spikes stay: the curves and the spike history do not change;
    a spike older than this lists no top posts any more."""
    setting = "NEXTWORK_RETENTION_POSTS_DAYS"
    result = PolicyResult("posts", setting, _days(setting), dry_run)
    if not result.enabled:
        return result
    Post = apps.get_model("monitoring", "Post")
    Mention = apps.get_model("monitoring", "Mention")
    since = _cutoff(now, result.days)
    old = Post.objects.filter(published_at__lt=since, seen_at__lt=since)
    if dry_run:
        result.rows["monitoring.Mention"] = Mention.objects.filter(post__in=old).count()
        result.rows["monitoring.Post"] = old.count()
        return result
    posts = mentions = 0
    while True:
        with transaction.atomic():
            ids = list(old.values_list("pk", flat=True)[:CHUNK])
            if not ids:
                break
            mentions += Mention.objects.filter(post_id__in=ids).delete()[0]
            posts += Post.objects.filter(pk__in=ids).delete()[0]
    result.rows["monitoring.Mention"] = mentions
    result.rows["monitoring.Post"] = posts
    return result


# -- logs --------------------------------------------------------------------------------------


def purge_audit(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Remove the oldest sealed audit events, a prefix of the hash chain; the prune is itself
    recorded in the chain so that ``nextwork audit verify`` still passes (``chain.prune``)."""
    from nextwork.privacy import chain

    setting = "NEXTWORK_RETENTION_AUDIT_DAYS"
    result = PolicyResult("audit", setting, _days(setting), dry_run)
    if not result.enabled:
        return result
    pruned = chain.prune(_cutoff(now, result.days), dry_run=dry_run)
    result.rows["privacy.AuditEvent"] = pruned.events
    if pruned.through_seq is not None:
        result.note = f"chain pruned through seq {pruned.through_seq}"
    return result


FINISHED_MESSAGES = ("sent", "cancelled")
# Deliveries in these states are still waiting for something (a sender, the weekly digest).
LIVE_DELIVERIES = ("queued", "claimed", "handing", "digest")


def purge_deliveries(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Delete the per-member delivery rows (status, provider id, opens and clicks) of the
    messages finished before the cut-off. The message itself stays, with its recipient count."""
    setting = "NEXTWORK_RETENTION_DELIVERIES_DAYS"
    result = PolicyResult("deliveries", setting, _days(setting), dry_run)
    if not result.enabled:
        return result
    Delivery = apps.get_model("messaging", "Delivery")
    old = Delivery.objects.filter(
        message__status__in=FINISHED_MESSAGES,
        message__finished_at__lt=_cutoff(now, result.days),
    ).exclude(status__in=LIVE_DELIVERIES)
    result.rows["messaging.Delivery"] = old.count() if dry_run else _delete_in_chunks(old)
    return result


def purge_logs(now: datetime.datetime, dry_run: bool) -> PolicyResult:
    """Delete the technical records past their use: finished background task results, spike
    webhook deliveries that were sent or gave up, and expired sessions (whatever their age)."""
    setting = "NEXTWORK_RETENTION_LOGS_DAYS"
    result = PolicyResult("logs", setting, _days(setting), dry_run)
    if not result.enabled:
        return result
    since = _cutoff(now, result.days)
    from django_tasks_db.models import DBTaskResult

    WebhookDelivery = apps.get_model("monitoring", "WebhookDelivery")
    Session = apps.get_model("sessions", "Session")
    targets = [
        DBTaskResult.objects.filter(status__in=["SUCCESSFUL", "FAILED"], finished_at__lt=since),
        WebhookDelivery.objects.filter(status__in=["sent", "failed"], created_at__lt=since),
        Session.objects.filter(expire_date__lt=now),
    ]
    for rows in targets:
        label = rows.model._meta.label
        result.rows[label] = rows.count() if dry_run else _delete_in_chunks(rows)
    return result


POLICIES: list[Callable[[datetime.datetime, bool], PolicyResult]] = [
    purge_unconfirmed,
    purge_inactive,
    purge_donors,
    purge_posts,
    purge_deliveries,
    purge_logs,
    purge_audit,  # last: the runs' own audit events of this night are not pruned with it
]


def apply_all(now: datetime.datetime | None = None, dry_run: bool = False) -> list[PolicyResult]:
    """Run every policy; a real run is audited (``privacy.retention``, counts only)."""
    now = now or timezone.now()
    results = [policy(now, dry_run) for policy in POLICIES]
    if not dry_run:
        audit_record(
            actor=None,
            action="privacy.retention",
            details={
                "policy": "all",
                "rows": {r.name: r.rows for r in results if r.enabled},
                "disabled": [r.name for r in results if not r.enabled],
            },
        )
    return results
