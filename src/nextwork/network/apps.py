from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NetworkConfig(AppConfig):
    name = "nextwork.network"
    label = "network"
    verbose_name = _("Réseau")

    def ready(self) -> None:
        from nextwork.network.reassign import on_activation
        from nextwork.network.selectors import seat_coverage
        from nextwork.territories.selectors import SEAT_DETAIL_EXTENSIONS
        from nextwork.territories.signals import boundary_set_activated

        if seat_coverage not in SEAT_DETAIL_EXTENSIONS:
            SEAT_DETAIL_EXTENSIONS.append(seat_coverage)
        boundary_set_activated.connect(on_activation, dispatch_uid="network.reassign")
        from nextwork.network import tasks  # noqa: F401  (registers the daily snapshot)
