from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers; also the framework floor the benchmarks compare against."""
    return JsonResponse({"status": "ok", "database": connection.vendor})
