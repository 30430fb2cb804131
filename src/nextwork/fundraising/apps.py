from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FundraisingConfig(AppConfig):
    name = "nextwork.fundraising"
    label = "fundraising"
    verbose_name = _("Dons")
