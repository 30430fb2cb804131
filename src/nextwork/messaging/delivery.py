"""Handing messages over, exactly once per recipient, whatever happens to the senders.

How a message goes out (``send_message`` runs in a worker, as a task):

1. **Materialise** (once, idempotent): the audience is evaluated now (a saved segment is
   re-evaluated at send time) and one ``Delivery`` row is inserted per recipient. The unique
   (message, member) pair is the idempotency key: running this twice inserts nothing new.
2. **Claim** a batch: one UPDATE … RETURNING moves due rows to ``claimed`` with this sender's
   id and a lease. On PostgreSQL the candidate rows are locked with SKIP LOCKED, so two
   workers never claim the same row; on SQLite the statement holds the write lock.
3. For each claimed row, in order, each step committed on its own:
   - **hand-over starts**: ``claimed → handing`` only if the member may still receive this
     channel and type (the consent check is in the same UPDATE: an unsubscribe committed
     before this instant is always respected); otherwise ``skipped``;
   - the message is handed to the SMTP server or the SMS provider;
   - **hand-over done**: ``handing → sent`` (or back to ``queued`` with a backoff on a
     temporary failure, or ``failed`` on a permanent one).
4. A sender that dies leaves rows ``claimed`` (never handed: another sender takes them when
   the lease ends) and at most one row ``handing`` per connection (the one in flight). Whether
   the server accepted that one cannot be known; it is handed over again with the **same
   Message-ID** (mail systems drop a second copy with the same id) and marked
   ``handed_twice`` so the statistics say how often this happened. That single in-flight
   message per dead sender is the only place where exactly-once depends on the receiver.
"""

from __future__ import annotations

import datetime
import logging
import random
import smtplib
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.policy import Compat32

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from nextwork.messaging import render
from nextwork.messaging.consent import address_hash
from nextwork.messaging.errors import PermanentFailure, SendFailure, TemporaryFailure
from nextwork.messaging.models import (
    Channel,
    ConsentState,
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
    Preferences,
    Suppression,
)
from nextwork.network.models import Member, MemberLocation

logger = logging.getLogger("nextwork.messaging")

UNSUBSCRIBE_SALT = "nextwork.messaging.unsubscribe"
BATCH = 200
MATERIALISE_SLICE = 50_000  # member ids per INSERT … SELECT


def _setting(name: str, default):
    return getattr(settings, name, default)


# -- 1. materialise -----------------------------------------------------------------------------


def materialise(message: Message) -> int:
    """Insert one delivery per recipient (idempotent); the number of recipients.

    One ``INSERT … SELECT`` per slice of member ids, each committed on its own: the audience
    query runs in the database (no row goes through Python), and a large audience never holds
    SQLite's write lock for long (sign-ups and unsubscribes go on meanwhile). The unique
    (message, member) pair makes a second run, or two at once, insert nothing twice.
    """
    from nextwork.messaging.services import message_audience

    audience_sql, audience_params = (
        message_audience(message).order_by().values(nw_member=F("pk")).query.sql_with_params()
    )
    d, p = Delivery._meta.db_table, Preferences._meta.db_table
    # Alerts and internal notifications (reminders: they have a key) are time-bound, and SMS
    # are never gathered into an email: none of them is held back for the weekly digest.
    digest = message.channel == Channel.EMAIL and not message.is_alert and not message.dedupe_key
    status = (
        f"CASE WHEN EXISTS (SELECT 1 FROM {p} p WHERE p.member_id = a.nw_member "  # noqa: S608
        f"AND p.weekly_digest) THEN %s ELSE %s END"
        if digest
        else "%s"
    )
    status_params = (
        [DeliveryStatus.DIGEST, DeliveryStatus.QUEUED] if digest else [DeliveryStatus.QUEUED]
    )
    sql = (
        f"INSERT INTO {d} (message_id, member_id, status, attempts, claimed_by, "  # noqa: S608
        f"handed_twice, provider_id, error) "
        f"SELECT %s, a.nw_member, {status}, 0, '', %s, '', '' FROM ({audience_sql}) a "
        f"WHERE a.nw_member >= %s AND a.nw_member < %s "
        f"ON CONFLICT (message_id, member_id) DO NOTHING"
    )
    bounds = Member.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is not None:
        low = bounds["low"]
        while low <= bounds["high"]:
            high = low + MATERIALISE_SLICE
            params = [message.pk, *status_params, False, *audience_params, low, high]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
            low = high
    total = Delivery.objects.filter(message=message).count()
    Message.objects.filter(pk=message.pk).update(recipients=total)
    return total


