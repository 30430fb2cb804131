from django.contrib import admin
from django.urls import include, path

from nextwork.api.urls import api
from nextwork.common.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # Email providers' webhooks (django-anymail): /webhooks/email/<esp>/tracking/
    path("webhooks/email/", include("anymail.urls")),
    path("", include("nextwork.network.urls")),
    path("", include("nextwork.campaigns.urls")),
    path("", include("nextwork.events.urls")),
    path("", include("nextwork.participation.urls")),
    path("", include("nextwork.messaging.urls")),
    path("", include("nextwork.territories.urls")),
    path("", include("nextwork.participation.programme_urls")),
    path("", include("nextwork.fundraising.test_checkout")),
    path("", include("nextwork.fundraising.urls")),
    path("", include("nextwork.mobilisation.urls")),
    path("", include("nextwork.mobilisation.reminder_urls")),
    path("", include("nextwork.monitoring.urls")),
    path("", include("nextwork.privacy.urls")),
]
handler404 = "nextwork.common.views.not_found"
