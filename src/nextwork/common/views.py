from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers; also the framework floor the benchmarks compare against."""
    return JsonResponse({"status": "ok", "database": connection.vendor})


def not_found(request: HttpRequest, exception: Exception | None = None):
    """JSON for API clients, the site's page for people."""
    if request.path.startswith("/api/"):
        body = {
            "error": {
                "code": "not_found",
                "message": f"No endpoint at {request.path}.",
                "field": None,
            }
        }
        return JsonResponse(body, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