# -- 2. claim -----------------------------------------------------------------------------------


def _db_now(value: datetime.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def claim(message_id: int, sender: str, *, limit: int | None = None) -> list[tuple[int, int, bool]]:
    """Claim up to ``limit`` due deliveries: (delivery id, member id, interrupted hand-over)."""
    limit = limit or _setting("NEXTWORK_SEND_BATCH", BATCH)
    now = timezone.now()
    lease = now + datetime.timedelta(seconds=_setting("NEXTWORK_SEND_LEASE", 120))
    table = Delivery._meta.db_table
    due = (
        "(status = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s))"
        " OR (status IN (%s, %s) AND lease_until < %s)"
    )
    due_params = [
        DeliveryStatus.QUEUED, _db_now(now),
        DeliveryStatus.CLAIMED, DeliveryStatus.HANDING, _db_now(now),
    ]  # fmt: skip
    set_claim = (
        "SET handed_twice = (handed_twice OR status = %s), status = %s, "
        "claimed_by = %s, lease_until = %s"
    )
    messages = Message._meta.db_table
    pick = (
        f"SELECT id FROM {table} WHERE message_id = %s AND ({due}) "  # noqa: S608
        f"AND EXISTS (SELECT 1 FROM {messages} WHERE id = message_id AND status = 'sending') "
        "ORDER BY id LIMIT %s"
    )
    if connection.vendor == "postgresql":
        # A materialised CTE picks the rows once: as an IN (subquery), PostgreSQL may run the
        # LIMIT … SKIP LOCKED subquery again per row and claim more than the limit.
        sql = (
            f"WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) "
            f"UPDATE {table} {set_claim} FROM picked WHERE {table}.id = picked.id "
            f"RETURNING {table}.id, {table}.member_id, {table}.handed_twice"
        )
        params = [
            message_id, *due_params, limit,
            DeliveryStatus.HANDING, DeliveryStatus.CLAIMED, sender, _db_now(lease),
        ]  # fmt: skip
    else:  # SQLite: the statement holds the write lock; the rows are checked again anyway
        sql = (
            f"UPDATE {table} {set_claim} WHERE id IN ({pick}) AND ({due}) "
            "RETURNING id, member_id, handed_twice"
        )
        params = [
            DeliveryStatus.HANDING, DeliveryStatus.CLAIMED, sender, _db_now(lease),
            message_id, *due_params, limit, *due_params,
        ]  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted((row[0], row[1], bool(row[2])) for row in rows)


# -- 3. hand over -------------------------------------------------------------------------------


class Statements:
    """The statements of each hand-over, written once per message.

    Built through the ORM for every recipient, these UPDATEs cost more than rendering and
    handing over the email itself. The reachability test is the one of
    ``consent.reachable_q`` (current consent, active member, confirmed email or a phone),
    written here as SQL; a test compares them. Every write names the sender that claimed the
    row: a sender whose claim was taken over (its lease ended) changes nothing.
    """

    def __init__(self, message: Message):
        d, m, c = Delivery._meta.db_table, Member._meta.db_table, ConsentState._meta.db_table
        msg = Message._meta.db_table
        address = (
            "m.confirmed_at IS NOT NULL" if message.channel == Channel.EMAIL else "m.phone <> ''"
        )
        self.channel, self.message_type = message.channel, message.message_type
        # Table names only in these f-strings: every value is a parameter. The row's own
        # member is looked up by key (the cost does not grow with the membership), and a
        # cancelled message stops at once.
        self.start = (
            f"UPDATE {d} SET status = %s, lease_until = %s, attempts = attempts + 1 "  # noqa: S608
            f"WHERE id = %s AND claimed_by = %s AND status = %s "
            f"AND EXISTS (SELECT 1 FROM {msg} WHERE id = {d}.message_id AND status = 'sending') "
            f"AND EXISTS (SELECT 1 FROM {m} m JOIN {c} c ON c.member_id = m.id "
            f"WHERE m.id = {d}.member_id AND m.is_active AND {address} "
            f"AND c.channel = %s AND c.message_type = %s AND c.given)"
        )
        self.skip = (
            f"UPDATE {d} SET status = %s, error = %s, lease_until = NULL "  # noqa: S608
            f"WHERE id = %s AND claimed_by = %s AND status = %s"
        )
        self.done = (
            f"UPDATE {d} SET status = %s, sent_at = %s, provider_id = %s, "  # noqa: S608
            "lease_until = NULL, error = '' WHERE id = %s AND claimed_by = %s AND status = %s"
        )

    def execute(self, sql: str, params: list) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount


STARTED, SKIPPED, LOST = "started", "skipped", "lost"


def _start_handover(delivery_id: int, sender: str, message: Message, statements=None) -> str:
    """``claimed → handing`` when the member may still receive it and the message is still
    being sent (``STARTED``); else ``skipped`` (``SKIPPED``), unless the row is no longer
    this sender's (``LOST``: its lease ended and another sender took it).

    One UPDATE: a consent withdrawn before it commits is respected, one withdrawn after it
    concerns a message already on its way.
    """
    sql = statements or Statements(message)
    lease = timezone.now() + datetime.timedelta(seconds=_setting("NEXTWORK_SEND_LEASE", 120))
    started = sql.execute(
        sql.start,
        [DeliveryStatus.HANDING, _db_now(lease), delivery_id, sender, DeliveryStatus.CLAIMED,
         sql.channel, sql.message_type],
    )  # fmt: skip
    if started:
        return STARTED
    skipped = sql.execute(
        sql.skip,
        [DeliveryStatus.SKIPPED, "no current consent", delivery_id, sender, DeliveryStatus.CLAIMED],
    )
    return SKIPPED if skipped else LOST


def _done(delivery_id: int, provider_id: str, statements: Statements, sender: str) -> None:
    statements.execute(
        statements.done,
        [DeliveryStatus.SENT, _db_now(timezone.now()), provider_id[:120], delivery_id, sender,
         DeliveryStatus.HANDING],
    )  # fmt: skip


def backoff(attempts: int, retry_after: float | None = None) -> datetime.timedelta:
    """Exponential backoff with jitter (base × 2^(attempts−1), capped), or the provider's
    own Retry-After when it is longer."""
    base = _setting("NEXTWORK_SEND_RETRY_BASE", 30.0)
    cap = _setting("NEXTWORK_SEND_RETRY_MAX", 3600.0)
    delay = min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311
    return datetime.timedelta(seconds=max(delay, retry_after or 0))


def _failed(delivery_id: int, failure: SendFailure, sender: str) -> str:
    """Record a failed hand-over: retried later when temporary, final when permanent."""
    mine = Delivery.objects.filter(pk=delivery_id, claimed_by=sender, status=DeliveryStatus.HANDING)
    row = Delivery.objects.filter(pk=delivery_id).values("attempts").first()
    attempts = (row or {}).get("attempts", 0)  # counted when the hand-over started
    error = f"{failure.code} {failure.reason}".strip()[:200]
    max_attempts = _setting("NEXTWORK_SEND_MAX_ATTEMPTS", 8)
    if isinstance(failure, TemporaryFailure) and attempts < max_attempts:
        retry_after = getattr(failure, "retry_after", None)
        mine.update(
            status=DeliveryStatus.QUEUED, attempts=attempts, error=error, claimed_by="",
            lease_until=None, next_attempt_at=timezone.now() + backoff(attempts, retry_after),
        )  # fmt: skip
        return "retry"
    if isinstance(failure, TemporaryFailure):
        error = f"gave up after {attempts} attempts: {error}"[:200]
    mine.update(status=DeliveryStatus.FAILED, attempts=attempts, error=error, lease_until=None)
    return "failed"


def _give_back(delivery_id: int, sender: str) -> None:
    """The server could not be reached: the row goes back untouched (no attempt used)."""
    Delivery.objects.filter(
        pk=delivery_id, claimed_by=sender, status=DeliveryStatus.HANDING
    ).update(
        status=DeliveryStatus.QUEUED, attempts=F("attempts") - 1, claimed_by="", lease_until=None
    )


def _release(delivery_ids: Iterable[int], sender: str) -> None:
    """Give back claimed rows this sender will not hand over now (connection lost)."""
    Delivery.objects.filter(
        pk__in=list(delivery_ids), claimed_by=sender, status=DeliveryStatus.CLAIMED
    ).update(status=DeliveryStatus.QUEUED, claimed_by="", lease_until=None)


# -- what each recipient gets -------------------------------------------------------------------


@dataclass
class Recipient:
    delivery_id: int
    member_id: int
    public_id: uuid.UUID
    email: str
    phone: str
    tracking: bool
    values: dict[str, str]
    interrupted: bool = False


def unsubscribe_token(delivery_id: int, *, everything: bool = False) -> str:
    """The signed token of a message's one-click link: the delivery's id (its channel and
    type), or ``all.ID`` for the weekly digest (every email type)."""
    value = f"all.{delivery_id}" if everything else str(delivery_id)
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(value)


def unsubscribe_url(delivery_id: int, *, everything: bool = False) -> str:
    token = unsubscribe_token(delivery_id, everything=everything)
    return f"{settings.NEXTWORK_SITE_URL}/desinscription/{token}/"


def _preferences_url(member) -> str:
    try:
        from nextwork.messaging.preferences import preferences_url
    except ImportError:  # the preferences page is not installed: the site's own page
        return f"{settings.NEXTWORK_SITE_URL}/espace/preferences/"
    return preferences_url(member)


class _Deputies:
    """The current deputy of each seat, read once per sender."""

    def __init__(self):
        from nextwork.territories.models import Chamber, Mandate

        self.by_seat = {
            area_id: f"{first} {last}"
            for area_id, first, last in Mandate.objects.filter(
                chamber=Chamber.ASSEMBLY, end__isnull=True, area__boundary_set__active=True
            ).values_list("area_id", "first_name", "last_name")
        }


def _printable(value: str) -> str:
    """A member's value without control characters: a carriage return in a name would
    break the headers it is put in (and stop the send)."""
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else " " for ch in value).strip()


