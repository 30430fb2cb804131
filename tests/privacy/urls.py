"""The site's urls with the audit viewer, until ``nextwork.urls`` includes it."""

from django.urls import include, path

from nextwork.urls import handler404
from nextwork.urls import urlpatterns as site

urlpatterns = [*site, path("", include("nextwork.privacy.urls"))]
__all__ = ["handler404", "urlpatterns"]
