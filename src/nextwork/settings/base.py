"""Settings shared by every environment. Values that vary come from ``env``."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from nextwork.settings import env

PACKAGE_DIR = Path(__file__).resolve().parent.parent
HOME = env.home()


def _local_secret_key() -> str:
    """The embedded default keeps a random key under NEXTWORK_HOME, made once, never shipped."""
    import secrets

    path = HOME / "secret_key"
    if not path.exists():
        HOME.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(50))
            path.chmod(0o600)
        except FileExistsError:
            pass  # another process made it first
    return path.read_text(encoding="ascii").strip()


SECRET_KEY = env.get("SECRET_KEY") or _local_secret_key()
DEBUG = env.get_bool("DEBUG")
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS") or ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_countries",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "anymail",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "nextwork.common",
    "nextwork.territories",
    "nextwork.network",
    "nextwork.campaigns",
    "nextwork.events",
    "nextwork.messaging",
    "nextwork.participation",
    "nextwork.fundraising",
    "nextwork.mobilisation",
    "nextwork.monitoring",
    "nextwork.privacy",
]

# Background tasks through the Tasks API; the database queue needs no other service
# (`nextwork worker` runs them). A Redis-backed backend can replace it at scale.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

AUTH_USER_MODEL = "network.Member"
LOGIN_URL = "network:login"
LOGIN_REDIRECT_URL = "network:space"
LOGOUT_REDIRECT_URL = "/"
# Argon2 first (new and rehashed passwords); the others only read older hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

MIDDLEWARE = [
    # Before anything reads the visitor's address (NEXTWORK_TRUSTED_PROXIES; unset: not used).
    "nextwork.common.proxies.ForwardedForMiddleware",
    # Then: every later log line of the request carries its id.
    "nextwork.common.security.RequestIdMiddleware",
    "nextwork.common.dberrors.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "nextwork.common.security.SecurityHeadersMiddleware",
    # Before anything reads the body (CSRF reads the form).
    "nextwork.common.security.RequestSizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, with a session that cannot be saved during an outage answered 503, not 400.
    "nextwork.common.dberrors.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Ends idle sessions, then holds staff and coordinators at the two-factor step.
    "nextwork.network.security.middleware.IdleSessionMiddleware",
    "nextwork.network.security.middleware.TwoFactorMiddleware",
    # After authentication: a member's writes are counted as theirs, wherever they come from.
    "nextwork.common.security.WriteRateLimitMiddleware",
    "nextwork.common.security.ApiSessionCsrfMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nextwork.urls"
WSGI_APPLICATION = "nextwork.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict:
    url = env.get("DATABASE_URL")
    if url:
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": HOME / "nextwork.sqlite3",
        "OPTIONS": {
            # WAL lets readers go on while the importer or a worker writes.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
            ),
            "transaction_mode": "IMMEDIATE",
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
# French first; English from the catalog under locale/ (every UI string is marked).
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HOME / "static"
# Uploaded files (briefing kits): under NEXTWORK_HOME, served through views that check access,
# never as a public folder.
MEDIA_ROOT = HOME / "media"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def _caches() -> dict:
    """One process: its own memory. Several (NEXTWORK_REDIS_URL): Redis, shared by all, so a
    rate limit or a lockout counts the hits every web process receives (docs/deployment.md)."""
    url = env.get("NEXTWORK_REDIS_URL")
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise env.ConfigurationError(
            "NEXTWORK_REDIS_URL must start with redis://, rediss:// or unix://."
        )
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "nw",
            "TIMEOUT": 300,
            # A Redis that does not answer fails the request in seconds, never hangs it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }


CACHES = _caches()


def _trusted_proxies() -> list[str]:
    from nextwork.common.proxies import trusted_networks

    values = env.get_list("NEXTWORK_TRUSTED_PROXIES")
    try:
        trusted_networks(values)
    except ValueError as exc:
        raise env.ConfigurationError(str(exc)) from None
    return values


# The reverse proxies whose X-Forwarded-For is believed (common/proxies.py).
NEXTWORK_TRUSTED_PROXIES = _trusted_proxies()

NEXTWORK_GEOCODER_URL = env.get("NEXTWORK_GEOCODER_URL")
NEXTWORK_GEOCODER_TIMEOUT = float(env.get("NEXTWORK_GEOCODER_TIMEOUT") or 3)
NEXTWORK_TERRITORY_SOURCE = env.get("NEXTWORK_TERRITORY_SOURCE")

# Logs (common/logs.py): plain lines or JSON lines, with the request id, redacted.
NEXTWORK_LOG_FORMAT = env.get("NEXTWORK_LOG_FORMAT") or "plain"


def _logging(log_format: str) -> dict:
    from nextwork.common.logs import FORMATTERS, logging_config

    if log_format not in FORMATTERS:
        raise env.ConfigurationError(
            f"NEXTWORK_LOG_FORMAT must be plain or json, not {log_format!r}."
        )
    return logging_config(log_format=log_format, level=env.get("LOG_LEVEL"))


LOGGING = _logging(NEXTWORK_LOG_FORMAT)

NEXTWORK_ORGANISATION = env.get("NEXTWORK_ORGANISATION")
NEXTWORK_SITE_URL = (env.get("NEXTWORK_SITE_URL") or "").rstrip("/")
NEXTWORK_SIGNUP_RATE = int(env.get("NEXTWORK_SIGNUP_RATE") or 10)
# Web hardening (common/security.py, docs/security.md): writes per minute, and the
# Content Security Policy (django-csp): scripts only from the site itself, no plugins, no framing.
NEXTWORK_WRITES_PER_MINUTE = env.get_limits("NEXTWORK_WRITES_PER_MINUTE")
NEXTWORK_WEBHOOK_WRITES_PER_MINUTE = int(env.get("NEXTWORK_WEBHOOK_WRITES_PER_MINUTE") or 600)
NEXTWORK_MAX_REQUEST_MB = int(env.get("NEXTWORK_MAX_REQUEST_MB") or 20)
_CSP = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline style attributes and <style> in charts' SVG and printable documents (see
        # docs/security.md): styles cannot run code.
        "style-src": ["'self'", "'unsafe-inline'"],
        # data: for small images built into a page; https: for the images of an email preview.
        "img-src": ["'self'", "data:", "https:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Stripe's checkout is reached by a redirect after the donation form is posted.
        "form-action": [
            "'self'",
            "https://checkout.stripe.com",
            *env.get_list("NEXTWORK_CSP_FORM_ACTION"),
        ],
    }
}
if env.get_bool("NEXTWORK_CSP_REPORT_ONLY"):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Request bodies: forms and JSON up to 2.5 MB in memory; uploads are capped per endpoint.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
DATA_UPLOAD_MAX_NUMBER_FILES = 20
NEXTWORK_SMS_PROVIDER = env.get("NEXTWORK_SMS_PROVIDER")
NEXTWORK_SMS_FILE = env.get("NEXTWORK_SMS_FILE") or str(HOME / "sms-outbox.jsonl")
# The erasure ledger's durable copy (privacy/ledger.py): a restore erases again who it names.
NEXTWORK_ERASURE_LEDGER = env.get("NEXTWORK_ERASURE_LEDGER") or str(HOME / "erasure-ledger.jsonl")
NEXTWORK_SMS_PRICE_PER_SEGMENT = env.get("NEXTWORK_SMS_PRICE_PER_SEGMENT")
NEXTWORK_SMS_TIMEOUT = float(env.get("NEXTWORK_SMS_TIMEOUT") or 10)
TWILIO_ACCOUNT_SID = env.get("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env.get("TWILIO_AUTH_TOKEN")
TWILIO_FROM = env.get("TWILIO_FROM")
TWILIO_MESSAGING_SERVICE_SID = env.get("TWILIO_MESSAGING_SERVICE_SID")
TWILIO_API_URL = (env.get("TWILIO_API_URL") or "").rstrip("/")

# Authentication (network/security, docs/security.md): lockout, two-factor codes, idle sessions.
NEXTWORK_LOGIN_MAX_FAILURES = int(env.get("NEXTWORK_LOGIN_MAX_FAILURES") or 5)
NEXTWORK_LOGIN_LOCKOUT_MINUTES = int(env.get("NEXTWORK_LOGIN_LOCKOUT_MINUTES") or 15)
NEXTWORK_REQUIRE_2FA = env.get_bool("NEXTWORK_REQUIRE_2FA")
NEXTWORK_SESSION_IDLE_MINUTES = int(env.get("NEXTWORK_SESSION_IDLE_MINUTES") or 120)
# django-otp: the issuer shown in authenticator apps; failed codes slow down exponentially.
OTP_TOTP_ISSUER = env.get("NEXTWORK_ORGANISATION")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# Sending messages (messaging/delivery.py): pacing, claims and retries.
NEXTWORK_EMAIL_RATE = float(env.get("NEXTWORK_EMAIL_RATE") or 0)
NEXTWORK_SMS_RATE = float(env.get("NEXTWORK_SMS_RATE") or 10)
NEXTWORK_SMS_STOP_TEXT = env.get("NEXTWORK_SMS_STOP_TEXT")
NEXTWORK_SEND_BATCH = int(env.get("NEXTWORK_SEND_BATCH") or 200)
NEXTWORK_SEND_SWEEP = float(env.get("NEXTWORK_SEND_SWEEP") or 60)
NEXTWORK_SEND_LEASE = float(env.get("NEXTWORK_SEND_LEASE") or 120)
NEXTWORK_SEND_RETRY_BASE = float(env.get("NEXTWORK_SEND_RETRY_BASE") or 30)
NEXTWORK_SEND_RETRY_MAX = float(env.get("NEXTWORK_SEND_RETRY_MAX") or 3600)
NEXTWORK_SEND_MAX_ATTEMPTS = int(env.get("NEXTWORK_SEND_MAX_ATTEMPTS") or 8)
# Participation: the proposal edit window and the rate limits of contributions.
NEXTWORK_PROPOSAL_EDIT_MINUTES = int(env.get("NEXTWORK_PROPOSAL_EDIT_MINUTES") or 30)
NEXTWORK_PROPOSALS_PER_HOUR = int(env.get("NEXTWORK_PROPOSALS_PER_HOUR") or 5)
NEXTWORK_COMMENTS_PER_HOUR = int(env.get("NEXTWORK_COMMENTS_PER_HOUR") or 30)
NEXTWORK_REPORTS_PER_HOUR = int(env.get("NEXTWORK_REPORTS_PER_HOUR") or 20)
# Fundraising: the legal caps (fundraising/rules.py), in whole euros.
NEXTWORK_PARTY_CAP_EUROS = int(env.get("NEXTWORK_PARTY_CAP_EUROS") or 7500)
NEXTWORK_CAMPAIGN_CAP_EUROS = int(env.get("NEXTWORK_CAMPAIGN_CAP_EUROS") or 4600)
NEXTWORK_CASH_MAX_EUROS = int(env.get("NEXTWORK_CASH_MAX_EUROS") or 150)
# Payments (fundraising/providers): which providers, and Stripe's keys.
NEXTWORK_PAYMENT_PROVIDERS = env.get_list("NEXTWORK_PAYMENT_PROVIDERS")
NEXTWORK_TEST_PAYMENTS = env.get_bool("NEXTWORK_TEST_PAYMENTS")
NEXTWORK_DONATIONS_PER_HOUR = int(env.get("NEXTWORK_DONATIONS_PER_HOUR") or 20)
NEXTWORK_STRIPE_SECRET_KEY = env.get("NEXTWORK_STRIPE_SECRET_KEY")
NEXTWORK_STRIPE_WEBHOOK_SECRET = env.get("NEXTWORK_STRIPE_WEBHOOK_SECRET")
NEXTWORK_STRIPE_API_BASE = (env.get("NEXTWORK_STRIPE_API_BASE") or "").rstrip("/")
NEXTWORK_STRIPE_WEBHOOK_TOLERANCE = int(env.get("NEXTWORK_STRIPE_WEBHOOK_TOLERANCE") or 300)
NEXTWORK_STRIPE_TIMEOUT = float(env.get("NEXTWORK_STRIPE_TIMEOUT") or 10)
# Mobilisation: proxies are arranged here until this many days before a round.
NEXTWORK_PROXY_DEADLINE_DAYS = int(env.get("NEXTWORK_PROXY_DEADLINE_DAYS") or 2)
NEXTWORK_REGISTRATION_REMINDER_DAYS = int(env.get("NEXTWORK_REGISTRATION_REMINDER_DAYS") or 30)
NEXTWORK_POLLING_REMINDERS = env.get("NEXTWORK_POLLING_REMINDERS") or "eve,morning"
# Publishing (monitoring/publishers): the key of the credentials kept encrypted; unset: SECRET_KEY.
NEXTWORK_SECRETS_KEY = env.get("NEXTWORK_SECRETS_KEY")
# A hand-over must end well within a sender's lease, or another sender could take it over.
EMAIL_TIMEOUT = max(5.0, min(30.0, NEXTWORK_SEND_LEASE / 4))
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL")


def _email() -> dict:
    from urllib.parse import unquote, urlsplit

    url = env.get("EMAIL_URL")
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme.startswith("anymail+"):
        return _anymail_email(parts)
    if parts.scheme not in ("smtp", "smtp+tls", "smtps"):
        raise env.ConfigurationError(f"EMAIL_URL: unknown scheme {parts.scheme!r}.")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtps",
    }


def _anymail_email(parts) -> dict:
    """anymail+ESP://API_KEY[:SECRET_KEY]@host/path?option=value: django-anymail's backend for
    the ESP; the host and path become its API URL, each query option its ``ESP_OPTION``."""
    import importlib.util
    import re
    from urllib.parse import parse_qsl, unquote

    esp = parts.scheme.removeprefix("anymail+")
    known = re.fullmatch(r"[a-z_]+", esp) and not esp.startswith("base")
    if not known or not importlib.util.find_spec(f"anymail.backends.{esp}"):
        raise env.ConfigurationError(
            f"EMAIL_URL: django-anymail has no {esp!r} backend (mailgun, postmark, sendgrid, "
            "brevo, mailjet, …)."
        )
    prefix = esp.upper()
    options = {f"{prefix}_{key.upper()}": value for key, value in parse_qsl(parts.query)}
    if parts.username:
        options[f"{prefix}_API_KEY"] = unquote(parts.username)
    if parts.password:
        options[f"{prefix}_SECRET_KEY"] = unquote(parts.password)
    if parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        options[f"{prefix}_API_URL"] = f"https://{parts.hostname}{port}{parts.path}"
    return {"EMAIL_BACKEND": f"anymail.backends.{esp}.EmailBackend", "ANYMAIL": options}


_EMAIL = _email()
# django-anymail: the provider's options from EMAIL_URL, and what its webhooks must prove.
ANYMAIL = _EMAIL.pop("ANYMAIL", {})
if env.get("ANYMAIL_WEBHOOK_SECRET"):
    ANYMAIL["WEBHOOK_SECRET"] = env.get_list("ANYMAIL_WEBHOOK_SECRET")
if env.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
    ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = env.get("MAILGUN_WEBHOOK_SIGNING_KEY")
globals().update(_EMAIL)

# Retention policies (privacy/retention.py, docs/processing-register.md): days, 0 disables.
NEXTWORK_RETENTION_UNCONFIRMED_DAYS = env.get_days("NEXTWORK_RETENTION_UNCONFIRMED_DAYS")
NEXTWORK_RETENTION_INACTIVE_DAYS = env.get_days("NEXTWORK_RETENTION_INACTIVE_DAYS")
NEXTWORK_RETENTION_POSTS_DAYS = env.get_days("NEXTWORK_RETENTION_POSTS_DAYS")
NEXTWORK_RETENTION_AUDIT_DAYS = env.get_days("NEXTWORK_RETENTION_AUDIT_DAYS")
NEXTWORK_RETENTION_DELIVERIES_DAYS = env.get_days("NEXTWORK_RETENTION_DELIVERIES_DAYS")
NEXTWORK_RETENTION_LOGS_DAYS = env.get_days("NEXTWORK_RETENTION_LOGS_DAYS")
