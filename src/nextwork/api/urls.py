"""The HTTP API: one NinjaAPI, domain errors mapped to HTTP in one place."""

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
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


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError):
    body = {"error": {"code": "unauthenticated", "message": "Log in first.", "field": None}}
    return api.create_response(request, body, status=401)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(part) for part in first.get("loc", []) if part not in ("query", "path", "body")]
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
api.add_router("", "nextwork.campaigns.apis.router")
