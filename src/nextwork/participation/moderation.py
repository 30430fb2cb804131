"""Moderation: reports, the queue, hiding and restoring, the author's one review, and the spam
heuristic that holds suspicious contributions before they are public.

Moderators are a consultation's organisers (``selectors.may_moderate``); none may decide on
their own contribution. Every decision is written to the audit log and told to the author.

The spam heuristic scores a contribution and holds it (``state = pending``) at
``HOLD_AT`` points or more:

- links: 1 point per link beyond the first, 2 more when the account is new;
- repeat: 3 points when the author posted the same text (case, spacing and punctuation aside)
  in the last 7 days, or when two other members posted it;
- new account: 1 point when the email was confirmed less than a day ago;
- shouting: 1 point when most letters of a long text are capitals.

So a new member's first plain proposal is public at once, and a new account posting three
links, or anyone pasting the same text again, waits for a moderator.
"""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from nextwork.common import ratelimit
from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.network.models import Member
from nextwork.participation import selectors
from nextwork.participation.models import (
    Comment,
    Proposal,
    Report,
    ReportReason,
    State,
)
from nextwork.privacy.services import audit_record

HOLD_AT = 3
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def spam_reasons(
    *, author: Member, text: str, digest: str, model, exclude: int | None = None
) -> list[str]:
    """The reasons to hold a contribution for a moderator, or ``[]`` to publish it."""
    now = timezone.now()
    score, reasons = 0, []
    new = author.confirmed_at is None or now - author.confirmed_at < datetime.timedelta(days=1)
    links = len(_LINK.findall(text))
    if links > 1 or (links and new):
        score += max(0, links - 1) + (2 if new else 0)
        reasons.append("links")
    same = model.objects.filter(
        body_digest=digest, created_at__gte=now - datetime.timedelta(days=7)
    )
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if (
        same.filter(author=author).exists()
        or same.exclude(author=author).values("author").distinct().count() >= 2
    ):
        score += 3
        reasons.append("repeat")
    if new:
        score += 1
        reasons.append("new_account")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 40 and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        score += 1
        reasons.append("shouting")
    return reasons if score >= HOLD_AT else []


# -- reports ------------------------------------------------------------------------------------


def _target(kind: str, target_id: int) -> Proposal | Comment:
    models = {"proposal": Proposal, "comment": Comment}
    if kind not in models:
        raise InvalidInput("Report a proposal or a comment.", field="kind")
    item = models[kind].objects.select_for_update(no_key=True).filter(pk=target_id).first()
    if item is None:
        raise NotFound(f"No {kind} {target_id}.", field="id")
    return item


def _consultation_of(item):
    return item.consultation if isinstance(item, Proposal) else item.proposal.consultation


@transaction.atomic
def report_create(*, kind: str, target_id: int, reason: str, note: str = "", by: Member) -> Report:
    """A member reports a public proposal or comment. One open report per member and item."""
    if not selectors.is_confirmed(by):
        raise Forbidden("Only members with a confirmed email address may report content.")
    item = _target(kind, target_id)
    if item.state != State.PUBLISHED or (
        isinstance(item, Comment) and item.proposal.state != State.PUBLISHED
    ):
        raise NotFound(f"No {kind} {target_id}.", field="id")
    if reason not in ReportReason.values:
        raise InvalidInput(
            f"Unknown reason {reason!r}; the reasons are {', '.join(ReportReason.values)}.",
            field="reason",
        )
    note = (note or "").strip()
    if len(note) > 1000 or "\x00" in note:
        raise InvalidInput("The note holds at most 1,000 characters of text.", field="note")
    if item.author_id == by.pk:
        raise InvalidInput("You cannot report your own contribution: edit or delete it.")
    ratelimit.check(
        "participation.report", str(by.pk), limit=settings.NEXTWORK_REPORTS_PER_HOUR, window=3600
    )
    try:
        with transaction.atomic():
            return Report.objects.create(reporter=by, reason=reason, note=note, **{kind: item})
    except IntegrityError:
        raise Conflict(f"You already reported this {kind}; a moderator will look at it.") from None


# -- the queue ----------------------------------------------------------------------------------


def _scope(member: Member) -> Q:
    """Consultations this member moderates, as a filter on ``consultation``."""
    from nextwork.network.models import Role
    from nextwork.network.permissions import current_grants, is_staff

    if is_staff(member):
        return Q()
    areas = [g.area_id for g in current_grants(member, [Role.COORDINATOR])]
    if not areas:
        return Q(pk__in=[])
    return (
        Q(consultation__area__in=areas)
        | Q(consultation__area__parent__in=areas)
        | Q(consultation__area__parent__parent__in=areas)
    )


