from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MobilisationConfig(AppConfig):
    name = "nextwork.mobilisation"
    label = "mobilisation"
    verbose_name = _("Mobilisation électorale")

    def ready(self) -> None:
        from nextwork.mobilisation import tasks  # noqa: F401  (registers the daily reminders)
        from nextwork.mobilisation.demo import seed
        from nextwork.network.demo import demo_seeded

        demo_seeded.connect(seed, dispatch_uid="mobilisation.demo")
        from django.db.models.signals import pre_delete

        from nextwork.mobilisation.services import member_deleted
        from nextwork.network.models import Member

        pre_delete.connect(member_deleted, sender=Member, dispatch_uid="mobilisation.matches")