def recipients(claimed: list[tuple[int, int, bool]], deputies: _Deputies) -> list[Recipient]:
    member_ids = [m for _d, m, _i in claimed]
    members = {
        row["pk"]: row
        for row in Member.objects.filter(pk__in=member_ids).values(
            "pk", "public_id", "email", "phone", "first_name", "last_name", "preferences__tracking"
        )
    }
    places = {
        row["member_id"]: row
        for row in MemberLocation.objects.filter(
            member_id__in=member_ids, valid_to__isnull=True
        ).values("member_id", "constituency_id", "constituency__code", "department__name")
    }
    out = []
    clean = _printable
    for delivery_id, member_id, interrupted in claimed:
        member = members.get(member_id)
        if member is None:  # erased since: nothing to send
            continue
        place = places.get(member_id, {})
        out.append(
            Recipient(
                delivery_id=delivery_id,
                member_id=member_id,
                public_id=member["public_id"],
                email=member["email"],
                phone=member["phone"],
                tracking=bool(member["preferences__tracking"]),
                interrupted=interrupted,
                values={
                    "first_name": clean(member["first_name"]),
                    "last_name": clean(member["last_name"]),
                    "constituency": place.get("constituency__code") or "",
                    "department": place.get("department__name") or "",
                    "deputy": deputies.by_seat.get(place.get("constituency_id"), ""),
                },
            )
        )
    return out


