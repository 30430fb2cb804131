from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NetworkConfig(AppConfig):
    name = "nextwork.network"
    label = "network"
    verbose_name = _("Réseau")

    def ready(self) -> None:
        from nextwork.network.selectors import seat_coverage
        from nextwork.territories.selectors import SEAT_DETAIL_EXTENSIONS

        if seat_coverage not in SEAT_DETAIL_EXTENSIONS:
            SEAT_DETAIL_EXTENSIONS.append(seat_coverage)
