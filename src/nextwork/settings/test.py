"""Settings for the test suite: same database engines as production, fast hashing."""

from nextwork.settings.base import *  # noqa: F403
from nextwork.settings.base import DATABASES, STATIC_ROOT

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Pages are tested without collectstatic; whitenoise serves the finders in tests.
WHITENOISE_USE_FINDERS = True
NEXTWORK_GEOCODER_URL = None

# Threads serving browser tests close their connection after each request, so the test
# database can be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = 0

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so the live server thread of browser tests sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATABASES["default"]["NAME"]) + ".test"}
NEXTWORK_LOOKUP_REFRESH_SECONDS = 0

# Whitenoise serves the finders in tests, but wants its root folder to exist.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# The test payment provider (its checkout is a page of the site): browser tests pay with it.
NEXTWORK_TEST_PAYMENTS = True

# The writes-per-minute ceilings would trip property-based tests that post hundreds of examples
# in one test, and the webhook test that sends one event a thousand times; the tests of the
# ceilings (tests/test_write_limits.py) set their own.
NEXTWORK_WRITES_PER_MINUTE = (100_000, 100_000)
NEXTWORK_WEBHOOK_WRITES_PER_MINUTE = 100_000
