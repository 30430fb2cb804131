from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipationConfig(AppConfig):
    name = "nextwork.participation"
    label = "participation"
    verbose_name = _("Participation")

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from nextwork.network.demo import demo_seeded
        from nextwork.network.models import Member
        from nextwork.participation.demo import seed
        from nextwork.participation.signals import member_deleted

        demo_seeded.connect(seed, dispatch_uid="participation.demo")
        pre_delete.connect(member_deleted, sender=Member, dispatch_uid="participation.counters")
