from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "nextwork.messaging"
    label = "messaging"
    verbose_name = _("Messagerie")

    def ready(self):
        from anymail.signals import tracking

        import nextwork.messaging.registration  # noqa: F401  (sign-up consents)
        from nextwork.messaging import tasks, webhooks  # noqa: F401  (tasks: weekly digest)

        tracking.connect(webhooks.on_tracking, dispatch_uid="nextwork.messaging.webhooks")