class EmailChannel:
    """Builds each recipient's email and hands it to Django's email backend, one connection
    for a whole batch (SMTP by default; an anymail provider when configured)."""

    def __init__(self, message: Message):
        self.message = message
        self.subject = render.Compiled.of(message.subject)
        self.html = render.Compiled.of(message.body_html) if message.body_html else None
        self.text = render.Compiled.of(
            message.body_text or render.text_from_html(message.body_html)
        )
        self.organisation = settings.NEXTWORK_ORGANISATION
        # The footers are translated and escaped once; only their two links vary.
        placeholders = {
            "unsubscribe_url": "{{ unsubscribe_url }}",
            "preferences_url": "{{ preferences_url }}",
            "organisation": self.organisation,
        }
        self.footer_text = render.Compiled.of(render.footer_text(**placeholders))
        self.footer_html = render.Compiled.of(render.footer_html(**placeholders))
        self.domain = settings.NEXTWORK_SITE_URL.split("://")[-1].split("/")[0] or "localhost"
        self.domain = self.domain.split(":")[0]
        self.connection = None
        self.sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_CHARSET)

    def open(self) -> None:
        self.connection = get_connection(fail_silently=False)
        try:
            self.connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            self.connection = None
            raise TemporaryFailure("connect", type(exc).__name__) from exc

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except (OSError, smtplib.SMTPException):
                logger.debug("closing a broken connection failed")
            self.connection = None

    def build(self, recipient: Recipient) -> EmailMultiAlternatives:
        unsubscribe = unsubscribe_url(recipient.delivery_id)
        values = {
            **recipient.values,
            "unsubscribe_url": unsubscribe,
            "preferences_url": _preferences_url(recipient),
        }
        text = self.text.fill(values) + self.footer_text.fill(values)
        email = BulkEmail(
            subject=self.subject.fill(values).replace("\n", " "),
            body=text,
            to=[recipient.email],
            headers={
                # The same id for the same (message, member), even when handed over again.
                "Message-ID": f"<nw.{self.message.pk}.{recipient.delivery_id}@{self.domain}>",
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": f"<{self.message.message_type}.{self.domain}>",
                "Precedence": "bulk",
                "Auto-Submitted": "auto-generated",
            },
            connection=self.connection,
        )
        # A provider (through anymail) must not track members who did not allow it, whatever
        # its account's defaults; the SMTP backend ignores these attributes.
        email.track_opens = email.track_clicks = recipient.tracking
        if self.html is not None:
            html = self.html.fill(values, html=True)
            if recipient.tracking:
                try:
                    from nextwork.messaging.tracking import instrument_html
                except ImportError:
                    pass
                else:
                    html = instrument_html(html, _DeliveryRef(recipient.delivery_id))
            email.attach_alternative(html + self.footer_html.fill(values, html=True), "text/html")
        return email

    def send(self, recipient: Recipient) -> str:
        if self.connection is None:
            self.open()
        email = self.build(recipient)
        try:
            smtp = getattr(self.connection, "connection", None)
            if isinstance(self.connection, SMTPBackend) and smtp is not None:
                # Django's SMTP backend, already connected: hand the bytes over directly,
                # without checking again the sender and the address it checked in message().
                message = email.message()
                smtp.sendmail(self.sender, [recipient.email], message.as_bytes(linesep="\r\n"))
            else:  # a provider (anymail) or another backend: its own way
                email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()), (550, b""))
            raise _smtp_failure(code, reason) from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_failure(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise TemporaryFailure("connection", type(exc).__name__) from None
        status = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        return str(provider_id or email.extra_headers["Message-ID"])


class _UnfoldedHeaders(Compat32):
    """The email package's default policy, but a header that is plain ASCII on one line (all
    of ours but an encoded subject) is written as is: folding it costs more per email than
    anything else in the message, and it fits RFC 5322's 998 characters anyway."""

    def fold_binary(self, name, value):
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + len(value) < 990
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


UNFOLDED = _UnfoldedHeaders(max_line_length=998)


class BulkEmail(EmailMultiAlternatives):
    """An email whose header lines are not folded below RFC 5322's 998 characters: a folded
    List-Unsubscribe URL gets encoded, and mail clients would not find it."""

    def message(self):
        message = super().message()
        for part in message.walk():
            part.policy = UNFOLDED
        return message


class _DeliveryRef:
    """What tracking needs of a delivery without loading it."""

    def __init__(self, pk: int):
        self.pk = self.id = pk


def _smtp_failure(code: int, reason) -> SendFailure:
    text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    # SMTP replies may quote the address: keep only the code and the first words.
    text = " ".join(w for w in text.split()[:8] if "@" not in w)
    if 400 <= int(code) < 500:
        return TemporaryFailure(f"smtp {code}", text)
    return PermanentFailure(f"smtp {code}", text)


class SmsChannel:
    """Fills the text and hands it to the configured SMS provider (``messaging.sms``)."""

    def __init__(self, message: Message):
        from nextwork.messaging.sms.base import get_provider

        self.message = message
        self.text = render.Compiled.of(message.body_text)
        stop = _setting("NEXTWORK_SMS_STOP_TEXT", None)
        self.stop = _("STOP au numéro de l'expéditeur") if stop is None else stop
        self.provider = get_provider()

    def open(self) -> None:
        pass

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if close is not None:
            close()

    def send(self, recipient: Recipient) -> str:
        body = self.text.fill(recipient.values).rstrip()
        if self.stop:
            body = f"{body}\n{self.stop}"
        return self.provider.send(
            to=recipient.phone, body=body, reference=f"nw.{self.message.pk}.{recipient.delivery_id}"
        )


def channel_for(message: Message):
    return EmailChannel(message) if message.channel == Channel.EMAIL else SmsChannel(message)


class Pacer:
    """Keeps one sender under the provider's rate (messages per second; 0 = no limit)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


def _suppressed(message: Message, batch: list[Recipient]) -> set[int]:
    """Deliveries whose address is on the suppression list."""
    hashes = {
        r.delivery_id: address_hash(
            message.channel, r.email if message.channel == Channel.EMAIL else r.phone
        )
        for r in batch
    }
    blocked = set(
        Suppression.objects.filter(
            channel=message.channel, address_hash__in=set(hashes.values())
        ).values_list("address_hash", flat=True)
    )
    return {d for d, h in hashes.items() if h in blocked}


@dataclass
class RunReport:
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    handed_twice: int = 0


def send_message(message_id: int, *, sender: str | None = None, max_batches: int | None = None):
    """Hand a queued message over to its recipients, as one sender among possibly several.

    Returns a ``RunReport``. Safe to run twice, at once or after a crash: claims decide who
    sends what, and the delivery rows remember what was handed over.
    """
    sender = sender or f"{socket.gethostname()[:20]}-{uuid.uuid4().hex[:12]}"
    message = Message.objects.get(pk=message_id)
    report = RunReport()
    if message.status == MessageStatus.QUEUED:
        materialise(message)
        flipped = Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING
        )
        message.refresh_from_db()
        if not flipped and message.status == MessageStatus.CANCELLED:
            _skip_waiting(message_id, "cancelled")
    if message.status != MessageStatus.SENDING:
        return report
    channel = channel_for(message)
    channel.statements = Statements(message)
    rate_name = "NEXTWORK_EMAIL_RATE" if message.channel == Channel.EMAIL else "NEXTWORK_SMS_RATE"
    pacer = Pacer(_setting(rate_name, 0))
    deputies = _Deputies()
    batches = 0
    outage = False
    try:
        while max_batches is None or batches < max_batches:
            claimed = claim(message_id, sender)
            if not claimed:
                break
            batches += 1
            outage = _hand_over_batch(message, channel, claimed, sender, deputies, pacer, report)
            if outage:
                break
    finally:
        channel.close()
    if outage:
        # One retry for the whole message, later each time the server stays away; nobody's
        # attempts are used up by an outage.
        outages = message.outages + 1
        Message.objects.filter(pk=message_id).update(outages=outages)
        _schedule_retry(message_id, backoff(outages))
        return report
    if report.sent and message.outages:
        Message.objects.filter(pk=message_id).update(outages=0)
    finish_if_done(message_id)
    return report


def _skip_waiting(message_id: int, reason: str) -> None:
    Delivery.objects.filter(
        message_id=message_id,
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED, DeliveryStatus.DIGEST],
    ).update(status=DeliveryStatus.SKIPPED, error=reason, claimed_by="", lease_until=None)


def _hand_over_batch(message, channel, claimed, sender, deputies, pacer, report) -> bool:
    """Hand over one claimed batch; True when the server could not be reached (the rest of
    the batch is given back, untouched)."""
    statements = channel.statements
    batch = recipients(claimed, deputies)
    blocked = _suppressed(message, batch)
    for position, recipient in enumerate(batch):
        if recipient.delivery_id in blocked:
            statements.execute(
                statements.skip,
                [DeliveryStatus.SKIPPED, "suppressed address", recipient.delivery_id, sender,
                 DeliveryStatus.CLAIMED],
            )  # fmt: skip
            report.skipped += 1
            continue
        pacer.wait()  # before the hand-over starts: waiting never eats into the lease
        outcome = _start_handover(recipient.delivery_id, sender, message, statements)
        if outcome != STARTED:
            report.skipped += outcome == SKIPPED
            continue
        report.handed_twice += recipient.interrupted
        try:
            provider_id = channel.send(recipient)
        except TemporaryFailure as failure:
            if failure.code in ("connect", "connection"):
                _give_back(recipient.delivery_id, sender)
                _release([r.delivery_id for r in batch[position + 1 :]], sender)
                logger.warning("message #%s: server unreachable (%s)", message.pk, failure.code)
                return True
            report.retried += _failed(recipient.delivery_id, failure, sender) == "retry"
            continue
        except PermanentFailure as failure:
            _failed(recipient.delivery_id, failure, sender)
            report.failed += 1
            logger.info("delivery #%s failed: %s", recipient.delivery_id, failure.code)
            continue
        except Exception as exc:  # one bad recipient must not stop the others
            # The exception's text may quote the recipient's data: its type only.
            _failed(recipient.delivery_id, PermanentFailure("error", type(exc).__name__), sender)
            report.failed += 1
            logger.error("delivery #%s failed: %s", recipient.delivery_id, type(exc).__name__)
            continue
        _done(recipient.delivery_id, provider_id, statements, sender)
        report.sent += 1
    return False


def _schedule_retry(message_id: int, delay: datetime.timedelta) -> None:
    """Plan one more sender for the message, unless one is planned already."""
    message = Message.objects.filter(pk=message_id).values("priority").first()
    priority = (message or {}).get("priority", 0)
    transaction.on_commit(
        lambda: enqueue_once(message_id, priority=priority, run_after=timezone.now() + delay)
    )


def enqueue_once(message_id: int, *, priority: int = 0, run_after=None) -> bool:
    """Enqueue a sender for the message unless one waits in the queue already."""
    from nextwork.messaging.tasks import send_message_task

    try:
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another task backend: a duplicate sender is harmless anyway
        pass
    else:
        waiting = DBTaskResult.objects.filter(
            task_path=send_message_task.module_path,
            status=TaskResultStatus.READY,
            args_kwargs__args__0=message_id,
        )
        if waiting.exists():
            return False
    task = send_message_task.using(priority=priority)
    if run_after is not None:
        task = task.using(run_after=run_after)
    task.enqueue(message_id)
    return True


def finish_if_done(message_id: int) -> bool:
    """Mark the message sent when no delivery is waiting; else plan the next due retry."""
    waiting = Delivery.objects.filter(
        message_id=message_id,
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED, DeliveryStatus.HANDING],
    )
    if not waiting.exists():
        Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
            status=MessageStatus.SENT, finished_at=timezone.now()
        )
        return True
    next_due = (
        waiting.filter(status=DeliveryStatus.QUEUED, next_attempt_at__isnull=False)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if next_due is not None and not waiting.exclude(status=DeliveryStatus.QUEUED).exists():
        _schedule_retry(message_id, max(next_due - timezone.now(), datetime.timedelta(0)))
    return False


QUEUED_TOO_LONG = datetime.timedelta(minutes=5)


def stalled_messages() -> list[int]:
    """Messages nobody is sending although they should be: a sender died (rows with an
    ended lease, or due rows and no live claim), or a queued message whose sender never
    started. A wrong guess only starts one more sender, which claims nothing twice."""
    now = timezone.now()
    due = Delivery.objects.filter(
        Q(status=DeliveryStatus.QUEUED, next_attempt_at__isnull=True)
        | Q(status=DeliveryStatus.QUEUED, next_attempt_at__lte=now)
        | Q(status__in=[DeliveryStatus.CLAIMED, DeliveryStatus.HANDING], lease_until__lt=now)
    )
    live = Delivery.objects.filter(
        status__in=[DeliveryStatus.CLAIMED, DeliveryStatus.HANDING], lease_until__gte=now
    )
    sending = (
        Message.objects.filter(status=MessageStatus.SENDING, pk__in=due.values("message_id"))
        .exclude(pk__in=live.values("message_id"))
        .values_list("pk", flat=True)
    )
    forgotten = Message.objects.filter(
        status=MessageStatus.QUEUED, queued_at__lt=now - QUEUED_TOO_LONG
    ).values_list("pk", flat=True)
    return sorted({*sending, *forgotten})
