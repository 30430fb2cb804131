"""The HTTP API: one NinjaAPI, domain errors mapped to HTTP in one place."""

from django.db.utils import DataError
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from nextwork import __version__
from nextwork.common.errors import DomainError

api = NinjaAPI(
    title="nextwork API",
    version=__version__,
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(DataError)
def data_error(request: HttpRequest, exc: DataError):
    # What the checks let through but the database refuses (PostgreSQL refuses NUL characters
    # in text): the write was rolled back; the caller gets a 400 rather than a 500.
    body = {
        "error": {
            "code": "invalid",
            "message": "The request holds a value the database refuses (a NUL character in a "
            "text, or a number out of range).",
            "field": None,
        }
    }
    return api.create_response(request, body, status=400)


@api.exception_handler(OverflowError)
def overflow_error(request: HttpRequest, exc: OverflowError):
    # An id or a number beyond what the database stores (SQLite: 64-bit integers): nothing
    # can match it, and nothing was written.
    body = {
        "error": {
            "code": "invalid",
            "message": "A number in the request is out of range.",
            "field": None,
        }
    }
    return api.create_response(request, body, status=400)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError):
    body = {"error": {"code": "unauthenticated", "message": "Log in first.", "field": None}}
    return api.create_response(request, body, status=401)


# Django Ninja's own refusals, such as a session call without its CSRF token, in our format.
HTTP_ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "invalid"}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    message = str(exc.message)
    if "CSRF" in message:
        message = (
            "CSRF check failed: with a session login, send the csrftoken cookie's value "
            "in the X-CSRFToken header."
        )
    body = {
        "error": {
            "code": HTTP_ERROR_CODES.get(exc.status_code, "invalid"),
            "message": message,
            "field": None,
        }
    }
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    # The location starts with where the value was (query, path, body); the rest names it, and
    # a field may itself be called "body".
    loc = [str(part) for part in first.get("loc", [])]
    if loc and loc[0] in ("query", "path", "body"):
        loc = loc[1:]
    field = loc[-1] if loc else None
    message = first.get("msg", "Invalid input.")
    return api.create_response(
        request,
        {
            "error": {
                "code": "invalid",
                "message": f"{field}: {message}" if field else message,
                "field": field,
            }
        },
        status=400,
    )


api.add_router("", "nextwork.territories.apis.router")
api.add_router("", "nextwork.network.apis.router")
api.add_router("", "nextwork.network.security.apis.router")
api.add_router("", "nextwork.campaigns.apis.router")
api.add_router("", "nextwork.events.apis.router")
api.add_router("", "nextwork.messaging.apis.router")
api.add_router("", "nextwork.messaging.community_apis.router")
api.add_router("", "nextwork.participation.apis.router")
api.add_router("", "nextwork.participation.programme_apis.router")
api.add_router("", "nextwork.fundraising.analytics_apis.router")
api.add_router("", "nextwork.fundraising.apis.router")
api.add_router("", "nextwork.mobilisation.apis.router")
api.add_router("", "nextwork.monitoring.apis.router")
api.add_router("", "nextwork.monitoring.presence_apis.router")
api.add_router("", "nextwork.monitoring.publishing_apis.router")
api.add_router("", "nextwork.privacy.apis.router")
