from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "nextwork.privacy"
    label = "privacy"
    verbose_name = _("Vie privée")

    def ready(self) -> None:
        from nextwork.common import backup
        from nextwork.privacy import (
            ledger,
            tasks,  # noqa: F401  (registers the minute seal)
        )

        if ledger.reapply not in backup.AFTER_RESTORE:
            backup.AFTER_RESTORE.append(ledger.reapply)
