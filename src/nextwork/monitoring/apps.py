from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "nextwork.monitoring"
    label = "monitoring"
    verbose_name = _("Veille")

    def ready(self) -> None:
        from nextwork.monitoring import tasks  # noqa: F401  (registers the minute tick)
        from nextwork.monitoring.demo import seed
        from nextwork.network.demo import demo_seeded

        demo_seeded.connect(seed, dispatch_uid="monitoring.demo")