def _with_prefix(q: Q, prefix: str) -> Q:
    """``q`` (written for proposals) applied through ``prefix`` (``proposal__``)."""
    if not q.children:
        return q
    clone = Q()
    clone.connector, clone.negated = q.connector, q.negated
    for child in q.children:
        if isinstance(child, Q):
            clone.children.append(_with_prefix(child, prefix))
        else:
            key, value = child
            clone.children.append((prefix + key, value))
    return clone


def queue(member: Member) -> dict[str, list]:
    """What waits for this moderator: held contributions, reported public ones, and hidden
    ones whose author asked for a review. Their own contributions are left out."""
    if not selectors.may_open_somewhere(member):
        raise Forbidden("Only staff and coordinators moderate.")
    scope = _scope(member)
    comment_scope = _with_prefix(scope, "proposal__")
    waiting = Q(state=State.PENDING) | Q(
        state=State.HIDDEN, review_requested_at__isnull=False, review_decided_at__isnull=True
    )
    reported = Q(
        state=State.PUBLISHED,
        pk__in=Report.objects.filter(resolved_at__isnull=True, proposal__isnull=False).values(
            "proposal_id"
        ),
    )
    reported_comments = Q(
        state=State.PUBLISHED,
        pk__in=Report.objects.filter(resolved_at__isnull=True, comment__isnull=False).values(
            "comment_id"
        ),
    )
    proposals = (
        Proposal.objects.filter(scope)
        .filter(waiting | reported)
        .exclude(author=member)
        .select_related("consultation", "author")
        .order_by("created_at")[:200]
    )
    comments = (
        Comment.objects.filter(comment_scope)
        .filter(waiting | reported_comments)
        .exclude(author=member)
        .select_related("proposal", "proposal__consultation", "author")
        .order_by("created_at")[:200]
    )
    items = list(proposals) + list(comments)
    open_reports = Report.objects.filter(resolved_at__isnull=True).filter(
        Q(proposal__in=[p.pk for p in proposals]) | Q(comment__in=[c.pk for c in comments])
    )
    by_item: dict[tuple[str, int], list[Report]] = {}
    for report in open_reports:
        key = (
            ("proposal", report.proposal_id)
            if report.proposal_id
            else ("comment", report.comment_id)
        )
        by_item.setdefault(key, []).append(report)
    for item in items:
        kind = "proposal" if isinstance(item, Proposal) else "comment"
        item.kind = kind
        item.open_reports = by_item.get((kind, item.pk), [])
    return {
        "held": [i for i in items if i.state == State.PENDING],
        "reported": [i for i in items if i.state == State.PUBLISHED],
        "reviews": [i for i in items if i.state == State.HIDDEN],
    }


# -- decisions ----------------------------------------------------------------------------------

ACTIONS = ("approve", "hide", "restore", "dismiss", "uphold")


def _require_moderator(member: Member, item) -> None:
    if not selectors.may_moderate(member, _consultation_of(item)):
        raise Forbidden("Only this consultation's moderators may decide on its content.")
    if item.author_id == member.pk:
        raise Forbidden("Moderators cannot moderate their own contributions.")


def _count_change(item, before: str, after: str) -> None:
    if not isinstance(item, Comment) or item.deleted_at is not None:
        return
    delta = (after == State.PUBLISHED) - (before == State.PUBLISHED)
    if delta:
        Proposal.objects.filter(pk=item.proposal_id).update(
            comment_count=F("comment_count") + delta
        )


