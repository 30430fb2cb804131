from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "nextwork.events"
    label = "events"
    verbose_name = _("Événements")

    def ready(self) -> None:
        from nextwork.events.reassign import on_activation
        from nextwork.territories.signals import boundary_set_activated

        boundary_set_activated.connect(on_activation, dispatch_uid="events.reassign")
