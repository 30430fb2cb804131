from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "nextwork.campaigns"
    label = "campaigns"
    verbose_name = _("Journées d'action")

    def ready(self) -> None:
        from nextwork.campaigns import tasks  # noqa: F401  (registers the daily reminders)