@transaction.atomic
def moderate(*, kind: str, target_id: int, action: str, reason: str = "", by: Member):
    """One moderation decision on a proposal or comment:

    - ``approve`` a held contribution (it becomes public);
    - ``hide`` one, with a reason shown in its place;
    - ``restore`` a hidden one (after a review, or on second thought);
    - ``dismiss`` the open reports of a public one, which stays as it is;
    - ``uphold`` a hidden one after its author's review request: it stays hidden, the review
      is decided, the author is told.
    Open reports on the item are resolved by any decision.
    """
    if action not in ACTIONS:
        raise InvalidInput(
            f"Unknown action {action!r}; one of {', '.join(ACTIONS)}.", field="action"
        )
    item = _target(kind, target_id)
    _require_moderator(by, item)
    reason = (reason or "").strip()
    before, now = item.state, timezone.now()
    if action == "approve":
        if before != State.PENDING:
            raise Conflict(f"This {kind} is not waiting for approval.")
        item.state = State.PUBLISHED
    elif action == "hide":
        if before == State.HIDDEN:
            raise Conflict(f"This {kind} is already hidden.")
        if not reason or len(reason) > 500:
            raise InvalidInput(
                "Give the reason shown in place of the content (at most 500 characters).",
                field="reason",
            )
        item.state, item.hidden_reason = State.HIDDEN, reason
    elif action == "restore":
        if before != State.HIDDEN:
            raise Conflict(f"This {kind} is not hidden.")
        item.state = State.PUBLISHED
    elif action == "dismiss" and not item.reports.filter(resolved_at__isnull=True).exists():
        raise Conflict(f"This {kind} has no open report.")
    elif action == "uphold" and not (
        before == State.HIDDEN and item.review_requested_at and not item.review_decided_at
    ):
        raise Conflict(f"No review of this {kind} is waiting for a decision.")
    if item.review_requested_at and not item.review_decided_at and action in ("restore", "uphold"):
        item.review_decided_at = now
    item.moderated_by, item.moderated_at = by, now
    item.save(
        update_fields=[
            "state", "hidden_reason", "moderated_by", "moderated_at", "review_decided_at",
        ]
    )  # fmt: skip
    item.reports.filter(resolved_at__isnull=True).update(resolved_at=now, resolved_by=by)
    _count_change(item, before, item.state)
    if isinstance(item, Comment) and before != State.PUBLISHED and item.state == State.PUBLISHED:
        from nextwork.participation.services import _notify_comment

        transaction.on_commit(lambda: _notify_comment(item.proposal_id, item.author_id))
    consultation = _consultation_of(item)
    audit_record(
        actor=by,
        action=f"moderation.{action}",
        area_code=consultation.area.code if consultation.area_id else "",
        details={"kind": kind, "id": item.pk, "from": before, "to": item.state},
    )
    if action in ("hide", "restore", "approve", "uphold") and item.author_id is not None:
        transaction.on_commit(lambda: _tell_author(kind, item.pk, action))
    return item


@transaction.atomic
def review_request(*, kind: str, target_id: int, note: str, by: Member):
    """The author of a hidden contribution asks, once, for a second look."""
    item = _target(kind, target_id)
    if item.author_id != by.pk:
        raise Forbidden("Only its author may ask for a review.")
    if item.state != State.HIDDEN:
        raise Conflict(f"This {kind} is not hidden.")
    if item.review_requested_at is not None:
        raise Conflict("A review was already asked for: each decision can be reviewed once.")
    note = (note or "").strip()
    if not note or len(note) > 1000 or "\x00" in note:
        raise InvalidInput("Say in at most 1,000 characters why it should be shown.", field="note")
    item.review_requested_at, item.review_note = timezone.now(), note
    item.save(update_fields=["review_requested_at", "review_note"])
    audit_record(
        actor=by, action="moderation.review_request", details={"kind": kind, "id": item.pk}
    )
    return item


def _tell_author(kind: str, item_id: int, action: str) -> None:
    from nextwork.messaging.models import MessageType
    from nextwork.messaging.render import literal
    from nextwork.messaging.services import notify

    item = (Proposal if kind == "proposal" else Comment).objects.get(pk=item_id)
    proposal = item if kind == "proposal" else item.proposal
    what = "votre proposition" if kind == "proposal" else "votre commentaire"
    url = f"{settings.NEXTWORK_SITE_URL}/propositions/{proposal.pk}/"
    if action == "hide":
        body = (
            f"Bonjour {{{{ first_name }}}},\n\nUn modérateur a masqué {what} sur « "
            f"{literal(proposal.title)} ». Motif : {literal(item.hidden_reason)}\n\n"
            "Si vous pensez que c'est une erreur, vous pouvez demander un réexamen, une fois, "
            f"depuis la page :\n{url}\n"
        )
    elif action == "restore":
        body = (
            f"Bonjour {{{{ first_name }}}},\n\n{what.capitalize()} sur « "
            f"{literal(proposal.title)} » est de nouveau visible :\n{url}\n"
        )
    elif action == "uphold":
        body = (
            f"Bonjour {{{{ first_name }}}},\n\nUn modérateur a réexaminé {what} sur « "
            f"{literal(proposal.title)} » comme vous l'avez demandé, et la décision est "
            f"maintenue. Motif : {literal(item.hidden_reason)}\n{url}\n"
        )
    else:
        body = (
            f"Bonjour {{{{ first_name }}}},\n\n{what.capitalize()} sur « "
            f"{literal(proposal.title)} » a été validé{'e' if kind == 'proposal' else ''} par "
            f"un modérateur et est maintenant publi{'ée' if kind == 'proposal' else 'é'} :\n"
            f"{url}\n"
        )
    notify(
        key=f"participation:moderation:{kind}:{item_id}:{action}:{item.moderated_at.timestamp():.0f}",
        members=[item.author_id],
        subject="Modération de votre contribution",
        body=body,
        message_type=MessageType.PARTICIPATION,
    )
