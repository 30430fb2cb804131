from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipationConfig(AppConfig):
    name = "nextwork.participation"
    label = "participation"
    verbose_name = _("Participation")

    def ready(self) -> None:
        from nextwork.network.demo import demo_seeded
        from nextwork.participation.demo import seed

        demo_seeded.connect(seed, dispatch_uid="participation.demo")
