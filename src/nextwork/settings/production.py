"""Production settings: refuse to start without the secrets and host names."""

from nextwork.settings import env
from nextwork.settings.base import *  # noqa: F403
from nextwork.settings.base import _logging

if not env.get("SECRET_KEY"):
    raise env.ConfigurationError(
        "SECRET_KEY must be set in production (see docs/configuration.md)."
    )
if not env.get_list("ALLOWED_HOSTS"):
    raise env.ConfigurationError(
        "ALLOWED_HOSTS must list the host names of the site in production "
        "(see docs/configuration.md)."
    )
if env.get_bool("DEBUG"):
    raise env.ConfigurationError("DEBUG must not be enabled in production.")

SECRET_KEY = env.get("SECRET_KEY")
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS")
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# JSON lines for the log collector unless NEXTWORK_LOG_FORMAT says otherwise.
NEXTWORK_LOG_FORMAT = env.get("NEXTWORK_LOG_FORMAT") or "json"
LOGGING = _logging(NEXTWORK_LOG_FORMAT)
